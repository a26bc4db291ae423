package commands

// swarm.go holds the executors that act on a Docker Swarm through its
// manager: swarm apps' services (scale), node labels and dependents
// (labels sync), moves and unpins (rebalance), and the per-node usage
// reads of rebalance.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/docker"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
)

// swarmPoll is how often executors re-read the Swarm while they wait.
const swarmPoll = 500 * time.Millisecond

// execServices applies swarm apps' service changes. Replica changes are
// compare-and-swap on the service version: when the service changed since
// it was read, the engine reads it again and the count is decided again.
// After any change it waits (bounded by the apps' ready_timeout) for the
// tasks to run and observes them again, so the balancer follows them and
// the next pass has nothing to do; tasks not ready by then are a failed
// finding (exit 3), as a local replica that never answers is.
var execServices = executor{kinds: []plan.Kind{plan.Service}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	var outs []plan.Outcome
	wait := time.Duration(0)
	for _, s := range steps {
		a := s.Do.(plan.ServiceAction)
		var err error
		switch a.Kind {
		case plan.CreateService:
			var w fleet.ServiceWant
			if w, err = x.prepareService(ctx, a.Want); err == nil {
				err = x.engine.CreateService(ctx, w)
			}
		case plan.RollService:
			var w fleet.ServiceWant
			if w, err = x.prepareService(ctx, a.Want); err == nil {
				err = x.engine.UpdateServiceSpec(ctx, a.Service.ID, w)
			}
		case plan.PlaceService:
			err = x.engine.PlaceService(ctx, a.Service, a.Want.Placement, a.Keep)
		case plan.ScaleReplicas:
			want := a.Want.Replicas
			from, to, conflicts, serr := x.engine.ScaleService(ctx, a.Service.ID, 5, func(uint64) uint64 { return want })
			if err = serr; err == nil {
				s.Reason = plan.ScaledReason(from, to, conflicts)
			}
		case plan.RemoveService:
			err = x.engine.RemoveService(ctx, a.Service.ID)
		}
		if app := x.spec.App(a.App); err == nil && app != nil {
			wait = max(wait, app.Health.ReadyTimeout.D)
		}
		outs = append(outs, plan.Outcome{Step: s, Err: err})
	}
	if wait == 0 {
		return outs
	}
	converged, err := x.awaitSwarmApps(ctx, wait, &outs)
	switch {
	case err != nil:
		x.env.warnf("swarm: %v", err)
	case !converged:
		for _, lag := range plan.SwarmLagging(x.spec, x.want, x.fleet.services, x.fleet.tasks, x.fleet.swarmReady) {
			why := lag.Reason + " (waited health.ready_timeout)"
			f := plan.NewFinding("unhealthy", lag.App, lag.Service, why)
			f.Partial = fmt.Sprintf("swarm app %q: %s", lag.App, why)
			outs = append(outs, plan.Outcome{Step: f, Err: errors.New(why)})
		}
	}
	// The services changed: the balancer follows their tasks now (unless
	// a sync already failed in this pass: what it routes to is unknown).
	if x.spec.Nginx != nil && x.syncErr == nil {
		if o, ok := x.syncTo(ctx, x.members); ok {
			outs = append(outs, o)
		}
	}
	return outs
}}

// routedSwarm are the swarm apps' tasks the balancer routes to: those a
// pass waiting for Swarm keeps routed (swarmRouted), else the ready ones.
func (f fleetView) routedSwarm() []fleet.Container {
	if f.swarmRouted != nil {
		return f.swarmRouted
	}
	return f.swarmReady
}

// prepareService makes what a service needs present before it is created
// or rolled: its overlay networks, its secrets and configs (their IDs go
// into the returned copy of w).
func (x *pass) prepareService(ctx context.Context, w fleet.ServiceWant) (fleet.ServiceWant, error) {
	for _, n := range w.NeedNetworks {
		if err := x.engine.EnsureNetwork(ctx, x.spec.Project, n); err != nil {
			return w, err
		}
	}
	refs := func(kind string, in []fleet.FileRef) ([]fleet.FileRef, error) {
		out := make([]fleet.FileRef, len(in))
		for i, r := range in {
			id, err := x.engine.EnsureSwarmFile(ctx, x.spec.Project, kind, r)
			if err != nil {
				return nil, err
			}
			r.ID = id
			out[i] = r
		}
		return out, nil
	}
	var err error
	if w.Secrets, err = refs("secret", w.Secrets); err != nil {
		return w, err
	}
	w.Configs, err = refs("config", w.Configs)
	return w, err
}

