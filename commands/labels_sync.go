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
			"swarm.nodes by hostname; each anchor's nodes get baton.anchors.<project>.<anchor>=true;\n"+
			"each dependent gets the placement constraint on that label and leaves, start-first, a\n"+
			"node its anchor left (at most once per restart_cooldown, never while Swarm updates\n"+
			"it). A label is removed from a node only once no task placed there runs under a\n"+
			"constraint on it, so no dependent loses a task to a label change; only the labels of\n"+
			"this project's baton are removed, unless prune_unknown_labels (never another\n"+
			"project's). Every update is made on a fresh read at its version, read again when\n"+
			"another manager got there first. A node that is down is reported and skipped.",
		nil, func(c *cli.Context) error { return run(c.Context, env, labelsPass()) }))
}

// swarmSeen is the services and tasks of a Swarm pass (the nodes were
// listed when the pass opened).
type swarmSeen struct {
	services []fleet.Service
	tasks    []fleet.Task
	usage    map[string]int64 // rebalance's measured task memory
	unread   []plan.NodeNote  // rebalance: the nodes whose usage was not read
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
			return plan.LabelsPass(plan.LabelsInput{Spec: x.spec, Nodes: x.nodes, Services: seen.services, Tasks: seen.tasks,
				Owned: x.state.NodeLabels, Now: now})
		},
		exec: []executor{execLabelsSync},
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
		if c.Role != "" {
			parts = append(parts, "role="+c.Role)
		}
		if c.Availability != "" {
			parts = append(parts, "availability="+c.Availability)
		}
		for _, k := range slices.Sorted(maps.Keys(c.Set)) {
			parts = append(parts, "+"+k+"="+c.Set[k])
		}
		for _, k := range c.Remove {
			parts = append(parts, "-"+k)
		}
		return strings.Join(parts, " ")
	case plan.ServiceChange:
		var parts []string
		for _, k := range c.Edit.AddConstraints {
			parts = append(parts, "+constraint "+k)
		}
		for _, k := range c.Edit.RemoveConstraints {
			parts = append(parts, "-constraint "+k)
		}
		if c.Edit.StartFirst {
			parts = append(parts, "start-first")
		}
		if c.Edit.RestoreOrder != "" {
			parts = append(parts, "restore order")
		}
		if len(parts) == 0 {
			parts = append(parts, "labels")
		}
		return strings.Join(parts, " ")
	}
	return ""
}
