package commands

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
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
			// The atomic writer: never through a symlink, owner and mode
			// of a unit being replaced kept.
			if err := atomicfile.WriteFile(filepath.Join(out, f.Name), []byte(f.Text), 0o644); err != nil {
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
	for _, p := range []struct{ what, v string }{{"--bin", bin}, {"--spec", spec}, {"--state", state}, {"--metrics-dir", metricsDir}} {
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

// scheduleFuncs quote a value for each target: cron runs the command with
// /bin/sh after turning an unescaped % into a newline; systemd splits
// ExecStart= itself, with its own quotes, C escapes, % specifiers and $
// variables.
var scheduleFuncs = template.FuncMap{"cron": cronArg, "systemd": systemdArg, "systemdExe": systemdExe, "systemdText": systemdText}

// schedulable refuses what neither target can carry on one line.
func schedulable(v string) error {
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("contains the control character %U, which a crontab or unit line cannot carry", r)
		}
	}
	return nil
}

// plainArg is what needs no quoting for either target.
func plainArg(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./:@+=,-", r)) {
			return false
		}
	}
	return true
}

// cronArg quotes v for a crontab command: single quotes for /bin/sh (a
// quote inside ends the quoting, is escaped and starts it again) and every
// % as \% (cron removes the backslash before a % and
// passes the rest to the shell). A backslash right before a % would make
// cron read "\\%" as an escaped backslash and an unescaped %: there the
// quote is closed and reopened first, so the backslash never touches it.
// (cronie do_command.c, the escaped/% loop.)
func cronArg(v string) string {
	if plainArg(v) {
		return v
	}
	q := "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '%' {
			if i > 0 && q[i-1] == '\\' {
				b.WriteString("''")
			}
			b.WriteString(`\%`)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// systemdArg quotes v for ExecStart=: double quotes, with \ and " escaped
// (systemd unquotes with C escapes), % doubled (specifiers) and $ doubled
// (variable expansion). See systemd.service(5), "Command lines".
func systemdArg(v string) string {
	if plainArg(v) {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "$", "$$")
	return `"` + r.Replace(v) + `"`
}

// systemdExe quotes the executable of ExecStart=: systemd resolves %
// specifiers in it but expands no $ variable, and refuses an executable
// path with a quote or a backslash ("Executable name contains special
// characters"), which is then an error here rather than a unit that does
// not load.
func systemdExe(v string) (string, error) {
	if strings.ContainsAny(v, `"'\`) {
		return "", fmt.Errorf("--bin %q: systemd refuses an executable path with a quote or a backslash", v)
	}
	if plainArg(v) {
		return v, nil
	}
	return `"` + strings.ReplaceAll(v, "%", "%%") + `"`, nil
}

// systemdText escapes % in a unit's free text (Description=), where
// specifiers are resolved too.
func systemdText(v string) string { return strings.ReplaceAll(v, "%", "%%") }
