package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/bounded"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/state"
)

func newHealCommand(env *Env) *cli.Command {
	var every, forDur time.Duration
	return &cli.Command{
		Name:     "heal",
		Category: passCategory,
		Usage:    "probe replicas; replace unhealthy, exited, dead or OOM-killed ones start-first, with backoff",
		Description: "One pass probes every running replica concurrently (about one timeout in all)\n" +
			"and keeps consecutive failures in the state file, so failure_threshold counts heal\n" +
			"passes, whatever runs them. A replica past its threshold, or whose container exited,\n" +
			"died or was OOM-killed, is replaced start-first: the new one must pass its probe\n" +
			"before it enters the balancer; the old one is drained and stopped afterwards.\n" +
			"Repeated replacements back off exponentially; past crashloop_attempts in\n" +
			"crashloop_window the app is reported crash-looping (exit 3). Apps that\n" +
			"restart_with a replaced app are restarted too. Every action goes to the event log\n" +
			"(`baton events`). --for/--every repeat the pass inside one invocation, taking the\n" +
			"lock for each pass only.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "for", Usage: "keep running passes for this long (e.g. 55s under a 1-minute cron)", Destination: &forDur},
			&cli.DurationFlag{Name: "every", Value: 5 * time.Second, Usage: "with --for: the interval between passes", Destination: &every},
		},
		Action: func(c *cli.Context) error {
			pass := func() error {
				return runPassWithOutcome(c.Context, env, "heal", func(ctx context.Context, o *passOutcome) error { return runHeal(ctx, env, o) })
			}
			if forDur <= 0 {
				return pass()
			}
			if every <= 0 {
				return fmt.Errorf("--every must be more than 0")
			}
			return repeat(c.Context, forDur, every, pass)
		},
	}
}

// repeat runs pass every interval until d has passed, and returns the most
// severe result: an error (1) over a partial pass (3) over a held lock (75).
func repeat(ctx context.Context, d, every time.Duration, pass func() error) error {
	deadline := time.Now().Add(d)
	var worst error
	rank := func(err error) int {
		switch Code(err) {
		case ExitError:
			return 3
		case ExitPartial:
			return 2
		case ExitLocked:
			return 1
		}
		return 0
	}
	for {
		start := time.Now()
		if err := pass(); rank(err) > rank(worst) || (err != nil && rank(err) == rank(worst)) {
			worst = err
		}
		next := start.Add(every)
		if !next.Before(deadline) || ctx.Err() != nil {
			return worst
		}
		if err := sleep(ctx, time.Until(next)); err != nil {
			return worst
		}
	}
}

func runHeal(ctx context.Context, env *Env, o *passOutcome) error {
	p, obs, err := openObserved(ctx, env, o)
	if err != nil {
		return err
	}
	defer p.close()
	now := env.now()
	in := plan.HealInput{
		Spec:         p.spec,
		Containers:   obs.containers,
		Probes:       map[string]error{},
		Exits:        p.inspectStopped(ctx, plan.ToInspect(p.spec, obs.containers)),
		Counters:     p.state.Probes,
		Replacements: p.state.Attempts(),
	}
	for id := range obs.ready {
		in.Probes[id] = nil
	}
	for id, e := range obs.probeErr {
		in.Probes[id] = e
	}
	hp := plan.Heal(in, now)

	rep := &passReport{Command: "heal", DryRun: env.DryRun, Actions: []actionRow{}}
	var events []state.Event
	for _, f := range hp.Findings {
		rep.Findings = append(rep.Findings, findingRow{App: f.App, Type: f.Type, Target: f.Container, Reason: f.Reason})
		events = append(events, state.Event{Type: f.Type, App: f.App, Target: f.Container, Reason: f.Reason})
	}
	events = append(events, holdFindings(rep, hp.Holds)...)
	if env.DryRun {
		for _, a := range hp.Actions {
			rep.Actions = append(rep.Actions, rowOf(a))
		}
		if err := printPass(env, rep); err != nil {
			return err
		}
		return holdError(hp.Holds, nil)
	}

	res := p.runner(rep).Run(ctx, hp.Actions, plan.InRotation(p.spec, obs.containers, obs.ready))
	// Remember: probe counters for the containers that exist now, and one
	// attempt per app per pass that replaced something.
	p.state.Probes = hp.Counters
	for _, app := range hp.Replaced {
		p.state.AddAttempt(app, now, p.spec.App(app).Health.CrashloopWindow.D)
	}
	return p.finish(rep, res, events, hp.Holds)
}

// holdFindings adds holds to the report and returns their events.
func holdFindings(rep *passReport, holds []plan.Hold) []state.Event {
	var events []state.Event
	for _, h := range holds {
		typ := "hold"
		if h.Crashloop {
			typ = "crashloop"
		}
		rep.Findings = append(rep.Findings, findingRow{App: h.App, Type: typ, Target: h.App, Reason: h.Reason})
		events = append(events, state.Event{Type: typ, App: h.App, Target: h.App, Reason: h.Reason})
	}
	return events
}

// holdError adds crash-looping apps to a pass's result: exit 3 (the other
// apps were still handled) unless the pass already failed outright.
func holdError(holds []plan.Hold, err error) error {
	var loops []plan.Hold
	for _, h := range holds {
		if h.Crashloop {
			loops = append(loops, h)
		}
	}
	if len(loops) == 0 {
		return err
	}
	if Code(err) == ExitError {
		return err
	}
	var msgs []string
	for _, h := range loops {
		msgs = append(msgs, fmt.Sprintf("app %q is %s", h.App, h.Reason))
	}
	if err != nil {
		msgs = append(msgs, err.Error())
	}
	return withCode(ExitPartial, errors.New(strings.Join(msgs, "\n")),
		"see `baton events --type crashloop` and the container logs (`docker logs`) of the exited replicas")
}

// inspectStopped inspects the given stopped containers concurrently (at
// most 8 at once). A failed inspect is left out: the reason then names the
// state from the list.
func (p *pass) inspectStopped(ctx context.Context, cs []fleet.Container) map[string]fleet.Exit {
	out := map[string]fleet.Exit{}
	var mu sync.Mutex
	bounded.Each(len(cs), 8, func(i int) {
		if x, err := p.engine.Inspect(ctx, cs[i].ID); err == nil {
			mu.Lock()
			out[cs[i].ID] = x
			mu.Unlock()
		}
	})
	return out
}
