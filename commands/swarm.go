package commands

// swarm.go is what every pass does when the spec involves a Docker Swarm:
// it lists the nodes (a node that is down is reported, and the pass exits
// 3 after doing what it could), and for swarm apps it observes their
// services and tasks, probes the tasks, adds them to the balancer, and lets
// scale create, roll, scale and remove the services.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/probe"
	"github.com/baton-orchestrator/baton/internal/rollout"
	"github.com/baton-orchestrator/baton/state"
)

// swarmView is the Swarm as one pass saw it.
type swarmView struct {
	nodes    []fleet.Node
	services []fleet.Service
	tasks    []fleet.Task
	// members are the ready tasks of swarm apps, as balancer members.
	members []fleet.Container
}

// observeNodes lists the Swarm's nodes when the spec involves a Swarm and
// notes the nodes that are down for the pass's outcome. A spec with swarm
// apps cannot do without the list; for the others (a gc, a mods refresh
// on a manager) failing to list is a warning.
func (p *pass) observeNodes(ctx context.Context) error {
	if !p.spec.UsesSwarm() {
		return nil
	}
	nodes, err := p.engine.Nodes(ctx)
	if err != nil {
		if p.spec.HasSwarmApps() {
			return fmt.Errorf("observe swarm: %w", err)
		}
		p.env.warnf("swarm: %v", err)
		return nil
	}
	p.swarm.nodes = nodes
	p.out.down = plan.DownNodes(nodes)
	return nil
}

// observeSwarmApps lists services and tasks (two calls) and probes the
// running tasks of swarm apps at their node's address.
func (p *pass) observeSwarmApps(ctx context.Context, o *observation) error {
	if !p.spec.HasSwarmApps() {
		return nil
	}
	var err error
	if p.swarm.services, err = p.engine.Services(ctx); err != nil {
		return fmt.Errorf("observe swarm: %w", err)
	}
	if p.swarm.tasks, err = p.engine.Tasks(ctx); err != nil {
		return fmt.Errorf("observe swarm: %w", err)
	}
	running := plan.SwarmMembers(p.spec, p.swarm.nodes, p.swarm.services, p.swarm.tasks)
	targets := make([]probe.Target, len(running))
	for i, c := range running {
		targets[i] = probe.Target{Addr: c.Addr, Check: rollout.CheckOf(p.spec.App(c.App))}
	}
	p.swarm.members = nil
	for i, err := range p.prober.All(ctx, targets, probeParallel) {
		if err == nil {
			o.ready[running[i].ID] = true
			p.swarm.members = append(p.swarm.members, running[i])
		} else {
			o.probeErr[running[i].ID] = err
		}
	}
	o.tasks = running
	return nil
}

// scaleSwarm applies scale's decisions to swarm apps' services. Replica
// changes are compare-and-swap on the service version: when another
// manager's baton (or an operator) changed the service since it was read,
// the engine reads it again and the count is decided again against what it
// read. After any change it waits (bounded by the apps' ready_timeout)
// for the tasks to run, observes them again for the balancer sync that
// follows, so the next pass has nothing to do; tasks not ready by then are
// a finding and count as a failure (exit 3), as a local replica that never
// answers does.
func (p *pass) scaleSwarm(ctx context.Context, rep *passReport, o *observation) (failed int, events []state.Event) {
	if !p.spec.HasSwarmApps() {
		return 0, nil
	}
	actions := plan.ScaleServices(p.spec, p.swarm.services)
	if len(actions) == 0 {
		return 0, nil
	}
	wait := time.Duration(0)
	for _, a := range actions {
		row := actionRow{App: a.App, Action: string(a.Kind), Target: a.Want.Name, Replica: -1, Reason: a.Reason}
		if row.Target == "" {
			row.Target = a.Service.Name
		}
		if p.env.DryRun {
			rep.Actions = append(rep.Actions, row)
			continue
		}
		var aerr error
		switch a.Kind {
		case plan.CreateService:
			aerr = p.engine.CreateService(ctx, a.Want)
		case plan.RollService:
			aerr = p.engine.UpdateServiceSpec(ctx, a.Service.ID, a.Want)
		case plan.ScaleReplicas:
			want := a.Want.Replicas
			var from, to uint64
			var conflicts int
			from, to, conflicts, aerr = p.engine.ScaleService(ctx, a.Service.ID, 5, func(current uint64) uint64 { return want })
			if aerr == nil {
				row.Reason = fmt.Sprintf("%d → %d replica(s)", from, to)
				if conflicts > 0 {
					row.Reason += fmt.Sprintf("; the service changed under this pass %d time(s): re-read and re-decided", conflicts)
				}
				if from == to {
					row.Reason = fmt.Sprintf("already at %d replica(s) when re-read: nothing to do", to)
				}
			}
		case plan.RemoveService:
			aerr = p.engine.RemoveService(ctx, a.Service.ID)
		}
		row.Done, row.Error = aerr == nil, errString(aerr)
		if aerr != nil {
			failed++
		} else if app := p.spec.App(a.App); app != nil && app.Health.ReadyTimeout.D > wait {
			wait = app.Health.ReadyTimeout.D
		}
		rep.Actions = append(rep.Actions, row)
		events = append(events, state.Event{Type: serviceEventType(a.Kind), App: a.App, Target: row.Target, Reason: row.Reason, Error: row.Error})
	}
	if p.env.DryRun || wait == 0 {
		return failed, events
	}
	converged, err := p.awaitSwarmApps(ctx, wait, o)
	switch {
	case err != nil:
		p.env.warnf("swarm: %v", err)
	case !converged:
		for _, lag := range p.swarmLagging() {
			why := lag.Reason + " (waited health.ready_timeout)"
			rep.Findings = append(rep.Findings, findingRow{App: lag.App, Type: "not ready", Target: lag.Service, Reason: why})
			events = append(events, state.Event{Type: "unhealthy", App: lag.App, Target: lag.Service, Reason: why, Error: why})
			failed++
		}
	}
	return failed, events
}

// serviceEventType is the event type of a service action: "scale-service".
func serviceEventType(k plan.ServiceActionKind) string {
	return strings.ReplaceAll(string(k), " ", "-")
}

// swarmLagging decides, on the last observation, which swarm apps are not
// converged yet.
func (p *pass) swarmLagging() []plan.Lag {
	return plan.SwarmLagging(p.spec, p.swarm.services, p.swarm.tasks, p.swarm.members)
}

// awaitSwarmApps polls until every swarm app has as many ready tasks as
// its service wants (or wait passes), then keeps the last observation.
func (p *pass) awaitSwarmApps(ctx context.Context, wait time.Duration, o *observation) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		if err := p.observeSwarmApps(ctx, o); err != nil {
			return false, err
		}
		if len(p.swarmLagging()) == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return false, err
		}
	}
}
