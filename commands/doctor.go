package commands

// doctor.go is `baton doctor`: it checks this machine against the spec,
// one row per check with a hint when it is not ok, and exits 1 when a
// check fails. It changes nothing (the state lock is tried, not held).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/docker"
	"github.com/baton-orchestrator/baton/internal/proc"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// check is one row of doctor's report.
type check struct {
	Check  string `json:"check"`
	Result string `json:"result"` // ok, warn, fail or skip
	Detail string `json:"detail"`
	Hint   string `json:"hint,omitempty"`
}

func newDoctorCommand(env *Env) *cli.Command {
	var cron, units string
	return &cli.Command{
		Name:  "doctor",
		Usage: "check this machine against the spec: Docker, the balancer's test, the state, the schedule, the clock",
		Description: "One row per check, each with a hint when it is not ok:\n" +
			"  spec       the spec loads and validates\n" +
			"  docker     which daemon (and why: --docker-host, DOCKER_HOST, a context), its version and API\n" +
			"  neighbours the host's ARP table holds every replica (a local engine)\n" +
			"  balancer   the spec's test command runs and exits 0\n" +
			"  state      the state directory is writable and the lock can be taken (tried, not held)\n" +
			"  schedule   a crontab (--cron) or systemd timers (--systemd) run this spec\n" +
			"  last run   each scheduled pass's last exit code and time, from the textfile metrics\n" +
			"  clock      the clock agrees with the daemon's and with the event log\n" +
			"Exits 1 when a check fails; warnings do not fail. Changes nothing.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cron", Value: "/etc/cron.d/baton", Usage: "the crontab `FILE` `baton schedule crontab` was installed as", Destination: &cron},
			&cli.StringFlag{Name: "systemd", Value: "/etc/systemd/system", Usage: "the `DIR` `baton schedule systemd --out` wrote the units into", Destination: &units},
		},
		Action: func(c *cli.Context) error { return runDoctor(c.Context, env, c.App, cron, units) },
	}
}

