// What a pass keeps about swarm apps: the autoscaler's memory on the service, the nodes after a pass.

package commands

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// eachStep applies do to every step, in order.
func eachStep(steps []plan.Step, do func(s plan.Step) error) []plan.Outcome {
	outs := make([]plan.Outcome, len(steps))
	for i, s := range steps {
		outs[i] = plan.Outcome{Step: s, Err: do(s)}
	}
	return outs
}

// nodesAfter lists the Swarm's nodes again once the pass acted (when it
// listed them at its start): a node that went down during the pass is a
// finding, and the pass exits 3 naming it, as for one down at the start.
func (x *pass) nodesAfter(ctx context.Context) []plan.Outcome {
	if x.nodes == nil {
		return nil
	}
	nodes, err := x.engine.Nodes(ctx)
	if err != nil {
		x.env.warnf("swarm: %v", err)
		return nil
	}
	var outs []plan.Outcome
	for _, d := range plan.DownNodes(nodes) {
		if !slices.Contains(x.down, d) {
			x.down = append(x.down, d)
			outs = append(outs, plan.Outcome{Step: downFinding(d, strings.TrimSuffix(d, ": skipped")+" (it went down during the pass)")})
		}
	}
	return outs
}

// LabelAutoscale is the service label holding a swarm app's autoscaler
// memory (state.Autoscale as JSON): every manager's scale pass reads and
// writes the same one.
const LabelAutoscale = "baton.autoscale"

// autoscaleMemory is the autoscaler's memory for an app: for a swarm app
// the one on its service (written by whichever manager's pass ran last),
// else — and for a swarm app whose service has none yet — the state
// file's.
func (x *pass) autoscaleMemory(a *spec.App) *state.Autoscale {
	if a.OnSwarm() {
		if svc, ok := x.serviceOf(a); ok {
			if raw := svc.Labels[LabelAutoscale]; raw != "" {
				var mem state.Autoscale
				if err := json.Unmarshal([]byte(raw), &mem); err == nil {
					return &mem
				}
				x.env.warnf("autoscale %s: the memory on service %s does not decode; starting afresh", a.Name, svc.Name)
				return nil
			}
		}
	}
	if st := x.state.App(a.Name); st != nil {
		return st.Autoscale
	}
	return nil
}

// serviceOf is the observed service of a swarm app.
func (x *pass) serviceOf(a *spec.App) (fleet.Service, bool) {
	for _, svc := range x.fleet.services {
		if svc.Labels[fleet.LabelProject] == x.spec.Project && svc.Labels[fleet.LabelApp] == a.Name {
			return svc, true
		}
	}
	return fleet.Service{}, false
}

// swarmCounts sets the count in force of each autoscaled swarm app from
// the memory on its service (the last decision of any manager's scale
// pass), clamped to its bounds, as plan.Desired does with the state's.
func (x *pass) swarmCounts() {
	for _, a := range x.spec.Apps {
		if !a.OnSwarm() || a.Autoscale == nil {
			continue
		}
		if mem := x.autoscaleMemory(a); mem != nil {
			x.want[a.Name] = min(max(mem.Desired, a.Autoscale.Min), a.Autoscale.Max)
		}
	}
}

// storeSwarmMemory writes what the pass's commit remembered for swarm apps
// (the autoscaler's memory) to their services, as a label updated on a
// fresh read at its version, and keeps it out of the state file, which
// holds only what is per host. When the write fails the state file keeps
// it, and the next pass tries again.
func (x *pass) storeSwarmMemory(ctx context.Context) {
	for _, a := range x.spec.Apps {
		if !a.OnSwarm() || a.Autoscale == nil {
			continue
		}
		st := x.state.App(a.Name)
		if st == nil || st.Autoscale == nil {
			continue
		}
		svc, ok := x.serviceOf(a)
		if !ok {
			continue // created in this pass: the next pass writes it
		}
		b, err := json.Marshal(st.Autoscale)
		if err != nil {
			continue
		}
		if svc.Labels[LabelAutoscale] != string(b) {
			if err := x.engine.EditService(ctx, svc, fleet.ServiceEdit{SetLabels: map[string]string{LabelAutoscale: string(b)}}); err != nil {
				x.env.warnf("autoscale %s: %v (kept in the state file; the next pass writes it)", a.Name, err)
				continue
			}
		}
		st.Autoscale = nil
	}
}