// execSwarmFiles removes the secrets and configs no swarm app mounts any
// more — none while Swarm updates a service of the project (a rollback
// would need them), and not one a service still mounts: those stay, and
// the next pass removes them.
var execSwarmFiles = executor{kinds: []plan.Kind{plan.PruneSwarmFile}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	outs := make([]plan.Outcome, len(steps))
	// While Swarm updates a service of the project, it may roll back to
	// the old versions: they stay until it is done.
	if services, err := x.engine.Services(ctx); err == nil {
		for _, svc := range services {
			if svc.Labels[fleet.LabelProject] == x.spec.Project && (svc.Updating() || svc.UpdateStuck()) {
				for i, s := range steps {
					outs[i] = plan.Outcome{Step: s, Note: fmt.Sprintf("kept: Swarm is updating %s (%s), which may roll back to it; the next pass removes it", svc.Name, svc.UpdateState)}
				}
				return outs
			}
		}
	}
	for i, s := range steps {
		err := x.engine.RemoveSwarmFile(ctx, s.Do.(plan.SwarmFileRemoval).File)
		outs[i] = plan.Outcome{Step: s, Err: err}
		if errors.Is(err, docker.ErrInUseByService) {
			outs[i] = plan.Outcome{Step: s, Note: "kept: a service still mounts it; the next pass removes it"}
		}
	}
	return outs
}}

// awaitSwarmApps polls until every swarm app has as many ready tasks as
// its service wants (or wait passes with no new task ready), keeping the
// last observation. The
// balancer follows the tasks meanwhile: while Swarm rolls an app, the new
// tasks enter it once they answer and the old ones leave it as Swarm
// stops them (each change tested and reloaded; its outcome goes to outs);
// a routed task that misses one probe while it still runs stays
// (plan.StickySwarmMembers), so a slow moment of the machine never empties
// the balancer; and no sync routes a swarm app to no task at all (a new
// service whose tasks do not answer yet) before the wait ends.
func (x *pass) awaitSwarmApps(ctx context.Context, wait time.Duration, outs *[]plan.Outcome) (bool, error) {
	deadline := x.clock.Now().Add(wait)
	routed := x.fleet.routedSwarm()
	ready := map[string]bool{} // the tasks seen ready so far
	for first := true; ; first = false {
		if err := x.observeSwarmApps(ctx); err != nil {
			return false, err
		}
		// A progress deadline, as a Deployment's: each task that gets
		// ready after the first look gives the rest another wait. Swarm
		// rolls one task at a time, so a roll of many takes many waits'
		// worth, and one that makes no progress stops after one.
		for _, c := range x.fleet.swarmReady {
			if !ready[c.ID] {
				ready[c.ID] = true
				if !first {
					deadline = x.clock.Now().Add(wait)
				}
			}
		}
		routed = plan.StickySwarmMembers(routed, x.fleet.swarmReady, x.fleet.taskReplicas)
		x.fleet.swarmRouted = routed
		if x.spec.Nginx != nil && x.syncErr == nil && plan.EverySwarmAppRouted(x.spec, routed) {
			if o, ok := x.syncTo(ctx, x.members); ok {
				*outs = append(*outs, o)
			}
		}
		if len(plan.SwarmLagging(x.spec, x.want, x.fleet.services, x.fleet.tasks, x.fleet.swarmReady)) == 0 {
			return true, nil
		}
		if x.clock.Now().After(deadline) {
			return false, nil
		}
		if err := x.clock.Sleep(ctx, swarmPoll); err != nil {
			return false, err
		}
	}
}

// execLabelsSync applies labels sync's steps in plan order: labels set,
// dependents changed, labels removed, dependents settled. A step whose
// needs failed is not applied; a label removal first waits (bounded by
// swarm.wait) for the dependents that leave its node to have left it.
var execLabelsSync = executor{kinds: []plan.Kind{plan.NodeLabels, plan.Dependent}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	done := map[string]bool{}
	deadline := x.clock.Now().Add(x.spec.Swarm.Wait.D)
	needs := func(ids []string) error {
		for _, id := range ids {
			if !done[id] {
				return fmt.Errorf("not done: it needs %s, which was not applied", id)
			}
		}
		return nil
	}
	outs := make([]plan.Outcome, len(steps))
	for i, s := range steps {
		var err error
		switch c := s.Do.(type) {
		case plan.ServiceChange:
			if err = needs(c.Needs); err == nil {
				err = x.engine.EditService(ctx, c.Service, c.Edit)
			}
			if err == nil {
				done[c.ID] = true
			}
		case plan.LabelChange:
			if err = needs(c.Needs); err == nil && len(c.Waits) > 0 {
				err = x.awaitDepartures(ctx, c.Waits, deadline)
			}
			if err == nil {
				err = x.engine.EditNode(ctx, c.Node, fleet.NodeEdit{Set: c.Set, Remove: c.Remove, Role: c.Role, Availability: c.Availability})
			}
			if err == nil && len(c.Remove) > 0 {
				done["node "+c.Node.ID] = true
			}
		}
		outs[i] = plan.Outcome{Step: s, Err: err}
	}
	return outs
}}

