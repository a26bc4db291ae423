package commands

// stack.go holds the scale pass's executor for a stack's networks, and the
// replica counts depends_on decides from.

import (
	"context"
	"errors"
	"fmt"

	"github.com/baton-orchestrator/baton/internal/docker"
	"github.com/baton-orchestrator/baton/internal/plan"
)

// execNetworks removes the networks baton created that no app joins any
// more, after the rollout removed their containers. A network something
// else is still attached to is kept and reported: baton never detaches
// what it did not attach. It is an incident that makes the pass partly
// done (exit 3; quiet while it lasts) until the network is freed.
var execNetworks = executor{kinds: []plan.Kind{plan.PruneNetwork}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	outs := make([]plan.Outcome, 0, len(steps))
	for _, s := range steps {
		err := x.engine.RemoveNetwork(ctx, x.spec.Project, s.Target)
		if errors.Is(err, docker.ErrInUse) {
			f := plan.NewFinding("network-in-use", "", s.Target, "kept: "+err.Error())
			f.Key = "network-in-use " + s.Target
			f.Partial = err.Error() + "; it is kept, and the next pass removes it once nothing is attached"
			f.Hint = fmt.Sprintf("`docker network inspect %s` lists what is attached; baton never detaches what it did not attach", s.Target)
			outs = append(outs, plan.Outcome{Step: f})
			continue
		}
		outs = append(outs, plan.Outcome{Step: s, Err: err})
	}
	return outs
}}

// counts are the running and ready replicas per app, containers and swarm
// tasks, for depends_on.
func (f fleetView) counts() map[string]plan.Counts {
	all := append(f.containers[:len(f.containers):len(f.containers)], f.taskReplicas...)
	return plan.CountReplicas(all, f.ready)
}
