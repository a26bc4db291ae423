package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/clock"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
)

func newHealCommand(env *Env) *cli.Command {
	var every, forDur time.Duration
	return passCommand("heal", "probe replicas; replace unhealthy, exited, dead or OOM-killed ones start-first, with backoff",
		"One pass probes every running replica concurrently (about one timeout in all)\n"+
			"and keeps consecutive failures in the state file, so failure_threshold counts heal\n"+
			"passes, whatever runs them. A replica past its threshold, or whose container exited,\n"+
			"died or was OOM-killed, is replaced start-first: the new one must pass its probe\n"+
			"before it enters the balancer; the old one is drained and stopped afterwards.\n"+
			"Repeated replacements back off exponentially; past crashloop_attempts in\n"+
			"crashloop_window the app is reported crash-looping (exit 3). Apps that\n"+
			"restart_with a replaced app are restarted too. Every action goes to the event log\n"+
			"(`baton events`). --for/--every repeat the pass inside one invocation, taking the\n"+
			"lock for each pass only.",
		[]cli.Flag{
			&cli.DurationFlag{Name: "for", Usage: "keep running passes for this long (e.g. 55s under a 1-minute cron)", Destination: &forDur},
			&cli.DurationFlag{Name: "every", Value: 5 * time.Second, Usage: "with --for: the interval between passes", Destination: &every},
		},
		func(c *cli.Context) error {
			pass := func() error { return run(c.Context, env, healPass()) }
			if forDur < 0 {
				return withCode(ExitError, fmt.Errorf("--for must not be negative, got %s", forDur), "--for 55s under a 1-minute cron; without --for, one pass")
			}
			if forDur == 0 {
				return pass()
			}
			if every <= 0 {
				return fmt.Errorf("--every must be more than 0")
			}
			return repeat(c.Context, env.clock(), forDur, every, pass)
		})
}

// healPass probes (in observeFleet) and inspects the stopped replicas
// that have no running one; plan.HealPass decides.
func healPass() passDef[healSeen] {
	return passDef[healSeen]{
		name: "heal",
		observe: func(ctx context.Context, x *pass) (healSeen, error) {
			x.probeAll = true
			var seen healSeen
			if err := x.observeFleet(ctx); err != nil {
				return seen, err
			}
			seen.exits = x.inspectStopped(ctx, plan.ToInspect(x.spec, x.want, x.fleet.containers))
			var err error
			seen.sync, seen.syncOK, err = x.balancerStep(x.members)
			return seen, err
		},
		decide: func(x *pass, seen healSeen, now time.Time) plan.Plan {
			exits := seen.exits
			in := plan.HealInput{Spec: x.spec, Want: x.want, Containers: x.fleet.containers, Probes: map[string]error{},
				Exits: exits, Counters: x.state.Probes, Attempts: plan.SlotsOf(x.state, x.spec), Paused: plan.PausesOf(x.state), Counts: x.fleet.counts()}
			for id := range x.fleet.ready {
				in.Probes[id] = nil
			}
			for id, err := range x.fleet.probeErr {
				in.Probes[id] = err
			}
			p := plan.HealPass(in, now)
			p.Steps = append(x.fleetSteps(false), p.Steps...)
			x.healTasks(&p, now) // swarm_heal.go: swarm apps' tasks
			if seen.syncOK && !plan.Acts(p.Steps) {
				p.Steps = append(p.Steps, seen.sync) // a replica left or came back
			}
			return p
		},
		exec: []executor{execRollout, execReplaceTask, execSync},
		view: actionsView(),
	}
}

// healSeen is what a heal pass observed besides the fleet: the stopped
// replicas' exits and, for a pass with nothing else to do, the balancer
// change the membership calls for.
type healSeen struct {
	exits  map[string]fleet.Exit
	sync   plan.Step
	syncOK bool
}

// repeat runs pass every interval until d has passed, and returns the most
// severe result: an error (1) over a partial pass (3) over a held lock (75).
func repeat(ctx context.Context, clk clock.Clock, d, every time.Duration, pass func() error) error {
	deadline := clk.Now().Add(d)
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
		start := clk.Now()
		// Of equal rank the latest wins, but a quiet one (incidents an
		// earlier pass reported) never hides one that has news.
		if err := pass(); rank(err) > rank(worst) || (err != nil && rank(err) == rank(worst) && (!quiet(err) || quiet(worst))) {
			worst = err
		}
		next := start.Add(every)
		if !next.Before(deadline) || ctx.Err() != nil {
			return worst
		}
		if err := clk.Sleep(ctx, next.Sub(clk.Now())); err != nil {
			return worst
		}
	}
}