func runDoctor(ctx context.Context, env *Env, app *cli.App, cron, units string) error {
	var checks []check
	add := func(c check) { checks = append(checks, c) }

	s, specErr := loadSpec(env)
	if specErr != nil {
		add(check{"spec", "fail", firstLine(specErr.Error()), hintOr(env, specErr, "`baton validate` lists every problem")})
	} else {
		add(check{"spec", "ok", fmt.Sprintf("%s: %d apps, project %q", env.SpecPath, len(s.Apps), s.Project), ""})
	}
	eng, daemonNow := doctorDocker(ctx, env, add)
	if eng != nil {
		defer eng.Close()
		add(doctorNeighbours(s, eng.Host()))
	}
	add(doctorBalancer(ctx, s))
	add(doctorState(ctx, env))
	passes := doctorSchedule(env, s, app, cron, units, add)
	doctorLastRuns(env, passes, add)
	add(doctorClock(env, daemonNow))

	failed := []string{}
	for _, c := range checks {
		if c.Result == "fail" {
			failed = append(failed, c.Check)
		}
	}
	var err error
	if len(failed) > 0 {
		err = withCode(ExitError, fmt.Errorf("doctor: %d of %d checks failed: %s", len(failed), len(checks), strings.Join(failed, ", ")))
	}
	if env.Output == "json" {
		obj := object{{"checks", checks}}
		if err != nil {
			obj = append(obj, errorFields(env, err)...)
		}
		if werr := writeJSON(env.Stdout, obj); werr != nil && err == nil {
			return werr
		}
		return err
	}
	if !env.Quiet || err != nil {
		rows := make([][]string, 0, len(checks))
		for _, c := range checks {
			rows = append(rows, []string{c.Check, c.Result, c.Detail, orDash(c.Hint)})
		}
		fitTable(env, env.Stdout, []string{"CHECK", "RESULT", "DETAIL", "HINT"}, rows)
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstHint(env *Env, err error) string {
	if h := hintsFor(env, err); len(h) > 0 {
		return h[0]
	}
	return ""
}

// dockerHint is the docker row's hint when the error has none of its own.
const dockerHint = "is dockerd running? `docker info` checks; --docker-host, DOCKER_HOST or --context pick another daemon"

func hintOr(env *Env, err error, def string) string {
	if h := firstHint(env, err); h != "" {
		return h
	}
	return def
}

// doctorDocker connects and asks the daemon what it is; it returns the
// engine (nil when it could not) and the daemon's clock.
func doctorDocker(ctx context.Context, env *Env, add func(check)) (Engine, time.Time) {
	from := ""
	if env.Connect == nil {
		ep, err := docker.Resolve(docker.Options{Host: env.DockerHost, Context: env.DockerContext, Getenv: env.getenv})
		if err != nil {
			add(check{"docker", "fail", err.Error(), "`docker context ls` lists the contexts; --docker-host or --context picks one"})
			return nil, time.Time{}
		}
		from = " (from " + ep.From + ")"
		if ep.Context != "" {
			from = fmt.Sprintf(" (context %q, from %s)", ep.Context, ep.From)
		}
	}
	eng, err := env.connect(env.DockerHost)
	if err != nil {
		add(check{"docker", "fail", err.Error(), hintOr(env, err, dockerHint)})
		return nil, time.Time{}
	}
	d, err := eng.Info(ctx)
	if err != nil {
		add(check{"docker", "fail", err.Error(), hintOr(env, err, dockerHint)})
		return eng, time.Time{}
	}
	detail := fmt.Sprintf("%s%s: Docker %s (API %s) on %s", eng.Host(), from, d.ServerVersion, d.APIVersion, d.Name)
	if d.Swarm == "active" {
		detail += ", a swarm node"
	}
	add(check{"docker", "ok", detail, ""})
	return eng, d.SystemTime
}

// doctorBalancer runs the spec's test command.
func doctorBalancer(ctx context.Context, s *spec.Spec) check {
	switch {
	case s == nil:
		return check{"balancer", "skip", "the spec did not load", ""}
	case s.Nginx == nil:
		return check{"balancer", "skip", "the spec has no nginx section", ""}
	}
	argv := s.Nginx.Test
	out, err := proc.Combined(ctx, argv, proc.Options{Dir: s.Dir, Timeout: 30 * time.Second})
	cmd := strings.Join(argv, " ")
	if err != nil {
		detail := fmt.Sprintf("%s: %v", cmd, err)
		if l := firstLine(strings.TrimSpace(string(out))); l != "" {
			detail += ": " + l
		}
		return check{"balancer", "fail", detail, fmt.Sprintf("the balancer's own test fails; fix its configuration (baton's include is %s) or nginx.test", s.Resolve(s.Nginx.Config))}
	}
	return check{"balancer", "ok", cmd + " exits 0", ""}
}

// doctorState checks the state directory and tries the lock.
func doctorState(ctx context.Context, env *Env) check {
	path := env.StatePath
	dir := filepath.Dir(path)
	hint := "give a state file in a directory you can write: --state FILE or BATON_STATE=FILE"
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return check{"state", "fail", fmt.Sprintf("cannot create %s: %v", dir, err), hint}
		}
	}
	f, err := os.CreateTemp(dir, ".baton-doctor-")
	if err != nil {
		return check{"state", "fail", fmt.Sprintf("%s is not writable: %v", dir, err), hint}
	}
	f.Close()
	os.Remove(f.Name())
	if _, err := state.Read(path); err != nil {
		return check{"state", "fail", err.Error(), "move the file away to start afresh (baton rebuilds what Docker knows)"}
	}
	lock, err := state.Open(ctx, path, 0)
	var le *state.LockedError
	switch {
	case errors.As(err, &le):
		return check{"state", "ok", fmt.Sprintf("%s: writable; %s (a pass is running)", dir, le.Error()), ""}
	case err != nil:
		return check{"state", "fail", err.Error(), hint}
	}
	lock.Close()
	return check{"state", "ok", fmt.Sprintf("%s: writable, %s lockable", dir, filepath.Base(path)+".lock"), ""}
}

