package commands

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/plan"
)

func newLBCommand(env *Env) *cli.Command {
	return groupCommand("lb", "manage the balancer config", passCommand("render",
		"render upstreams of ready replicas, write atomically if changed, test, reload",
		"Renders the balancer config from the template with the ready replicas of every\n"+
			"app (an app with none answers 503). Writes only when the bytes change, runs the\n"+
			"test command and restores the previous file byte for byte when it fails, then\n"+
			"reloads. --dry-run prints the diff.",
		nil, func(c *cli.Context) error { return run(c.Context, env, lbRenderPass()) }))
}

// lbRenderPass: one balancer step for the ready replicas, when the config
// or its reload is behind.
func lbRenderPass() passDef[[]plan.Step] {
	return passDef[[]plan.Step]{
		name: "lb render",
		observe: func(ctx context.Context, x *pass) ([]plan.Step, error) {
			if err := x.observeFleet(ctx); err != nil {
				return nil, err
			}
			s, ok, err := x.balancerStep(x.members)
			if !ok {
				return nil, err
			}
			return []plan.Step{s}, err
		},
		decide: func(x *pass, sync []plan.Step, _ time.Time) plan.Plan {
			return plan.Plan{Steps: append(x.fleetSteps(true), sync...), Commit: x.rememberProbes}
		},
		exec: []executor{execSync},
		view: actionsView(),
	}
}
