package rollout

// stopfirst.go replaces a replica stop-first, for a singleton that owns a
// fixed host port or an exclusive volume: the old container leaves the
// balancer (a tested reload, then its drain), stops, and only then does
// the new one start. It also makes each start's prerequisites present
// (image, volumes, networks) once per pass.
//
// This file enforces: the image and the stack's volumes and networks are
// present before the old container stops (a pull never lengthens the
// gap); the old container is stopped, never removed, until the new one
// answers; when the new one does not, it is removed and the old one is
// started again and put back; a balancer sync that fails before the stop
// leaves the old container serving.

import (
	"context"
	"errors"
	"fmt"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// stopsFirst reports whether a is replaced stop-first (plan.StopsFirst).
func (r *Runner) stopsFirst(a plan.Action) bool { return plan.StopsFirst(r.Spec, a) }

// prepare makes present what the step's starts need, once per pass each:
// images by reference, volumes and networks by "volume NAME" and
// "network NAME". Errors are kept in done; starts that need a failed one
// fail with it.
func (r *Runner) prepare(ctx context.Context, step []plan.Action, done map[string]error) {
	for _, a := range step {
		app := r.Spec.App(a.App)
		if a.Kind == plan.Remove || app == nil {
			continue
		}
		if _, ok := done[app.Image]; !ok {
			done[app.Image] = r.Engine.EnsureImage(ctx, app.Image, app.Pull)
		}
		w := plan.Want(r.Spec, app, a.Replica, "")
		for _, v := range w.NeedVolumes {
			if _, ok := done["volume "+v.Name]; !ok {
				done["volume "+v.Name] = r.Engine.EnsureVolume(ctx, r.Spec.Project, v)
			}
		}
		for _, n := range w.NeedNetworks {
			if _, ok := done["network "+n.Name]; !ok {
				done["network "+n.Name] = r.Engine.EnsureNetwork(ctx, r.Spec.Project, n)
			}
		}
	}
}

// prepared returns the first failed prerequisite of w.
func prepared(w fleet.Want, done map[string]error) error {
	for _, v := range w.NeedVolumes {
		if err := done["volume "+v.Name]; err != nil {
			return err
		}
	}
	for _, n := range w.NeedNetworks {
		if err := done["network "+n.Name]; err != nil {
			return err
		}
	}
	return nil
}

// stopFirstStep replaces one replica stop-first and returns its outcome
// and the new membership. An error is a balancer sync that failed.
func (r *Runner) stopFirstStep(ctx context.Context, a plan.Action, members []fleet.Container, done map[string]error) ([]Outcome, []fleet.Container, error) {
	out := Outcome{Action: a}
	app := r.Spec.App(a.App)
	old := *a.Old
	r.prepare(ctx, []plan.Action{a}, done)
	if err := done[app.Image]; err != nil {
		out.Err = err
		return []Outcome{out}, members, nil
	}
	if err := prepared(plan.Want(r.Spec, app, a.Replica, ""), done); err != nil {
		out.Err = err
		return []Outcome{out}, members, nil
	}
	// 1. Out of the balancer, then its drain.
	routed := false
	var without []fleet.Container
	for _, m := range members {
		if m.ID == old.ID {
			routed = true
		} else {
			without = append(without, m)
		}
	}
	if routed {
		if err := r.Sync(ctx, without); err != nil {
			out.Err = &plan.NotAttempted{Err: fmt.Errorf("left running: balancer sync failed")}
			return []Outcome{out}, members, err
		}
		if app.Drain.D > 0 {
			r.logf("draining for %s", app.Drain.D)
			if err := r.Clock.Sleep(ctx, app.Drain.D); err != nil {
				out.Err = err
				return []Outcome{out}, without, err
			}
		}
	}
	// 2. Stop the old container and keep it, marked retiring: a pass that
	// dies now leaves it for the next one to remove. One that is not
	// running (heal replacing an exited replica) is left as it is, with
	// its logs, until the new one answers.
	if old.Running() && !old.Retiring() && old.Name != "" {
		if err := r.Engine.Rename(ctx, old.ID, old.Name+fleet.RetiringSuffix); err != nil {
			out.Err = err
			return r.putBack(ctx, out, members, without, routed)
		}
	}
	if old.Running() {
		if err := r.Engine.Stop(ctx, old.ID, app.StopGrace.D); err != nil {
			out.Err = err
			if restored, rerr := r.restoreOld(ctx, app, old); rerr == nil {
				return r.putBack(ctx, out, replaceMember(members, old.ID, restored), without, routed)
			}
			return []Outcome{out}, without, nil
		}
	}
	// 3. Start the new one; if it does not answer, go back to the old one.
	c, err := r.startReady(ctx, a, done)
	if err != nil {
		if !old.Running() {
			out.Err = err
			return []Outcome{out}, without, nil
		}
		restored, rerr := r.restoreOld(ctx, app, old)
		if rerr != nil {
			out.Err = errors.Join(err, fmt.Errorf("the old container could not be started again: %w", rerr))
			return []Outcome{out}, without, nil
		}
		out.Err = fmt.Errorf("%w; the old container %s was started again", err, old.Name)
		return r.putBack(ctx, out, replaceMember(members, old.ID, restored), without, routed)
	}
	out.New = c
	// 4. Into the balancer, then the old container goes.
	next := without
	if app.LB != nil {
		next = append(append([]fleet.Container{}, without...), *c)
		if err := r.Sync(ctx, next); err != nil {
			// The new container runs the current spec; the next pass
			// routes to it. The old one stays stopped and retiring.
			out.Err = fmt.Errorf("started, but the balancer sync failed")
			return []Outcome{out}, without, err
		}
	}
	if err := r.Engine.Remove(ctx, old.ID); err != nil {
		out.Err = err
	}
	return []Outcome{out}, next, nil
}

// restoreOld starts the stopped old container again under its own name
// and waits until it answers.
func (r *Runner) restoreOld(ctx context.Context, app *spec.App, old fleet.Container) (fleet.Container, error) {
	ctx = context.WithoutCancel(ctx)
	if old.Name != "" && !old.Retiring() {
		if err := r.Engine.Rename(ctx, old.ID, old.Name); err != nil {
			return old, err
		}
	}
	c, err := r.Engine.StartExisting(ctx, old.ID, r.Spec.Docker.Network)
	if err != nil {
		return old, err
	}
	if c.ID == "" {
		c = old
	}
	r.logf("started %s again", old.Name)
	if err := r.waitReady(ctx, app, c); err != nil {
		return c, fmt.Errorf("old container %s: %w", old.Name, err)
	}
	return c, nil
}

// putBack routes to the old container again after a failed replacement
// (members holds it, with its address after a restart).
func (r *Runner) putBack(ctx context.Context, out Outcome, members, without []fleet.Container, routed bool) ([]Outcome, []fleet.Container, error) {
	if !routed {
		return []Outcome{out}, without, nil
	}
	if err := r.Sync(ctx, members); err != nil {
		return []Outcome{out}, without, err
	}
	return []Outcome{out}, members, nil
}

func replaceMember(members []fleet.Container, id string, c fleet.Container) []fleet.Container {
	out := make([]fleet.Container, 0, len(members))
	for _, m := range members {
		if m.ID == id {
			m = c
		}
		out = append(out, m)
	}
	return out
}
