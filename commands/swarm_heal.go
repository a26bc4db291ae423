package commands

// swarm_heal.go is heal for swarm apps: plan.HealTasks decides which
// failing task goes; execReplaceTask replaces it through Swarm,
// start-first (the surge is explained in internal/plan/healswarm.go).

import (
	"context"
	"fmt"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
)

// healTasks adds heal's decisions on swarm apps' tasks to its plan.
func (x *pass) healTasks(p *plan.Plan, now time.Time) {
	if !x.spec.HasSwarmApps() {
		return
	}
	probes := map[string]error{}
	for _, m := range x.fleet.taskReplicas {
		if x.fleet.ready[m.ID] {
			probes[m.ID] = nil
		} else if err, ok := x.fleet.probeErr[m.ID]; ok {
			probes[m.ID] = err
		}
	}
	steps, counters := plan.HealTasks(plan.HealTasksInput{Spec: x.spec, Nodes: x.nodes, Services: x.fleet.services, Tasks: x.fleet.tasks,
		Members: x.fleet.taskReplicas, Probes: probes, Counters: x.state.Probes, Attempts: plan.SlotsOf(x.state, x.spec)}, now)
	p.Steps = append(p.Steps, steps...)
	p.Commit = plan.Commits(p.Commit, plan.HealTasksCommit(x.spec, counters, now))
}

// execReplaceTask replaces failing tasks, one after the other:
//  1. the service gets one more task (compare-and-swap on its count; a
//     count changed meanwhile is not touched);
//  2. the new task must answer its check (bounded by ready_timeout), and
//     the balancer routes to it; if it does not, the count goes back and
//     the failing task stays;
//  3. the failing task leaves the balancer (if it was still routed), its
//     drain passes, and its container is stopped at its node's engine;
//  4. once Swarm sees it stopped, the count goes back: Swarm removes a
//     task that does not run first;
//  5. the pass waits for the service to settle, the balancer following.
var execReplaceTask = executor{kinds: []plan.Kind{plan.ReplaceTask}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	var outs []plan.Outcome
	for _, s := range steps {
		r := s.Do.(plan.TaskReplacement)
		data, err := x.replaceTask(ctx, r, &outs)
		outs = append(outs, plan.Outcome{Step: s, Err: err, Data: data})
	}
	return outs
}}

func (x *pass) replaceTask(ctx context.Context, r plan.TaskReplacement, outs *[]plan.Outcome) (plan.Replaced, error) {
	done := plan.Replaced{App: r.App, OldSlot: r.Task.Slot}
	a := x.spec.App(r.App)
	before := map[string]bool{}
	for _, t := range x.fleet.tasks {
		if t.ServiceID == r.Service.ID {
			before[t.ID] = true
		}
	}
	grow := r.Replicas + 1
	from, to, _, err := x.engine.ScaleService(ctx, r.Service.ID, 5, func(cur uint64) uint64 {
		if cur != r.Replicas {
			return cur // someone changed the count: leave it
		}
		return grow
	})
	switch {
	case err != nil:
		return done, err
	case from != r.Replicas || to != grow:
		return done, fmt.Errorf("the service's count changed to %d since it was read: the next pass decides again", from)
	}
	shrink := func() error {
		_, _, _, err := x.engine.ScaleService(ctx, r.Service.ID, 5, func(cur uint64) uint64 {
			if cur == grow {
				return r.Replicas
			}
			return cur
		})
		return err
	}
	routed := x.fleet.routedSwarm()
	sync := func() {
		x.fleet.swarmRouted = routed
		if x.spec.Nginx != nil && x.syncErr == nil && plan.EverySwarmAppRouted(x.spec, routed) {
			if o, ok := x.syncTo(ctx, x.members); ok {
				*outs = append(*outs, o)
			}
		}
	}
	// 2. The new task answers.
	deadline := x.clock.Now().Add(a.Health.ReadyTimeout.D)
	var fresh fleet.Container
	for fresh.ID == "" {
		if err := x.observeSwarmApps(ctx); err != nil {
			return done, err
		}
		for _, m := range x.fleet.swarmReady {
			if m.App == r.App && !before[m.ID] {
				fresh = m
			}
		}
		routed = plan.StickySwarmMembers(without(routed, r.Task.ID), x.fleet.swarmReady, x.fleet.taskReplicas)
		routed = without(routed, r.Task.ID)
		sync()
		if fresh.ID != "" {
			break
		}
		if x.clock.Now().After(deadline) {
			if err := shrink(); err != nil {
				return done, fmt.Errorf("the new task did not answer within health.ready_timeout (%s), and taking it back failed: %w", a.Health.ReadyTimeout.D, err)
			}
			return done, fmt.Errorf("the new task did not answer within health.ready_timeout (%s): the count is back at %d and the failing task stays (the next pass tries again)", a.Health.ReadyTimeout.D, r.Replicas)
		}
		if err := x.clock.Sleep(ctx, swarmPoll); err != nil {
			return done, err
		}
	}
	for _, t := range x.fleet.tasks {
		if t.ID == fresh.ID {
			done.Slot = t.Slot
		}
	}
	// 3. The failing task is out of the balancer; after its drain, stop it.
	if err := x.clock.Sleep(ctx, a.Drain.D); err != nil {
		return done, err
	}
	node, err := x.env.connect(r.Endpoint)
	if err != nil {
		_ = shrink()
		return done, fmt.Errorf("node %s: %w", r.Node.Hostname, err)
	}
	err = node.Stop(ctx, r.Task.ContainerID, a.StopGrace.D)
	_ = node.Close()
	if err != nil {
		_ = shrink()
		return done, fmt.Errorf("stop the task's container on %s: %w", r.Node.Hostname, err)
	}
	// 4. Once Swarm sees it stopped, back to the count.
	deadline = x.clock.Now().Add(30 * time.Second)
	for {
		tasks, err := x.engine.Tasks(ctx)
		if err != nil {
			return done, err
		}
		stopped := true
		for _, t := range tasks {
			if t.ID == r.Task.ID && t.Running() {
				stopped = false
			}
		}
		if stopped || x.clock.Now().After(deadline) {
			break
		}
		if err := x.clock.Sleep(ctx, swarmPoll); err != nil {
			return done, err
		}
	}
	if err := shrink(); err != nil {
		return done, fmt.Errorf("the count could not go back to %d: %w (the next scale pass sets it)", r.Replicas, err)
	}
	// 5. Settle; the balancer follows.
	if converged, err := x.awaitSwarmApps(ctx, a.Health.ReadyTimeout.D, outs); err != nil || !converged {
		x.env.warnf("heal: %s did not settle after the replacement: %v", r.Service.Name, err)
	}
	return done, nil
}

// without drops the member of a task.
func without(ms []fleet.Container, id string) []fleet.Container {
	out := make([]fleet.Container, 0, len(ms))
	for _, m := range ms {
		if m.ID != id {
			out = append(out, m)
		}
	}
	return out
}
