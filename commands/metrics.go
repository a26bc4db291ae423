package commands

// metrics.go writes a pass's Prometheus textfile metrics (the runner calls
// it after the pass released the lock; a problem is a warning, never a
// failure of the pass): gauges of the last pass and counters that survive
// passes. The counters of what passes did (actions, probe failures,
// findings, balancer reloads) are kept in the state, counted under the
// lock before it is saved; baton_passes_total also counts the passes that
// could not take the lock or load the state, so it lives in the textfile
// itself. Every series is there from the first pass on (zero until it
// happens), as Prometheus' conventions ask: no gaps, _total suffixes.

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
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

// The counters kept in the state.
const (
	counterActions  = "baton_actions_total"
	counterProbes   = "baton_probe_failures_total"
	counterFindings = "baton_findings_total"
	counterReloads  = "baton_balancer_syncs_total"
)

// counterHelp documents each counter.
var counterHelp = map[string]string{
	counterActions:  "Actions passes took, by app, kind and result (ok or failed).",
	counterProbes:   "Readiness probes that failed, by app.",
	counterFindings: "Findings passes reported about an app (hold, crashloop, unhealthy, ...), by type.",
	counterReloads:  "Balancer syncs (rewrite or reload) passes applied, by result (ok or failed).",
}

// passMetrics is what one pass's metrics say.
type passMetrics struct {
	command         string
	start           time.Time
	took            time.Duration
	code            int
	actions, failed int
	apps            []plan.AppStatus
	// counters are the state's counters; kinds the kinds of action the
	// command's executors apply (their series start at zero).
	counters map[string]map[string]uint64
	kinds    []plan.Kind
}

// metricsFile is where a command's metrics go: baton_scale.prom,
// baton_lb_render.prom (one file per command, so passes never overwrite
// each other's series).
func metricsFile(dir, command string) string {
	return filepath.Join(dir, "baton_"+strings.ReplaceAll(command, " ", "_")+".prom")
}

// countPass adds what the pass did to the state's counters (the runner
// calls it before saving the state).
func (x *pass) countPass(outs []plan.Outcome) {
	cmd := fmt.Sprintf("command=%q", x.name)
	for _, o := range outs {
		s := o.Step
		switch {
		case o.Quiet:
		case s.Kind == plan.Sync:
			if r, ok := o.Data.(*lbResult); o.Err != nil || (ok && r.acted()) {
				x.state.Count(counterReloads, cmd+fmt.Sprintf(",result=%q", result(o.Err)), 1)
			}
		case s.Kind == plan.Report:
			if s.App != "" {
				x.state.Count(counterFindings, cmd+fmt.Sprintf(",app=%q,type=%q", s.App, s.EventType()), 1)
			}
		default:
			x.state.Count(counterActions, cmd+fmt.Sprintf(",app=%q,kind=%q,result=%q", s.App, kindLabel(s), result(o.Err)), 1)
		}
	}
	for id := range x.fleet.probeErr {
		app := ""
		for _, c := range x.fleet.containers {
			if c.ID == id {
				app = c.App
			}
		}
		for _, c := range x.fleet.taskReplicas {
			if c.ID == id {
				app = c.App
			}
		}
		if app != "" {
			x.state.Count(counterProbes, cmd+fmt.Sprintf(",app=%q", app), 1)
		}
	}
}

// kindLabel is an action's kind as a label value: its event type
// (start, replace, scale-service, node-labels, ...).
func kindLabel(s plan.Step) string {
	if a, ok := s.Do.(plan.ServiceAction); ok {
		return strings.ReplaceAll(string(a.Kind), " ", "-")
	}
	return strings.ReplaceAll(string(s.Kind), " ", "-")
}

