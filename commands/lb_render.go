package commands

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/plan"
)

func newLBCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:     "lb",
		Category: passCategory,
		Usage:    "manage the balancer config",
		Subcommands: []*cli.Command{{
			Name:  "render",
			Usage: "render upstreams of ready replicas, write atomically if changed, test, reload",
			Description: "Renders the balancer config from the template with the ready replicas of every\n" +
				"app (an app with none answers 503). Writes only when the bytes change, runs the\n" +
				"test command and restores the previous file byte for byte when it fails, then\n" +
				"reloads. --dry-run prints the diff.",
			Action: passAction(env, "lb render", func(ctx context.Context, o *passOutcome) error { return runLBRender(ctx, env, o) }),
		}},
	}
}

func runLBRender(ctx context.Context, env *Env, o *passOutcome) error {
	p, obs, err := openObserved(ctx, env, o)
	if err != nil {
		return err
	}
	defer p.close()
	rep := &passReport{Command: "lb render", DryRun: env.DryRun, Actions: []actionRow{}}
	lb, syncErr := p.syncBalancer(ctx, plan.InRotation(p.spec, obs.containers, obs.ready))
	if lb != nil && (env.Output == "json" || lb.Changed || lb.Reloaded) {
		rep.Balancer = append(rep.Balancer, lb)
	}
	saveErr := p.save()
	if err := printPass(env, rep); err != nil {
		return err
	}
	if syncErr != nil {
		return syncErr
	}
	return saveErr
}