// awaitDepartures polls the tasks until none of the departures' services
// has a task placed on the node it leaves, or the deadline passes.
func (x *pass) awaitDepartures(ctx context.Context, ds []plan.Departure, deadline time.Time) error {
	for {
		tasks, err := x.engine.Tasks(ctx)
		if err != nil {
			return err
		}
		var left []string
		for _, d := range ds {
			for _, t := range tasks {
				if t.ServiceID == d.ServiceID && t.NodeID == d.NodeID && t.Placed() {
					left = append(left, d.Service+" on "+d.Node)
					break
				}
			}
		}
		if len(left) == 0 {
			return nil
		}
		if !x.clock.Now().Before(deadline) {
			return fmt.Errorf("%s still run(s) there after swarm.wait (%s): the label stays, the next pass removes it once they left",
				strings.Join(left, ", "), x.spec.Swarm.Wait.D)
		}
		if err := x.clock.Sleep(ctx, swarmPoll); err != nil {
			return err
		}
	}
}

// execUnpin removes the pins of arrived moves.
var execUnpin = executor{kinds: []plan.Kind{plan.UnpinService}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	outs := eachStep(steps, func(s plan.Step) error { return x.engine.UnpinService(ctx, s.Do.(plan.Unpin).Service) })
	for i := range outs {
		outs[i].Data = arrived(outs[i].Err == nil)
	}
	return outs
}}

// execMove pins the moved services to their new node, waits (bounded by
// swarm.rebalance.wait) for their tasks to run there and removes those
// pins again. A move Swarm gives up meanwhile (its update paused or rolled
// back, its new task rejected) is unpinned at once and fails: the tasks
// stay where they ran. A move that has not arrived when the wait ends is a
// finding that makes the pass partly done; the next pass removes its pin
// once it arrives.
var execMove = executor{kinds: []plan.Kind{plan.MoveService}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	cfg, _ := x.spec.Swarm.RebalanceOrReport()
	pinned := map[string]int{} // service ID → outcome
	outs := eachStep(steps, func(s plan.Step) error {
		m := s.Do.(plan.Move)
		return x.engine.PinService(ctx, m.Service, m.To, x.clock.Now())
	})
	for i, o := range outs {
		outs[i].Data = arrived(false)
		if o.Err == nil {
			pinned[o.Step.Do.(plan.Move).Service.ID] = i
		}
	}
	nodeID := map[string]string{}
	for _, n := range x.nodes {
		nodeID[n.Hostname] = n.ID
	}
	deadline := x.clock.Now().Add(cfg.Wait.D)
	for len(pinned) > 0 && x.clock.Now().Before(deadline) {
		if err := x.clock.Sleep(ctx, swarmPoll); err != nil {
			break
		}
		services, err := x.engine.Services(ctx)
		if err != nil {
			continue
		}
		tasks, err := x.engine.Tasks(ctx)
		if err != nil {
			continue
		}
		for _, svc := range services {
			i, ok := pinned[svc.ID]
			if !ok {
				continue
			}
			m := outs[i].Step.Do.(plan.Move)
			why, failed := plan.MoveFailed(svc, tasks, nodeID[m.To])
			if !failed {
				continue
			}
			if err := x.engine.UnpinService(ctx, svc); err != nil {
				outs[i].Err = fmt.Errorf("the move to %s failed (%s), and removing the pin failed too: %w (the next pass removes it)", m.To, why, err)
			} else {
				outs[i].Err = fmt.Errorf("the move to %s failed (%s): the pin was removed at once, the tasks stay where they ran", m.To, why)
			}
			delete(pinned, svc.ID)
		}
		for _, u := range plan.Arrived(x.nodes, services, tasks) {
			i, ok := pinned[u.Service.ID]
			if !ok {
				continue
			}
			if err := x.engine.UnpinService(ctx, u.Service); err != nil {
				x.env.warnf("rebalance: %v (the next pass removes the pin)", err)
				continue
			}
			outs[i].Data = arrived(true)
			delete(pinned, u.Service.ID)
		}
	}
	if len(pinned) > 0 {
		f := plan.NewFinding("finding", "", "", fmt.Sprintf("%d moved service(s) did not run on their new node within swarm.rebalance.wait (%s)", len(pinned), cfg.Wait.D))
		f.Partial = f.Reason + "; the next pass removes the pin once they do"
		outs = append(outs, plan.Outcome{Step: f})
	}
	return outs
}}

// arrived is the outcome of a move or an unpin: its tasks run on the new
// node and the pin is gone.
type arrived bool
