package commands

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/templates"
)

// scheduled is one pass to run on a schedule.
type scheduled struct {
	Command    string // subcommand path, e.g. "lb render"
	Args       string // the arguments after the global flags
	Cron       string // crontab time fields
	OnCalendar string // systemd calendar spec
	Every      string // words for the timer's description
	Delay      string // RandomizedDelaySec
	TimeoutSec string // TimeoutStartSec
	interval   time.Duration
}

// passCategory marks the subcommands that are reconciliation passes (in
// help and for TestScheduleCoversEveryPass).
const passCategory = "passes"

// defaultMetricsDir is node_exporter's textfile directory, where the
// rendered schedule writes its metrics unless --metrics-dir says.
const defaultMetricsDir = "/var/lib/node_exporter/textfile_collector"

// scheduleFor derives the passes a spec needs, with intervals from the
// spec: only what it configures runs (no labels sync or rebalance without
// a swarm section that asks for them, no lb render without a balancer, no
// mods refresh without mods). TestScheduleCoversEveryPass keeps it in
// step with the app's passes.
func scheduleFor(s *spec.Spec) []scheduled {
	var out []scheduled
	add := func(cmd, args string, every time.Duration, why string, d time.Duration, timeout string) {
		e := cronEvery(every)
		if maxD := e.interval / 4; d > maxD {
			d = maxD
		}
		out = append(out, scheduled{Command: cmd, Args: args, Cron: e.cron, OnCalendar: e.calendar,
			Every: e.words + why, Delay: durationSec(d), TimeoutSec: timeout, interval: e.interval})
	}
	docker := false
	for _, a := range s.Apps {
		docker = docker || !a.OnSwarm()
	}
	if len(s.Apps) > 0 {
		add("scale", "scale", time.Minute, "", 5*time.Second, "10min")
	}
	if docker {
		add("heal", "heal --for 55s --every 5s", time.Minute, ", probing every 5s", 0, "5min")
	}
	if s.Nginx != nil {
		add("lb render", "lb render", 5*time.Minute, " (a safety net: scale and heal render too)", 30*time.Second, "5min")
	}
	if docker {
		every := time.Hour
		if g := s.GC.Grace.D; g < every { // grace 0s too: every 5 minutes
			every = max(g, 5*time.Minute)
		}
		add("gc", "gc", every, "", 5*time.Minute, "30min")
	}
	if sw := s.Swarm; sw != nil {
		labels := len(sw.Anchors) > 0 || sw.PruneUnknownLabels
		for _, n := range sw.Nodes {
			labels = labels || len(n.Labels) > 0 || n.Role != "" || n.Availability != ""
		}
		if labels {
			add("labels sync", "labels sync", time.Minute, " (on a Swarm manager)", 10*time.Second, "5min")
		}
		if sw.HasNodeEndpoints() {
			add("swarm join", "swarm join", 5*time.Minute, " (on a Swarm manager: joins the spec's nodes that are in no swarm)", 30*time.Second, "10min")
		}
		if r := sw.Rebalance; r != nil {
			every := 5 * time.Minute
			if c := r.Cooldown.D; c > 0 && c < every {
				every = max(c, time.Minute)
			}
			add("rebalance", "rebalance", every, " (on a Swarm manager; the cooldowns bound how often anything moves)", 30*time.Second, "10min")
		}
	}
	if m := s.Mods; m != nil && len(m.Files) > 0 {
		every := time.Hour
		for _, f := range m.Files {
			if f.Interval.D > 0 && f.Interval.D < every {
				every = max(f.Interval.D, time.Minute)
			}
		}
		add("mods refresh", "mods refresh", every, " (each entry is fetched only when its interval is due)", time.Minute, "1h")
	}
	return out
}

// cadence is an interval cron and systemd can both say.
type cadence struct {
	interval       time.Duration
	cron, calendar string
	words          string
}