func result(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// kindsOf are the kinds of action the executors apply.
func kindsOf(execs []executor) []plan.Kind {
	var out []plan.Kind
	for _, e := range execs {
		for _, k := range e.kinds {
			if k != plan.Sync && k != plan.Report {
				out = append(out, k)
			}
		}
	}
	return out
}

func (o *passMetrics) write(dir string) error {
	path := metricsFile(dir, o.command)
	start, took, code := o.start, o.took, o.code
	lastSuccess, _ := metricValue(path, "baton_last_success_timestamp_seconds")
	if code == ExitOK {
		lastSuccess = float64(start.Add(took).UnixMilli()) / 1000
	}
	var b bytes.Buffer
	cmd := fmt.Sprintf(`command=%q`, o.command)
	family := func(name, typ, help string, rows ...string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, r := range rows {
			fmt.Fprintf(&b, "%s%s\n", name, r)
		}
	}
	gauge := func(name, help string, rows ...string) { family(name, "gauge", help, rows...) }
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	gauge("baton_pass_duration_seconds", "Wall time of the last pass.", fmt.Sprintf("{%s} %s", cmd, num(took.Seconds())))
	gauge("baton_pass_actions", "Actions the last pass took.", fmt.Sprintf("{%s} %d", cmd, o.actions))
	gauge("baton_pass_failed_actions", "Actions of the last pass that failed.", fmt.Sprintf("{%s} %d", cmd, o.failed))
	gauge("baton_pass_exit_code", "Exit code of the last pass (0 ok, 1 error, 3 partly done, 75 lock held).", fmt.Sprintf("{%s} %d", cmd, code))
	gauge("baton_last_run_timestamp_seconds", "When the last pass ended, as a Unix time.", fmt.Sprintf("{%s} %s", cmd, num(float64(start.Add(took).UnixMilli())/1000)))
	gauge("baton_last_success_timestamp_seconds", "When the last pass that exited 0 ended, as a Unix time (0: none yet); alert when it grows old.", fmt.Sprintf("{%s} %s", cmd, num(lastSuccess)))

	// baton_passes_total: every pass, by exit code, from the previous file.
	passes := map[string]float64{}
	for _, c := range []int{ExitOK, ExitError, ExitPartial, ExitLocked} {
		l := fmt.Sprintf("%s,exit_code=\"%d\"", cmd, c)
		passes[l], _ = metricValue(path, "baton_passes_total{"+l+"}")
	}
	passes[fmt.Sprintf("%s,exit_code=\"%d\"", cmd, code)]++
	family("baton_passes_total", "counter", "Passes run, by exit code (including those that could not take the lock).", sortedRows(passes)...)

	apps := append([]plan.AppStatus(nil), o.apps...)
	sort.Slice(apps, func(i, j int) bool { return apps[i].App < apps[j].App })
	for _, name := range []string{counterActions, counterProbes, counterFindings, counterReloads} {
		rows := map[string]float64{}
		for l, v := range o.counters[name] {
			if strings.HasPrefix(l, cmd+",") || l == cmd {
				rows[l] = float64(v)
			}
		}
		// Zero series for what may happen, so a rate() never starts on a gap.
		for _, a := range apps {
			switch name {
			case counterActions:
				for _, k := range o.kinds {
					for _, r := range []string{"ok", "failed"} {
						zero(rows, cmd+fmt.Sprintf(",app=%q,kind=%q,result=%q", a.App, strings.ReplaceAll(string(k), " ", "-"), r))
					}
				}
			case counterProbes:
				zero(rows, cmd+fmt.Sprintf(",app=%q", a.App))
			}
		}
		if name == counterReloads {
			for _, r := range []string{"ok", "failed"} {
				zero(rows, cmd+fmt.Sprintf(",result=%q", r))
			}
		}
		if len(rows) > 0 {
			family(name, "counter", counterHelp[name], sortedRows(rows)...)
		}
	}
	if len(apps) > 0 {
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

func zero(rows map[string]float64, l string) {
	if _, ok := rows[l]; !ok {
		rows[l] = 0
	}
}

// sortedRows writes label sets and values as sample lines, sorted.
func sortedRows(rows map[string]float64) []string {
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fmt.Sprintf("{%s} %s", k, strconv.FormatFloat(rows[k], 'g', -1, 64)))
	}
	return out
}

// metricValue reads one sample from a metrics file: the first series of
// name (a bare name matches any labels; "name{labels}" exactly that
// series). ok is false when the file or the series is missing.
func metricValue(path, series string) (float64, bool) {
	// Read as the writer will replace it: a regular file, no symlink, no
	// blocking on a FIFO, bounded.
	b, err := atomicfile.Read(path, 1<<20)
	if err != nil {
		return 0, false
	}
	prefix := series + "{"
	if strings.HasSuffix(series, "}") {
		prefix = series + " "
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			fields := strings.Fields(line)
			v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
			if err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
				return v, true
			}
		}
	}
	return 0, false
}
