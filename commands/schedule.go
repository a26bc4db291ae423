package commands

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/templates"
)

// scheduled is one pass to run on a schedule, with the cadence the
// shipped examples use.
type scheduled struct {
	Command    string // subcommand path, e.g. "lb render"
	Args       string // the arguments after the global flags
	Cron       string // crontab time fields
	OnCalendar string // systemd calendar spec
	Every      string // words for the timer's description
	Delay      string // RandomizedDelaySec
	TimeoutSec string // TimeoutStartSec
}

// passCategory marks the subcommands that are reconciliation passes (in
// help and for TestScheduleCoversEveryPass).
const passCategory = "passes"

// schedule lists every pass subcommand. TestScheduleCoversEveryPass keeps
// it in step with the app.
var schedule = []scheduled{
	{"scale", "scale", "* * * * *", "minutely", "every minute", "5s", "10min"},
	{"heal", "heal --for 55s --every 5s", "* * * * *", "minutely", "every minute, probing every 5s", "0", "5min"},
	{"lb render", "lb render", "*/5 * * * *", "*:0/5", "every 5 minutes (a safety net: scale and heal render too)", "30s", "5min"},
	{"gc", "gc", "17 * * * *", "*-*-* *:17:00", "every hour", "5min", "30min"},
	{"labels sync", "labels sync", "* * * * *", "minutely", "every minute (on a Swarm manager)", "10s", "5min"},
	{"rebalance", "rebalance", "*/5 * * * *", "*:0/5", "every 5 minutes (on a Swarm manager; the cooldowns bound how often anything moves)", "30s", "10min"},
	{"mods refresh", "mods refresh", "*/10 * * * *", "*:0/10", "every 10 minutes (each entry is fetched only when its interval is due)", "1min", "1h"},
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
	var bin, out string
	render := func(c *cli.Context, kind string) error {
		files, err := ScheduleFiles(c.App, kind, bin, env.SpecPath, env.StatePath, env.MetricsDir)
		if err != nil {
			return err
		}
		if out == "" {
			for _, f := range files {
				if len(files) > 1 {
					fmt.Fprintf(env.Stdout, "### %s\n", f.Name)
				}
				fmt.Fprint(env.Stdout, f.Text)
			}
			return nil
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(out, f.Name), []byte(f.Text), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", f.Name, err)
			}
		}
		return nil
	}
	flags := []cli.Flag{
		&cli.StringFlag{Name: "bin", Value: "/usr/local/bin/baton", Usage: "the baton binary's `PATH` in the rendered files", Destination: &bin},
		&cli.StringFlag{Name: "out", Usage: "write the files into `DIR` instead of printing them", Destination: &out},
	}
	return &cli.Command{
		Name:  "schedule",
		Usage: "render a crontab or systemd units that run every pass subcommand",
		Description: "Uses the global --spec, --state and --metrics-dir (default\n" +
			"/var/lib/node_exporter/textfile_collector) in the rendered commands.",
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
// ("systemd") for app's passes.
func ScheduleFiles(app *cli.App, kind, bin, spec, state, metricsDir string) ([]ScheduleFile, error) {
	if metricsDir == "" {
		metricsDir = "/var/lib/node_exporter/textfile_collector"
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	var data []scheduleData
	for _, s := range schedule {
		cmd := findCommand(app, s.Command)
		if cmd == nil {
			return nil, fmt.Errorf("schedule: no command %q", s.Command)
		}
		data = append(data, scheduleData{scheduled: s, Usage: cmd.Usage, Bin: bin, Spec: abs(spec), State: abs(state),
			MetricsDir: metricsDir, LockTimeout: "50s", RandomizedDelaySec: s.Delay})
	}
	parse := func(name string) (*template.Template, error) {
		text, err := templates.Builtin(name)
		if err != nil {
			return nil, err
		}
		return template.New(name).Option("missingkey=error").Parse(text)
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