// cronEvery is the longest cadence cron can express that is not longer
// than d (at least a minute, at most a day). Hourly and longer cadences
// run at minute 17, off the top of the hour everyone else uses.
func cronEvery(d time.Duration) cadence {
	mins := []int{1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440}
	m := mins[0]
	for _, c := range mins {
		if time.Duration(c)*time.Minute <= d {
			m = c
		}
	}
	c := cadence{interval: time.Duration(m) * time.Minute}
	switch {
	case m == 1:
		c.cron, c.calendar, c.words = "* * * * *", "minutely", "every minute"
	case m < 60:
		c.cron, c.calendar, c.words = fmt.Sprintf("*/%d * * * *", m), fmt.Sprintf("*:0/%d", m), fmt.Sprintf("every %d minutes", m)
	case m == 60:
		c.cron, c.calendar, c.words = "17 * * * *", "*-*-* *:17:00", "every hour"
	case m < 1440:
		h := m / 60
		c.cron, c.calendar, c.words = fmt.Sprintf("17 */%d * * *", h), fmt.Sprintf("*-*-* 0/%d:17:00", h), fmt.Sprintf("every %d hours", h)
	default:
		c.cron, c.calendar, c.words = "17 3 * * *", "*-*-* 03:17:00", "every day"
	}
	return c
}

