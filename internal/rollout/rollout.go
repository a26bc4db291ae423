// Package rollout applies scale actions in the order that keeps every
// request served.
//
// This file enforces the zero-downtime rule: a container the balancer
// routes to is never stopped before a config without it has been tested and
// reloaded and its drain period has passed; a new container enters the
// balancer only after it answers its readiness check; a replacement that
// fails leaves the old container serving.
//
// A pass runs in steps. The first step carries every start, every removal
// and the first replacement; each further replacement is a step of its own
// (rolling one replica at a time). Each step: start the new containers
// (concurrently) → wait until they answer → one balancer sync with the new
// membership → wait the drain period → stop and remove the old containers.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baton-orchestrator/baton/internal/clock"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/probe"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// Engine is what the runner needs from Docker.
type Engine interface {
	EnsureImage(ctx context.Context, ref, policy string) error
	Start(ctx context.Context, w fleet.Want) (fleet.Container, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
	Remove(ctx context.Context, id string) error
	Inspect(ctx context.Context, id string) (fleet.Exit, error)
	Rename(ctx context.Context, id, name string) error
	// The stack's prerequisites and stop-first's way back (stopfirst.go).
	EnsureVolume(ctx context.Context, project string, w fleet.VolumeWant) error
	EnsureNetwork(ctx context.Context, project string, w fleet.NetworkWant) error
	StartExisting(ctx context.Context, id, network string) (fleet.Container, error)
}

// Prober checks whether a replica answers.
type Prober interface {
	Do(ctx context.Context, t probe.Target) error
}

// Runner applies actions. All fields are required except Logf.
type Runner struct {
	Spec   *spec.Spec
	Engine Engine
	Probe  Prober
	// Sync makes the balancer route to exactly members (render, write,
	// test, reload as needed).
	Sync func(ctx context.Context, members []fleet.Container) error
	// Clock tells the time for readiness deadlines and waits the drain
	// periods and probe intervals.
	Clock clock.Clock
	// Suffix returns a fresh suffix for container names.
	Suffix func() string
	// Logf reports progress; may be nil.
	Logf func(format string, args ...any)
	// Parallel bounds concurrent starts and stops; 0 means 4.
	Parallel int
}

// Outcome is what became of one action.
type Outcome struct {
	Action plan.Action
	New    *fleet.Container // the started container, for start and replace
	Err    error
}

// Report is the result of Run.
type Report struct {
	Outcomes []Outcome
	// Members is the balancer membership after the pass.
	Members []fleet.Container
	// SyncErr is set when the balancer could not be synced; the step's old
	// containers were then left running, since the balancer may still
	// route to them.
	SyncErr error
}

// Failed counts the actions that did not complete.
func (r Report) Failed() int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Err != nil {
			n++
		}
	}
	return n
}

func (r *Runner) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

// Run applies actions starting from the current membership. With no
// actions it still syncs the balancer once, so every pass leaves it
// consistent with what runs.
func (r *Runner) Run(ctx context.Context, actions []plan.Action, members []fleet.Container) Report {
	var first, replaces, stopFirst []plan.Action
	for _, a := range actions {
		switch {
		case r.stopsFirst(a):
			stopFirst = append(stopFirst, a)
		case a.Kind == plan.Replace:
			replaces = append(replaces, a)
		default:
			first = append(first, a)
		}
	}
	if len(replaces) > 0 {
		first = append(first, replaces[0])
		replaces = replaces[1:]
	}
	steps := [][]plan.Action{first}
	for _, a := range append(replaces, stopFirst...) {
		steps = append(steps, []plan.Action{a})
	}
	rep := Report{Members: members}
	images := map[string]error{}
	w := &watch{paused: map[string]error{}, rolled: map[string][]fleet.Container{}}
	for k, step := range steps {
		if len(step) > 0 {
			if step = r.held(ctx, w, step, &rep); len(step) == 0 {
				continue
			}
		}
		var outs []Outcome
		var next []fleet.Container
		var err error
		if len(step) == 1 && r.stopsFirst(step[0]) {
			outs, next, err = r.stopFirstStep(ctx, step[0], rep.Members, images)
		} else {
			outs, next, err = r.step(ctx, step, rep.Members, images)
		}
		rep.Outcomes = append(rep.Outcomes, outs...)
		rep.Members = next
		r.learn(w, outs)
		if err != nil {
			rep.SyncErr = err
			for _, rest := range steps[k+1:] {
				for _, a := range rest {
					rep.Outcomes = append(rep.Outcomes, Outcome{Action: a, Err: &plan.NotAttempted{Err: fmt.Errorf("not attempted: %w", err)}})
				}
			}
			break
		}
	}
	return rep
}

// watch is what a rollout learned about each app's new version in this
// pass: the replicas of it that replaced older ones, and why the app's
// rollout stopped.
type watch struct {
	paused map[string]error
	rolled map[string][]fleet.Container
}

// rollsOut: the action replaces a replica of an older spec (a rollout),
// not an unhealthy one of the current spec.
func (r *Runner) rollsOut(a plan.Action) bool {
	app := r.Spec.App(a.App)
	return a.Kind == plan.Replace && app != nil && a.Old != nil && a.Old.Hash != r.Spec.HashOf(app)
}

// learn notes a step's rollout replacements: a new replica that never got
// ready stops its app's rollout; one that did is watched.
func (r *Runner) learn(w *watch, outs []Outcome) {
	for _, o := range outs {
		if !r.rollsOut(o.Action) {
			continue
		}
		var nr *plan.NotReady
		switch {
		case errors.As(o.Err, &nr):
			w.paused[o.Action.App] = o.Err
		case o.Err == nil && o.New != nil:
			w.rolled[o.Action.App] = append(w.rolled[o.Action.App], *o.New)
		}
	}
}

