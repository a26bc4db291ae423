package commands

// observe.go is what scale, heal, lb render and status observe: every
// container of the project (one list call), which running ones answer
// their readiness check (concurrent probes), and for swarm apps their
// services and tasks, probed at their node's address.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/probe"
	"github.com/baton-orchestrator/baton/internal/rollout"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// probeParallel bounds concurrent readiness probes in one pass.
const probeParallel = 256

// fleetView is the fleet as one pass saw it.
type fleetView struct {
	containers []fleet.Container
	ready      map[string]bool
	probeErr   map[string]error
	// services and tasks are the Swarm's, when the spec has swarm apps;
	// taskReplicas are the running tasks of swarm apps as containers at
	// their node's address, swarmReady those that answered.
	services     []fleet.Service
	tasks        []fleet.Task
	taskReplicas []fleet.Container
	swarmReady   []fleet.Container
	// swarmRouted, when set, are the swarm members the balancer routes to
	// while a pass waits for Swarm (swarm.go).
	swarmRouted []fleet.Container
	// reused are the containers whose verdict came from the state (fresh
	// enough), not from a probe of this pass.
	reused map[string]bool
}

// replicasOf is where an app's replicas are observed: its containers, or
// for a swarm app its tasks (other apps' entries are mixed in).
func (f fleetView) replicasOf(a *spec.App) []fleet.Container {
	if a.OnSwarm() {
		return f.taskReplicas
	}
	return f.containers
}

// observeFleet lists and probes; it sets x.fleet, the balancer members
// and the per-app counts.
func (x *pass) observeFleet(ctx context.Context) error {
	cs, err := x.engine.List(ctx, x.spec.Project, x.spec.Docker.Network)
	if err != nil {
		return fmt.Errorf("observe docker: %w", err)
	}
	f := fleetView{containers: cs, ready: map[string]bool{}, probeErr: map[string]error{}, reused: map[string]bool{}}
	var targets []probe.Target
	var ids []string
	now := x.clock.Now()
	for _, c := range cs {
		a := x.spec.App(c.App)
		if a == nil || !c.Running() {
			continue
		}
		if a.Health.Type != "docker" && (c.Health == "unhealthy" || c.Health == "starting") {
			// The image's own HEALTHCHECK vetoes readiness too.
			f.probeErr[c.ID] = fmt.Errorf("docker health is %s", c.Health)
			continue
		}
		if cnt := x.state.Probes[c.ID]; !x.probeAll && cnt != nil && fresh(cnt, a, now) {
			// heal probed it less than health.interval ago: its verdict
			// stands (a new, unknown or stale replica is probed).
			f.reused[c.ID] = true
			if cnt.Failures == 0 {
				f.ready[c.ID] = true
			} else {
				f.probeErr[c.ID] = errors.New(cnt.LastError)
			}
			continue
		}
		targets = append(targets, probe.Target{Addr: c.Addr, Direct: c.DirectAddr, ContainerID: c.ID, Health: c.Health, Check: rollout.CheckOf(a)})
		ids = append(ids, c.ID)
	}
	for i, err := range x.prober.All(ctx, targets, probeParallel) {
		if err == nil {
			f.ready[ids[i]] = true
		} else {
			f.probeErr[ids[i]] = err
		}
	}
	x.fleet = f
	if err := x.observeSwarmApps(ctx); err != nil {
		return err
	}
	x.swarmCounts() // swarm.go: an autoscaled swarm app's count in force is on its service
	// What the probes change and whom the balancer routes to: pure
	// decisions on what was observed, that every pass needs to render.
	x.probed = plan.UpdateProbes(x.spec, append(cs[:len(cs):len(cs)], x.fleet.taskReplicas...), x.fleet.probes(), x.state.Probes, x.clock.Now()) // swarm tasks' counters too
	x.members, x.panics = plan.Members(x.spec, cs, x.probed.Counters)
	x.apps = plan.Status(x.spec, x.want, x.fleet.replicasOf, x.fleet.ready, x.state)
	return nil
}

// probes are this pass's probe results of local containers: nil for a
// pass, the error for a failure; a container not probed is missing.
func (f fleetView) probes() map[string]error {
	out := make(map[string]error, len(f.ready)+len(f.probeErr))
	for id := range f.ready {
		if !f.reused[id] {
			out[id] = nil
		}
	}
	for id, err := range f.probeErr {
		if !f.reused[id] {
			out[id] = err
		}
	}
	return out
}

// fresh reports whether a replica's last verdict is younger than its
// app's health.interval, so a pass other than heal may reuse it.
func fresh(cnt *state.Probe, a *spec.App, now time.Time) bool {
	return !cnt.LastAt.IsZero() && cnt.Successes+cnt.Failures > 0 && now.Sub(cnt.LastAt) < a.Health.Interval.D
}

// fleetSteps are what observeFleet found for every pass that probes:
// replicas that started failing or recovered (unless the pass's decider
// reports them itself) and apps under panic routing.
func (x *pass) fleetSteps(health bool) []plan.Step {
	var out []plan.Step
	if health {
		for _, f := range x.probed.Findings {
			out = append(out, plan.NewFinding(f.Type, f.App, f.Container, f.Reason))
		}
	}
	return append(out, x.panics...)
}

// rememberProbes is the commit of this pass's probe counters.
func (x *pass) rememberProbes(st *state.State, _ []plan.Outcome) { st.Probes = x.probed.Counters }

// observeSwarmApps lists services and tasks (two calls) and probes the
// running tasks of swarm apps at their node's address.
func (x *pass) observeSwarmApps(ctx context.Context) error {
	if !x.spec.HasSwarmApps() {
		return nil
	}
	f := &x.fleet
	var err error
	if f.services, err = x.engine.Services(ctx); err != nil {
		return fmt.Errorf("observe swarm: %w", err)
	}
	if f.tasks, err = x.engine.Tasks(ctx); err != nil {
		return fmt.Errorf("observe swarm: %w", err)
	}
	running := plan.SwarmMembers(x.spec, x.nodes, f.services, f.tasks)
	targets := make([]probe.Target, len(running))
	for i, c := range running {
		targets[i] = probe.Target{Addr: c.Addr, Check: rollout.CheckOf(x.spec.App(c.App))}
	}
	f.swarmReady = nil
	for i, err := range x.prober.All(ctx, targets, probeParallel) {
		if err == nil {
			f.ready[running[i].ID] = true
			f.swarmReady = append(f.swarmReady, running[i])
		} else {
			f.probeErr[running[i].ID] = err
		}
	}
	f.taskReplicas = running
	return nil
}
