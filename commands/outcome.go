package commands

// outcome.go collects what a pass did (actions, failures, per-app replica
// counts, events) and, after the pass has released the lock, writes the
// Prometheus textfile metrics and fires the spec's hooks. Neither can fail
// the pass: problems are warnings.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/hook"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// passOutcome is filled by a pass as it runs.
type passOutcome struct {
	command string
	spec    *spec.Spec
	actions int
	failed  int
	apps    []appStatus
	events  []state.Event
	// down are the Swarm nodes found down ("node X is down: skipped").
	down []string
}

// passAction wraps a pass: it times it, then writes metrics and fires hooks.
func passAction(env *Env, command string, run func(ctx context.Context, o *passOutcome) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		return runPassWithOutcome(c.Context, env, command, run)
	}
}

func runPassWithOutcome(ctx context.Context, env *Env, command string, run func(ctx context.Context, o *passOutcome) error) error {
	start := time.Now()
	o := &passOutcome{command: command}
	err := run(ctx, o)
	if err == nil && len(o.down) > 0 {
		// The pass did what it could; a node it could not reach makes the
		// result partial.
		err = withCode(ExitPartial, fmt.Errorf("swarm: %s; the rest of the pass was done", strings.Join(o.down, "; ")))
	}
	if env.MetricsDir != "" {
		if werr := o.writeMetrics(env.MetricsDir, start, time.Since(start), Code(err)); werr != nil {
			env.warnf("metrics: %v", werr)
		}
	}
	if o.spec != nil && len(o.spec.Hooks) > 0 && len(o.events) > 0 && !env.DryRun {
		for _, herr := range hook.Fire(ctx, o.spec.Hooks, o.events) {
			env.warnf("hook: %v", herr)
		}
	}
	return err
}

// metricsFile is where a command's metrics go: baton_scale.prom,
// baton_lb_render.prom (one file per command, so passes never overwrite
// each other's series).
func metricsFile(dir, command string) string {
	return filepath.Join(dir, "baton_"+strings.ReplaceAll(command, " ", "_")+".prom")
}

func (o *passOutcome) writeMetrics(dir string, start time.Time, took time.Duration, code int) error {
	path := metricsFile(dir, o.command)
	lastSuccess := previousValue(path, "baton_last_success_timestamp_seconds")
	if code == ExitOK {
		lastSuccess = float64(start.Add(took).UnixMilli()) / 1000
	}
	var b bytes.Buffer
	cmd := fmt.Sprintf(`command=%q`, o.command)
	gauge := func(name, help string, rows ...string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, r := range rows {
			fmt.Fprintf(&b, "%s%s\n", name, r)
		}
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	gauge("baton_pass_duration_seconds", "Wall time of the last pass.", fmt.Sprintf("{%s} %s", cmd, num(took.Seconds())))
	gauge("baton_pass_actions", "Actions the last pass took.", fmt.Sprintf("{%s} %d", cmd, o.actions))
	gauge("baton_pass_failed_actions", "Actions of the last pass that failed.", fmt.Sprintf("{%s} %d", cmd, o.failed))
	gauge("baton_pass_exit_code", "Exit code of the last pass (0 ok, 1 error, 3 partly done, 75 lock held).", fmt.Sprintf("{%s} %d", cmd, code))
	gauge("baton_last_run_timestamp_seconds", "When the last pass ended, as a Unix time.", fmt.Sprintf("{%s} %s", cmd, num(float64(start.Add(took).UnixMilli())/1000)))
	if lastSuccess > 0 {
		gauge("baton_last_success_timestamp_seconds", "When the last pass that exited 0 ended, as a Unix time; alert when it grows old.", fmt.Sprintf("{%s} %s", cmd, num(lastSuccess)))
	}
	if len(o.apps) > 0 {
		apps := append([]appStatus(nil), o.apps...)
		sort.Slice(apps, func(i, j int) bool { return apps[i].App < apps[j].App })
		var want, running, ready []string
		for _, a := range apps {
			l := fmt.Sprintf(`{%s,app=%q}`, cmd, a.App)
			want = append(want, fmt.Sprintf("%s %d", l, a.Want))
			running = append(running, fmt.Sprintf("%s %d", l, a.Running))
			ready = append(ready, fmt.Sprintf("%s %d", l, a.Ready))
		}
		gauge("baton_app_replicas_wanted", "Replicas the spec wants, as seen by the last pass.", want...)
		gauge("baton_app_replicas_running", "Running replicas seen by the last pass.", running...)
		gauge("baton_app_replicas_ready", "Replicas that passed their health check in the last pass.", ready...)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return state.WriteFile(path, b.Bytes(), 0o644)
}

// previousValue reads one unlabelled-by-app sample from the previous
// metrics file, so a failing pass keeps the last success time.
func previousValue(path, name string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") {
			fields := strings.Fields(line)
			v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
			if err == nil {
				return v
			}
		}
	}
	return 0
}
