package commands

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
)

func newLabelsCommand(env *Env) *cli.Command {
	return groupCommand("labels", "manage Swarm node labels", passCommand("sync",
		"apply static node labels; label the nodes running each anchor; make dependents follow",
		"Against a Swarm manager (--docker-host). Static labels come from the spec's\n"+
			"swarm.nodes by hostname; each anchor's nodes get baton.anchor.<anchor>=true; each\n"+
			"dependent gets the placement constraint node.labels.baton.anchor.<anchor>==true and\n"+
			"is restarted when its tasks sit on a node without its anchor (at most once per\n"+
			"restart_cooldown). Only labels baton set are removed, unless prune_unknown_labels.\n"+
			"Node and service updates carry the version they were read at. A node that is\n"+
			"down is reported and skipped.",
		nil, func(c *cli.Context) error { return run(c.Context, env, labelsPass()) }))
}

// swarmSeen is the services and tasks of a Swarm pass (the nodes were
// listed when the pass opened).
type swarmSeen struct {
	services []fleet.Service
	tasks    []fleet.Task
	usage    map[string]int64 // rebalance's measured task memory
	findings []string         // rebalance's usage findings
}

// observeSwarm lists the services and tasks of a Swarm manager.
func (x *pass) observeSwarm(ctx context.Context) (swarmSeen, error) {
	var seen swarmSeen
	if err := x.needSwarm(); err != nil {
		return seen, err
	}
	var err error
	if seen.services, err = x.engine.Services(ctx); err != nil {
		return seen, fmt.Errorf("observe swarm: %w", err)
	}
	if seen.tasks, err = x.engine.Tasks(ctx); err != nil {
		return seen, fmt.Errorf("observe swarm: %w", err)
	}
	return seen, nil
}

// labelsPass: plan.LabelsPass decides from the nodes, services and tasks.
func labelsPass() passDef[swarmSeen] {
	return passDef[swarmSeen]{
		name:    "labels sync",
		observe: func(ctx context.Context, x *pass) (swarmSeen, error) { return x.observeSwarm(ctx) },
		decide: func(x *pass, seen swarmSeen, now time.Time) plan.Plan {
			return plan.LabelsPass(x.spec, x.nodes, seen.services, seen.tasks, x.state, now)
		},
		exec: []executor{execNodeLabels, execDependents},
		view: view{rows: "changes", columns: []column{
			stepColumn("KIND", "kind", func(s plan.Step) any {
				return map[plan.Kind]string{plan.NodeLabels: "node", plan.Dependent: "service"}[s.Kind]
			}),
			stepColumn("TARGET", "target", func(s plan.Step) any { _, t, _ := strings.Cut(s.Target, " "); return t }),
			stepColumn("CHANGE", "change", labelChange),
			reasonCol, doneColumn, errorColumn,
			resultColumn(okNote),
		}},
	}
}

// labelChange is the CHANGE cell: +key=value and -key for nodes, the added
// constraint or a restart for dependents.
func labelChange(s plan.Step) any {
	switch c := s.Do.(type) {
	case plan.LabelChange:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(c.Set)) {
			parts = append(parts, "+"+k+"="+c.Set[k])
		}
		for _, k := range c.Remove {
			parts = append(parts, "-"+k)
		}
		return strings.Join(parts, " ")
	case plan.ServiceChange:
		if c.AddConstraint != "" {
			return "+constraint " + c.AddConstraint
		}
		return "restart"
	}
	return ""
}
