package commands

// metrics.go writes a pass's Prometheus textfile metrics (the runner calls
// it after the pass released the lock; a problem is a warning, never a
// failure of the pass).

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/state"
)

// passMetrics is what one pass's metrics say.
type passMetrics struct {
	command         string
	start           time.Time
	took            time.Duration
	code            int
	actions, failed int
	apps            []plan.AppStatus
}

// metricsFile is where a command's metrics go: baton_scale.prom,
// baton_lb_render.prom (one file per command, so passes never overwrite
// each other's series).
func metricsFile(dir, command string) string {
	return filepath.Join(dir, "baton_"+strings.ReplaceAll(command, " ", "_")+".prom")
}

func (o *passMetrics) write(dir string) error {
	path := metricsFile(dir, o.command)
	start, took, code := o.start, o.took, o.code
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
		apps := append([]plan.AppStatus(nil), o.apps...)
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
	// Read as the writer will replace it: a regular file, no symlink, no
	// blocking on a FIFO, bounded.
	b, err := atomicfile.Read(path, 1<<20)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
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
