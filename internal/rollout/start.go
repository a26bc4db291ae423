// Starting one new replica and waiting until it answers.

package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baton-orchestrator/baton/internal/bounded"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/probe"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// discard removes a new container that never entered the balancer, best
// effort: it is marked retiring first, so if the removal fails the next
// pass removes it.
func (r *Runner) discard(ctx context.Context, c fleet.Container) {
	ctx = context.WithoutCancel(ctx)
	if c.Name != "" {
		_ = r.Engine.Rename(ctx, c.ID, c.Name+fleet.RetiringSuffix)
	}
	_ = r.stopRemove(ctx, c.ID, 0)
}

func (r *Runner) stopRemove(ctx context.Context, id string, grace time.Duration) error {
	if err := r.Engine.Stop(ctx, id, grace); err != nil {
		return err
	}
	return r.Engine.Remove(ctx, id)
}

// startReady starts the replica of a and waits until it answers. A replica
// that does not answer is stopped and removed again: it never entered the
// balancer.
func (r *Runner) startReady(ctx context.Context, a plan.Action, images map[string]error) (*fleet.Container, error) {
	app := r.Spec.App(a.App)
	if app == nil {
		return nil, fmt.Errorf("app %q is not in the spec", a.App)
	}
	if err := images[app.Image]; err != nil {
		return nil, err
	}
	w := plan.Want(r.Spec, app, a.Replica, r.Suffix())
	w.Carry = a.Carry
	if err := prepared(w, images); err != nil {
		return nil, err
	}
	r.logf("starting %s", w.Name)
	c, err := r.Engine.Start(ctx, w)
	if err != nil {
		if c.ID != "" {
			r.discard(ctx, c)
		}
		return nil, err
	}
	if app.LB != nil && c.Addr == "" {
		r.discard(ctx, c)
		return nil, fmt.Errorf("container %s has no reachable address for port %d", c.Name, app.Port)
	}
	if err := r.waitReady(ctx, app, c); err != nil {
		var ex *exitedError
		if !errors.As(err, &ex) {
			r.discard(ctx, c)
		}
		// A container that exited on its own is kept (stopped) so that
		// `docker logs` shows why; heal and gc see it as exited.
		return nil, fmt.Errorf("new replica %s: %w", c.Name, err)
	}
	r.logf("%s is ready at %s", c.Name, c.Addr)
	return &c, nil
}

// waitReady probes a new container until it answers or its ready timeout
// passes. It inspects the container about once a second while it does not
// answer, so one that exits at start fails fast with its exit code (and an
// OOM kill named) instead of waiting the whole timeout.
func (r *Runner) waitReady(ctx context.Context, app *spec.App, c fleet.Container) error {
	const interval = 100 * time.Millisecond
	check := CheckOf(app)
	deadline := r.Clock.Now().Add(app.Health.ReadyTimeout.D)
	lastInspect := r.Clock.Now()
	t := probe.Target{Addr: c.Addr, Direct: c.DirectAddr, ContainerID: c.ID, Check: check}
	for {
		if now := r.Clock.Now(); check.Type == "docker" || now.Sub(lastInspect) >= time.Second {
			lastInspect = now
			x, err := r.Engine.Inspect(ctx, c.ID)
			if err == nil && !x.Running() {
				return &plan.NotReady{Err: &exitedError{x}}
			}
			t.Health = x.Health
		}
		err := r.Probe.Do(ctx, t)
		if err == nil {
			return nil
		}
		if r.Clock.Now().Add(interval).After(deadline) {
			return &plan.NotReady{Err: fmt.Errorf("not ready within %s: %w", app.Health.ReadyTimeout.D, err)}
		}
		if err := r.Clock.Sleep(ctx, interval); err != nil {
			return err
		}
	}
}

// exitedError says a new container stopped on its own before it answered.
type exitedError struct{ exit fleet.Exit }

func (e *exitedError) Error() string { return e.exit.String() + " before it answered" }

// CheckOf is the probe of an app.
func CheckOf(a *spec.App) probe.Check {
	h := a.Health
	return probe.Check{Type: h.Type, Path: h.Path, Statuses: h.Statuses, Headers: h.Headers, Command: h.Command, Timeout: h.Timeout.D}
}

// each runs f(0..n-1) with at most Parallel at once.
func (r *Runner) each(n int, f func(i int)) {
	bound := r.Parallel
	if bound <= 0 {
		bound = 4
	}
	bounded.Each(n, bound, f)
}