// doctorSchedule finds the installed schedule and returns the passes it
// runs for this spec.
func doctorSchedule(env *Env, s *spec.Spec, app *cli.App, cron, units string, add func(check)) []scheduled {
	abs, _ := filepath.Abs(env.SpecPath)
	hint := "install one: baton schedule crontab > " + cron + ", or baton schedule systemd --out " + units
	var found []string
	var text strings.Builder
	if b, err := os.ReadFile(cron); err == nil {
		found = append(found, cron)
		text.Write(b)
	}
	timers, _ := filepath.Glob(filepath.Join(units, "baton-*.service"))
	for _, u := range timers {
		if b, err := os.ReadFile(u); err == nil {
			text.Write(b)
		}
	}
	if len(timers) > 0 {
		found = append(found, fmt.Sprintf("%d units in %s", len(timers), units))
	}
	if len(found) == 0 {
		add(check{"schedule", "fail", fmt.Sprintf("no %s and no baton-*.service in %s", cron, units), hint})
		return nil
	}
	if !strings.Contains(text.String(), "--spec "+abs+" ") {
		add(check{"schedule", "warn", fmt.Sprintf("%s: runs no pass of %s", strings.Join(found, ", "), abs), hint})
		return nil
	}
	var passes []scheduled
	if s != nil {
		for _, p := range scheduleFor(s) {
			if strings.Contains(text.String(), " "+p.Args+"\n") {
				passes = append(passes, p)
			}
		}
	}
	add(check{"schedule", "ok", fmt.Sprintf("%s: %d passes of this spec", strings.Join(found, ", "), len(passes)), ""})
	return passes
}

// doctorLastRuns reads each scheduled pass's metrics: a row per pass.
func doctorLastRuns(env *Env, passes []scheduled, add func(check)) {
	dir := env.MetricsDir
	if dir == "" {
		dir = defaultMetricsDir
	}
	now := env.clock().Now()
	for _, p := range passes {
		name := "last run: " + p.Command
		path := metricsFile(dir, p.Command)
		code, okCode := metricValue(path, "baton_pass_exit_code")
		at, okAt := metricValue(path, "baton_last_run_timestamp_seconds")
		switch {
		case !okCode || !okAt:
			add(check{name, "warn", "no metrics in " + path + " yet", "the schedule writes them with --metrics-dir; wait for its first run"})
			continue
		}
		when := time.UnixMilli(int64(at * 1000))
		ago := now.Sub(when).Round(time.Second)
		detail := fmt.Sprintf("exit %d, %s ago", int(code), ago)
		switch {
		case code != ExitOK && code != ExitLocked:
			add(check{name, "fail", detail, fmt.Sprintf("see `baton events --since %s` and the pass's own output (cron mail, journalctl -u baton-%s)", ago+time.Minute, strings.ReplaceAll(p.Command, " ", "-"))})
		case ago > 3*p.interval+time.Minute:
			add(check{name, "fail", detail + fmt.Sprintf(", expected every %s", p.interval), "the schedule is not running: is cron (or the timer) active?"})
		default:
			add(check{name, "ok", detail, ""})
		}
	}
}

// doctorClock compares the clock with the daemon's and the event log.
func doctorClock(env *Env, daemon time.Time) check {
	now := env.clock().Now()
	if now.Year() < 2024 {
		return check{"clock", "fail", "the clock says " + now.Format(time.RFC3339), "set the clock (timedatectl, chrony): cooldowns and backoff read it"}
	}
	detail := now.UTC().Format(time.RFC3339)
	if !daemon.IsZero() {
		skew := now.Sub(daemon)
		if skew < 0 {
			skew = -skew
		}
		if skew > time.Minute {
			return check{"clock", "fail", fmt.Sprintf("%s, the daemon's %s (%s apart)", detail, daemon.Format(time.RFC3339), skew.Round(time.Second)), "the machines disagree on the time; run NTP on both"}
		}
		detail += fmt.Sprintf(", within %s of the daemon's", skew.Round(time.Millisecond))
	}
	evs, _, err := state.ReadEventLog(env.StatePath)
	if err == nil && len(evs) > 0 {
		last := evs[len(evs)-1].Time
		if last.After(now.Add(time.Minute)) {
			return check{"clock", "warn", fmt.Sprintf("%s, but the event log's last event is at %s", detail, last.Format(time.RFC3339)), "the clock went back: cooldowns and backoff wait until it catches up"}
		}
	}
	return check{"clock", "ok", detail, ""}
}
