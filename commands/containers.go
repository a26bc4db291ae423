package commands

// containers.go holds the executors that act on local containers: the
// rollout (start, replace, remove in zero-downtime order, syncing the
// balancer after each of its steps) and gc's removals.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/baton-orchestrator/baton/internal/bounded"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/rollout"
)

// execRollout applies scale's and heal's container actions.
var execRollout = executor{kinds: []plan.Kind{plan.Start, plan.Replace, plan.Remove}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	actions := make([]plan.Action, len(steps))
	for i, s := range steps {
		actions[i] = *s.Do.(*plan.Action)
	}
	var syncs []plan.Outcome
	r := &rollout.Runner{
		Spec: x.spec, Engine: x.engine, Probe: x.prober, Clock: x.clock, Suffix: suffix, Logf: x.env.logf,
		Sync: func(ctx context.Context, m []fleet.Container) error {
			o, ok := x.syncTo(ctx, m)
			if !ok {
				return nil
			}
			syncs = append(syncs, o)
			return o.Err
		},
	}
	// depends_on: the actions run in waves, each once the dependencies it
	// waits for have a ready replica (the ones the wave before started
	// count); what still waits after the last wave is a finding.
	counts := x.fleet.counts()
	var outs []plan.Outcome
	for pending := actions; len(pending) > 0; {
		now, later, waiting := plan.HoldForDependencies(x.spec, pending, counts)
		if len(now) == 0 {
			for _, f := range waiting {
				outs = append(outs, plan.Outcome{Step: plan.WaitingFinding(f, f.Reason+"; its start in this pass did not answer")})
			}
			break
		}
		res := r.Run(ctx, now, x.members)
		x.members = res.Members
		var started []fleet.Container
		for _, o := range res.Outcomes {
			out := plan.Outcome{Step: plan.ActionStep(o.Action), Err: o.Err}
			if o.New != nil {
				out.Data, out.Note = o.New, o.New.Name
				started = append(started, *o.New)
			}
			outs = append(outs, out)
		}
		counts = plan.AddStarted(counts, started)
		pending = later
	}
	return append(outs, syncs...)
}}

func suffix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// execDiscard applies gc's removals, in plan order (containers, images,
// volumes), and measures the image-layer space they freed.
var execDiscard = executor{kinds: []plan.Kind{plan.Discard}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	before := int64(-1)
	for _, s := range steps {
		if s.Do.(plan.GCItem).Kind == "image" {
			if b, err := x.engine.LayersSize(ctx); err == nil {
				before = b
			}
			break
		}
	}
	outs := make([]plan.Outcome, len(steps))
	for i, s := range steps {
		outs[i] = plan.Outcome{Step: s, Err: x.discard(ctx, s.Do.(plan.GCItem))}
	}
	var reclaimed int64
	if before >= 0 {
		if after, err := x.engine.LayersSize(ctx); err == nil && before > after {
			reclaimed = before - after
		}
	}
	x.info["reclaimed_bytes"] = reclaimed
	return outs
}}

func (x *pass) discard(ctx context.Context, it plan.GCItem) error {
	switch it.Kind {
	case "container":
		return x.engine.RemoveStopped(ctx, it.ID)
	case "image":
		for _, ref := range it.Refs {
			if err := x.engine.RemoveImage(ctx, ref); err != nil {
				return err
			}
		}
		return nil
	case "volume":
		return x.engine.RemoveVolume(ctx, it.ID)
	}
	return fmt.Errorf("unknown kind %q", it.Kind)
}

// inspectStopped inspects the given stopped containers concurrently (at
// most 8 at once). A failed inspect is left out: the reason then names the
// state from the list.
func (x *pass) inspectStopped(ctx context.Context, cs []fleet.Container) map[string]fleet.Exit {
	out := map[string]fleet.Exit{}
	var mu sync.Mutex
	bounded.Each(len(cs), 8, func(i int) {
		if e, err := x.engine.Inspect(ctx, cs[i].ID); err == nil {
			mu.Lock()
			out[cs[i].ID] = e
			mu.Unlock()
		}
	})
	return out
}