// held drops from a step the rollout replacements of apps whose rollout
// stopped, as not attempted. Before the next replacement of an app it
// watches the app's new replicas of this pass for update.monitor (Swarm's
// update monitor): each must still run and pass its check, or the app's
// rollout stops with the older replicas serving.
func (r *Runner) held(ctx context.Context, w *watch, step []plan.Action, rep *Report) []plan.Action {
	var kept []plan.Action
	for _, a := range step {
		if !r.rollsOut(a) {
			kept = append(kept, a)
			continue
		}
		if w.paused[a.App] == nil && len(w.rolled[a.App]) > 0 {
			w.paused[a.App] = r.monitor(ctx, r.Spec.App(a.App), w.rolled[a.App])
			w.rolled[a.App] = nil // watched
		}
		if why := w.paused[a.App]; why != nil {
			rep.Outcomes = append(rep.Outcomes, Outcome{Action: a,
				Err: &plan.NotAttempted{Paused: true, Err: fmt.Errorf("not attempted: the rollout stopped (%v)", why)}})
			continue
		}
		kept = append(kept, a)
	}
	return kept
}

// monitor waits until the newest of cs has run update.monitor and checks
// that each still runs and passes its check; nil when they do.
func (r *Runner) monitor(ctx context.Context, app *spec.App, cs []fleet.Container) error {
	d := app.MonitorFor()
	if d <= 0 {
		return nil
	}
	newest := cs[0].Created
	for _, c := range cs[1:] {
		if c.Created.After(newest) {
			newest = c.Created
		}
	}
	if wait := newest.Add(d).Sub(r.Clock.Now()); wait > 0 {
		r.logf("watching the new replicas of %s for %s (update.monitor)", app.Name, wait.Round(time.Millisecond))
		if err := r.Clock.Sleep(ctx, wait); err != nil {
			return nil
		}
	}
	check := CheckOf(app)
	for _, c := range cs {
		x, err := r.Engine.Inspect(ctx, c.ID)
		if err == nil && !x.Running() {
			return &plan.NotReady{Err: fmt.Errorf("new replica %s %s within update.monitor (%s)", c.Name, x.String(), d)}
		}
		if err := r.Probe.Do(ctx, probe.Target{Addr: c.Addr, Direct: c.DirectAddr, ContainerID: c.ID, Health: x.Health, Check: check}); err != nil {
			return &plan.NotReady{Err: fmt.Errorf("new replica %s failed its check within update.monitor (%s): %w", c.Name, d, err)}
		}
	}
	return nil
}

// step runs one step and returns its outcomes and the new membership.
func (r *Runner) step(ctx context.Context, step []plan.Action, members []fleet.Container, images map[string]error) ([]Outcome, []fleet.Container, error) {
	outs := make([]Outcome, len(step))
	for i, a := range step {
		outs[i].Action = a
	}
	// 1. Make the images, volumes and networks present (once each per
	// pass, before the parallel part), start new containers and wait until
	// they answer.
	r.prepare(ctx, step, images)
	r.each(len(step), func(i int) {
		a := step[i]
		if a.Kind == plan.Remove {
			return
		}
		c, err := r.startReady(ctx, a, images)
		outs[i].New, outs[i].Err = c, err
	})
	// 2. The membership after this step.
	out := map[string]bool{} // container IDs leaving the balancer
	for _, o := range outs {
		a := o.Action
		if a.Kind == plan.Remove || (a.Kind == plan.Replace && o.Err == nil) {
			out[a.Old.ID] = true
		}
	}
	routed := map[string]bool{}
	var next []fleet.Container
	for _, m := range members {
		routed[m.ID] = true
		if !out[m.ID] {
			next = append(next, m)
		}
	}
	for _, o := range outs {
		if o.Err == nil && o.New != nil && r.Spec.App(o.Action.App).LB != nil {
			next = append(next, *o.New)
		}
	}
	// 3. One sync for the whole step. If it fails, nothing is stopped: the
	// balancer may still route to the old containers.
	if err := r.Sync(ctx, next); err != nil {
		for i := range outs {
			if outs[i].Action.Kind != plan.Start && outs[i].Err == nil {
				outs[i].Err = &plan.NotAttempted{Err: fmt.Errorf("left running: balancer sync failed")}
			}
		}
		return outs, members, err
	}
	// 4. Drain: wait the longest drain period among the routed containers
	// that are leaving.
	var drain time.Duration
	for _, o := range outs {
		a := o.Action
		if a.Old == nil || !out[a.Old.ID] || !routed[a.Old.ID] {
			continue
		}
		d := spec.DefaultDrain
		if app := r.Spec.App(a.App); app != nil {
			d = app.Drain.D
		}
		drain = max(drain, d)
	}
	if drain > 0 {
		r.logf("draining for %s", drain)
		if err := r.Clock.Sleep(ctx, drain); err != nil {
			return outs, next, err
		}
	}
	// 5. Stop and remove what left the balancer.
	r.each(len(outs), func(i int) {
		a := outs[i].Action
		if a.Old == nil || !out[a.Old.ID] {
			return
		}
		grace := spec.DefaultStopGrace
		if app := r.Spec.App(a.App); app != nil {
			grace = app.StopGrace.D
		}
		// Mark it first: if this pass dies between stop and remove, the
		// next one sees a retiring container and removes it.
		if !a.Old.Retiring() && a.Old.Name != "" {
			if err := r.Engine.Rename(ctx, a.Old.ID, a.Old.Name+fleet.RetiringSuffix); err != nil {
				outs[i].Err = err
				return
			}
		}
		if err := r.stopRemove(ctx, a.Old.ID, grace); err != nil {
			outs[i].Err = err
		}
	})
	return outs, next, nil
}
