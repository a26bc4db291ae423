package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/balancer"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
)

func newScaleCommand(env *Env) *cli.Command {
	var explain, retry bool
	var metricsPath string
	return passCommand("scale", "converge every app to its replica count and current spec (start-first, drain before stop)",
		"One pass: start missing replicas, roll outdated ones one at a time (the new one must\n"+
			"answer its readiness check before it enters the balancer), scale in by draining first,\n"+
			"and leave the balancer config consistent with what runs. Exited containers are left\n"+
			"for gc; their replica is started anew. Apps with an autoscale policy first get their\n"+
			"count from the autoscaler (see --explain).",
		[]cli.Flag{
			&cli.BoolFlag{Name: "explain", Usage: "show, per autoscaled app, each metric's value, target, ratio and recommendation, and the reason for the count; a dry run (like kubectl explain, it changes nothing)", Destination: &explain},
			&cli.StringFlag{Name: "metrics", Usage: "read the autoscaler's metrics from a JSON `FILE` instead of observing them (what-if runs, tests)", Destination: &metricsPath},
			&cli.BoolFlag{Name: "retry", Usage: "forget every replica slot's backoff and every paused rollout, and try again now", Destination: &retry},
		},
		func(c *cli.Context) error {
			return run(c.Context, env, scalePass(explain, metricsPath, retry))
		})
}

// scaleSeen is what a scale pass observed besides the fleet.
type scaleSeen struct {
	autoscale autoscaleSeen
	// sync is the balancer change for the current members, used when the
	// pass has nothing else to do (then the diff it prints is exact).
	sync   plan.Step
	syncOK bool
	// networks are the project's networks (listed only when the spec or a
	// container involves one: plan.NeedsNetworks).
	networks []fleet.Network
	// exits are the inspected stopped replicas of slots that back off.
	exits map[string]fleet.Exit
	// config is the balancer config on disk, for the preview a dry run
	// with actions prints.
	config []byte
	// swarmFiles are the project's Swarm secrets and configs (specs with
	// swarm apps).
	swarmFiles []fleet.SwarmFile
}

// scalePass: autoscale, then converge containers and swarm services to
// the counts and the spec; the rollout syncs the balancer at each step.
func scalePass(explain bool, metricsPath string, retry bool) passDef[scaleSeen] {
	v := actionsView()
	if explain {
		v.preface = func(env *Env, r *report) {
			if si, ok := r.info.(scaleInfo); ok && env.Output == "table" {
				printExplain(env, si.decisions)
			}
		}
	}
	v.after = printPreview
	return passDef[scaleSeen]{
		name:        "scale",
		explainOnly: explain,
		observe: func(ctx context.Context, x *pass) (scaleSeen, error) {
			var seen scaleSeen
			if err := x.observeFleet(ctx); err != nil {
				return seen, err
			}
			var err error
			if seen.autoscale, err = x.observeAutoscale(ctx, metricsPath); err != nil {
				return seen, err
			}
			if x.spec.HasSwarmApps() {
				if seen.swarmFiles, err = x.engine.SwarmFiles(ctx, x.spec.Project); err != nil {
					return seen, fmt.Errorf("observe swarm: %w", err)
				}
			}
			seen.exits = x.inspectStopped(ctx, plan.ToInspect(x.spec, x.want, x.fleet.containers)) // broken slots only: a start after a crash is an attempt
			seen.sync, seen.syncOK, err = x.balancerStep(x.members)
			if err == nil && x.spec.Nginx != nil {
				seen.config, _, err = balancer.Current(x.spec.Resolve(x.spec.Nginx.Config))
			}
			if err == nil && (plan.NeedsNetworks(x.spec, x.fleet.containers) || x.state.HasIncident("network-in-use")) {
				if seen.networks, err = x.engine.Networks(ctx, x.spec.Project); err != nil {
					err = fmt.Errorf("observe docker: %w", err)
				}
			}
			return seen, err
		},
		decide: func(x *pass, seen scaleSeen, now time.Time) plan.Plan {
			decisions, counts, remember := plan.AutoscaleApps(seen.autoscale.inputs, now)
			p := plan.ScalePass(plan.ScaleInput{Spec: x.spec, Want: plan.Desired(x.spec, x.state, counts),
				Containers: x.fleet.containers, Ready: x.fleet.ready, Attempts: plan.SlotsOf(x.state, x.spec), Paused: plan.PausesOf(x.state),
				Retry: retry, Exits: seen.exits, Services: x.fleet.services, Counts: x.fleet.counts()}, now)
			p.Steps = append(x.fleetSteps(true), p.Steps...)
			if seen.syncOK && !plan.Acts(p.Steps) {
				p.Steps = append(p.Steps, seen.sync)
			}
			p.Steps = append(p.Steps, plan.NetworkSteps(x.spec, seen.networks)...)
			p.Steps = append(p.Steps, plan.PruneSwarmFiles(x.spec, seen.swarmFiles)...)
			info := scaleInfo{decisions: decisions}
			if plan.Acts(p.Steps) {
				info.preview = x.preview(p.Steps, seen.config)
			}
			p.Info = info
			p.Commit = plan.Commits(x.rememberProbes, p.Commit, remember, seen.autoscale.remember)
			return p
		},
		exec: []executor{execRollout, execServices, execSwarmFiles, execNetworks, execSync},
		view: v,
	}
}
