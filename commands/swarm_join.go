package commands

// swarm_join.go is `baton swarm join`: the nodes of swarm.nodes whose own
// engine is in no swarm join the manager's (Orcastra's bootstrap);
// plan.JoinNodes decides.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
)

func newSwarmCommand(env *Env) *cli.Command {
	return groupCommand("swarm", "bring the Swarm's nodes in", passCommand("join",
		"join the nodes of swarm.nodes whose engine is in no swarm",
		"Against a Swarm manager (--docker-host). Each node of swarm.nodes with a docker\n"+
			"endpoint is asked, at its own engine, whether it is in a swarm; one that is in none\n"+
			"joins the manager's, as a manager when its role says so (else a worker), advertising\n"+
			"its advertise_addr; the down entries of its earlier life are removed once it is back.\n"+
			"A node in another swarm is never taken out of it, and an engine that does not answer\n"+
			"is reported (exit 3). Roles and availability are then labels sync's.",
		nil, func(c *cli.Context) error { return run(c.Context, env, joinPass()) }))
}

// joinSeen is what swarm join observed.
type joinSeen struct {
	info    fleet.JoinInfo
	members map[string]fleet.Membership
	errs    map[string]error
}

func joinPass() passDef[joinSeen] {
	return passDef[joinSeen]{
		name: "swarm join",
		observe: func(ctx context.Context, x *pass) (joinSeen, error) {
			seen := joinSeen{members: map[string]fleet.Membership{}, errs: map[string]error{}}
			if err := x.needSwarm(); err != nil {
				return seen, err
			}
			var err error
			if seen.info, err = x.engine.JoinInfo(ctx); err != nil {
				return seen, fmt.Errorf("observe swarm: %w", err)
			}
			for host, n := range x.spec.Swarm.Nodes {
				if n.Docker == "" {
					continue
				}
				eng, err := x.env.connect(n.Docker)
				if err == nil {
					seen.members[host], err = eng.Membership(ctx)
					_ = eng.Close()
				}
				if err != nil {
					seen.errs[host] = err
				}
			}
			return seen, nil
		},
		decide: func(x *pass, seen joinSeen, _ time.Time) plan.Plan {
			p := plan.JoinNodes(plan.JoinInput{Spec: x.spec, Nodes: x.nodes, Info: seen.info, Members: seen.members, Errs: seen.errs})
			// A down entry of a node this pass joins is what it fixes, not
			// a finding of its own (a failed join fails the pass anyway).
			for _, s := range p.Of(plan.JoinNode) {
				x.down = slices.DeleteFunc(x.down, func(d string) bool { return strings.HasPrefix(d, "node "+s.Do.(plan.Join).Host+" ") })
			}
			return p
		},
		exec: []executor{execJoin},
		view: view{rows: "nodes", columns: []column{
			stepColumn("NODE", "node", func(s plan.Step) any { return strings.TrimPrefix(s.Target, "node ") }),
			stepColumn("ACTION", "action", func(s plan.Step) any { return string(s.Kind) }),
			reasonCol, doneColumn, errorColumn,
			resultColumn(okNote),
		}},
	}
}

// execJoin joins each node at its engine, waits (at most a minute) until
// the manager lists it ready, and removes its down entries; the pass then
// no longer counts it as down.
var execJoin = executor{kinds: []plan.Kind{plan.JoinNode}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	outs := make([]plan.Outcome, len(steps))
	for i, s := range steps {
		outs[i] = plan.Outcome{Step: s, Err: x.join(ctx, s.Do.(plan.Join))}
	}
	return outs
}}

func (x *pass) join(ctx context.Context, j plan.Join) error {
	eng, err := x.env.connect(j.Endpoint)
	if err != nil {
		return err
	}
	err = eng.JoinSwarm(ctx, j.Request)
	_ = eng.Close()
	if err != nil {
		return err
	}
	stale := map[string]bool{}
	for _, n := range j.Stale {
		stale[n.ID] = true
	}
	deadline := x.clock.Now().Add(time.Minute)
	for {
		nodes, err := x.engine.Nodes(ctx)
		if err != nil {
			return err
		}
		back := false
		for _, n := range nodes {
			back = back || (n.Hostname == j.Host && n.Ready && !stale[n.ID])
		}
		if back {
			break
		}
		if x.clock.Now().After(deadline) {
			return fmt.Errorf("joined, but the manager did not list %s ready within a minute", j.Host)
		}
		if err := x.clock.Sleep(ctx, swarmPoll); err != nil {
			return err
		}
	}
	for _, n := range j.Stale {
		if err := x.engine.RemoveNode(ctx, n.ID); err != nil {
			return fmt.Errorf("joined; the down entry %s stays: %w", n.ID, err)
		}
	}
	return nil
}