// durationSec writes d as systemd reads it: 0, 5s, 2min.
func durationSec(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d%time.Minute == 0:
		return fmt.Sprintf("%dmin", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// scheduleData is what the scheduling templates render.
type scheduleData struct {
	scheduled
	Usage              string
	Bin                string
	Spec               string
	State              string
	MetricsDir         string
	LockTimeout        string
	RandomizedDelaySec string
}

func newScheduleCommand(env *Env) *cli.Command {
	var bin, out, specPath string
	render := func(c *cli.Context, kind string) error {
		s, err := loadSpec(env)
		if err != nil {
			return err
		}
		if specPath == "" {
			specPath = env.SpecPath
		}
		files, err := ScheduleFiles(c.App, kind, s, bin, specPath, env.StatePath, env.MetricsDir)
		if err != nil {
			return err
		}
		if out != "" {
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("schedule: %w", err)
			}
			for _, f := range files {
				// The atomic writer: never through a symlink, owner and
				// mode of a unit being replaced kept.
				if err := atomicfile.WriteFile(filepath.Join(out, f.Name), []byte(f.Text), 0o644); err != nil {
					return fmt.Errorf("write %s: %w", f.Name, err)
				}
			}
		}
		if env.Output == "json" {
			rows := make([]object, 0, len(files))
			for _, f := range files {
				rows = append(rows, object{{"name", f.Name}, {"text", f.Text}})
			}
			return writeJSON(env.Stdout, object{{"kind", kind}, {"dir", out}, {"files", rows}})
		}
		if out != "" {
			return nil
		}
		for _, f := range files {
			if len(files) > 1 {
				fmt.Fprintf(env.Stdout, "### %s\n", f.Name)
			}
			fmt.Fprint(env.Stdout, f.Text)
		}
		return nil
	}
	flags := []cli.Flag{
		&cli.StringFlag{Name: "bin", Value: "/usr/local/bin/baton", Usage: "the baton binary's `PATH` in the rendered files", Destination: &bin},
		&cli.StringFlag{Name: "out", Usage: "write the files into `DIR` (created when missing) instead of printing them", Destination: &out},
		&cli.StringFlag{Name: "spec-path", Usage: "the spec's `PATH` in the rendered files (default: --spec, made absolute); for rendering elsewhere than where it runs", Destination: &specPath},
	}
	return &cli.Command{
		Name:  "schedule",
		Usage: "render a crontab or systemd units that run the passes the spec needs",
		Description: "Reads the spec and schedules only the passes it configures, at intervals from it:\n" +
			"scale (apps), heal (local apps), lb render (nginx), gc (local apps; at most its grace),\n" +
			"labels sync (swarm node labels or anchors), swarm join (swarm.nodes with a docker\n" +
			"endpoint), rebalance (swarm.rebalance; at most its\n" +
			"cooldown), mods refresh (mods files; at most the shortest interval). Uses the global\n" +
			"--state and --metrics-dir (default " + defaultMetricsDir + ")\n" +
			"in the rendered commands.",
		Subcommands: []*cli.Command{
			{Name: "crontab", Usage: "render an /etc/cron.d file", Flags: flags, Action: func(c *cli.Context) error { return render(c, "crontab") }},
			{Name: "systemd", Usage: "render a oneshot service and a timer per pass", Flags: flags, Action: func(c *cli.Context) error { return render(c, "systemd") }},
		},
	}
}

// ScheduleFile is one rendered scheduling file.
type ScheduleFile struct {
	Name string
	Text string
}

// ScheduleFiles renders the crontab ("crontab") or the systemd units
// ("systemd") that run the passes s needs.
func ScheduleFiles(app *cli.App, kind string, s *spec.Spec, bin, specPath, state, metricsDir string) ([]ScheduleFile, error) {
	if metricsDir == "" {
		metricsDir = defaultMetricsDir
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	var data []scheduleData
	for _, p := range scheduleFor(s) {
		cmd := findCommand(app, p.Command)
		if cmd == nil {
			return nil, fmt.Errorf("schedule: no command %q", p.Command)
		}
		data = append(data, scheduleData{scheduled: p, Usage: cmd.Usage, Bin: bin, Spec: abs(specPath), State: abs(state),
			MetricsDir: metricsDir, LockTimeout: "50s", RandomizedDelaySec: p.Delay})
	}
	for _, p := range []struct{ what, v string }{{"--bin", bin}, {"--spec", specPath}, {"--state", state}, {"--metrics-dir", metricsDir}} {
		if err := schedulable(p.v); err != nil {
			return nil, fmt.Errorf("schedule: %s %q: %w", p.what, p.v, err)
		}
	}
	parse := func(name string) (*template.Template, error) {
		text, err := templates.Builtin(name)
		if err != nil {
			return nil, err
		}
		return template.New(name).Option("missingkey=error").Funcs(scheduleFuncs).Parse(text)
	}
	exec := func(t *template.Template, v any) (string, error) {
		var b bytes.Buffer
		if err := t.Execute(&b, v); err != nil {
			return "", fmt.Errorf("render %s: %w", t.Name(), err)
		}
		return b.String(), nil
	}
	switch kind {
	case "crontab":
		t, err := parse("crontab.tmpl")
		if err != nil {
			return nil, err
		}
		text, err := exec(t, data)
		if err != nil {
			return nil, err
		}
		return []ScheduleFile{{Name: "baton", Text: text + "\n"}}, nil
	case "systemd":
		svc, err := parse("systemd.service.tmpl")
		if err != nil {
			return nil, err
		}
		tmr, err := parse("systemd.timer.tmpl")
		if err != nil {
			return nil, err
		}
		var out []ScheduleFile
		for _, d := range data {
			unit := "baton-" + strings.ReplaceAll(d.Command, " ", "-")
			s, err := exec(svc, d)
			if err != nil {
				return nil, err
			}
			t, err := exec(tmr, d)
			if err != nil {
				return nil, err
			}
			out = append(out, ScheduleFile{unit + ".service", s}, ScheduleFile{unit + ".timer", t})
		}
		return out, nil
	}
	return nil, fmt.Errorf("schedule: unknown kind %q", kind)
}

// findCommand resolves a command path like "lb render".
func findCommand(app *cli.App, path string) *cli.Command {
	cs := app.Commands
	var found *cli.Command
	for _, name := range strings.Fields(path) {
		found = nil
		for _, c := range cs {
			if c.Name == name {
				found = c
				break
			}
		}
		if found == nil {
			return nil
		}
		cs = found.Subcommands
	}
	return found
}

// This part enforces that a path in a rendered crontab or unit reaches
// baton as the one argument it was (issue 14: paths were written unquoted,
// so a space split them and cron turned a % into a newline).
