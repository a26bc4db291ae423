package commands

// balancer.go renders the balancer config for the pass's members and
// applies it: the Sync executor, and the sync a rollout asks for after
// each of its steps.

import (
	"context"
	"fmt"

	"github.com/baton-orchestrator/baton/internal/balancer"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/templates"
)

// lbResult says what a balancer sync did or, on a dry run, would do.
type lbResult struct {
	Path     string `json:"path"`
	Changed  bool   `json:"changed"`
	Reloaded bool   `json:"reloaded"`
	// Tested: the test command ran on these bytes (new ones, or untested
	// ones a killed pass left on disk).
	Tested bool   `json:"tested,omitempty"`
	Diff   string `json:"diff,omitempty"`
	// during: the sync was part of other actions (a rollout's step, a
	// swarm change), which the event log records instead.
	during bool
}

// acted reports whether the sync did anything: wrote, tested or reloaded.
func (r *lbResult) acted() bool { return r.Changed || r.Reloaded || r.Tested }

// planned is the printed result of a step on a dry run.
func planned(s plan.Step) any {
	if ch, ok := s.Do.(*plan.BalancerChange); ok {
		return &lbResult{Path: ch.Path, Changed: ch.Write, Reloaded: true, Diff: ch.Diff}
	}
	return nil
}

// balancerStep decides the sync that makes the balancer route to members
// (and the ready tasks of swarm apps). Without an nginx section there is
// none. It reads the config file as it is now (observation) and renders.
func (x *pass) balancerStep(members []fleet.Container) (plan.Step, bool, error) {
	n := x.spec.Nginx
	if n == nil {
		return plan.Step{}, false, nil
	}
	members = append(members[:len(members):len(members)], x.fleet.routedSwarm()...) // swarm.go
	view := plan.Balancer(x.spec, members)
	rendered, err := templates.Render(x.tmpl, view)
	if err != nil {
		return plan.Step{}, false, err
	}
	path := x.spec.Resolve(n.Config)
	current, existed, err := balancer.Current(path)
	if err != nil {
		return plan.Step{}, false, err
	}
	digest := balancer.Digest(rendered, view.Files) // reads the certificates
	st, ok := plan.SyncBalancer(path, current, existed, rendered, view.Files, digest, x.state.BalancerState(path))
	return st, ok, nil
}

// execSync is the executor of balancer steps.
var execSync = executor{kinds: []plan.Kind{plan.Sync}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	outs := make([]plan.Outcome, len(steps))
	for i, s := range steps {
		outs[i] = x.applyBalancer(ctx, s)
	}
	return outs
}}

// applyBalancer writes, tests and reloads one decided change.
func (x *pass) applyBalancer(ctx context.Context, s plan.Step) plan.Outcome {
	ch := s.Do.(*plan.BalancerChange)
	n := x.spec.Nginx
	r, err := balancer.Apply(ctx, balancer.Config{Path: ch.Path, Test: n.Test, Reload: n.Reload, Dir: x.spec.Dir, Files: ch.Files},
		ch.Rendered, x.state.BalancerState(ch.Path), x.clock.Now())
	res := &lbResult{Path: ch.Path, Changed: r.Changed, Reloaded: r.Reloaded, Tested: r.Tested}
	if err != nil {
		x.syncErr = fmt.Errorf("balancer %s: %w", ch.Path, err)
		return plan.Outcome{Step: s, Err: x.syncErr, Data: res}
	}
	if r.Reloaded {
		x.env.logf("balancer: reloaded %s (changed: %v)", ch.Path, r.Changed)
	}
	return plan.Outcome{Step: s, Data: res}
}

// syncTo makes the balancer route to members now (for the rollout's
// steps and after swarm changes): the outcome, if anything was to do.
func (x *pass) syncTo(ctx context.Context, members []fleet.Container) (plan.Outcome, bool) {
	x.members = members
	s, ok, err := x.balancerStep(members)
	if err != nil {
		x.syncErr = err
		return plan.Outcome{Step: plan.Step{Kind: plan.Sync, Type: "balancer", Target: x.spec.Resolve(x.spec.Nginx.Config), Reason: "membership changed"}, Err: err}, true
	}
	if !ok {
		return plan.Outcome{}, false
	}
	o := x.applyBalancer(ctx, s)
	o.Data.(*lbResult).during = true
	return o, true
}
