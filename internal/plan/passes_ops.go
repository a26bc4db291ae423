// The plans of the passes that keep the host and the swarm: gc, mods refresh, labels sync and rebalance.

package plan

import (
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// GCPass decides a gc pass (GC): one Discard step per item, containers
// first, then images (now free), then volumes; afterwards the images'
// last use is remembered.
func GCPass(in GCInput, now time.Time) Plan {
	gp := GC(in, now)
	var steps []Step
	for _, kind := range []string{"container", "image", "volume"} {
		for _, it := range gp.Remove {
			if it.Kind == kind {
				steps = append(steps, Step{Kind: Discard, Type: "remove", Target: it.Kind + " " + it.Name, Reason: it.Reason, Do: it})
			}
		}
	}
	return Plan{Steps: steps, Commit: func(st *state.State, _ []Outcome) { st.SetGCMemory(in.Spec.GC.Scope, gp.LastUsed) }}
}

// ModsPass decides a mods refresh (RefreshMods); afterwards each fetched
// file's record is kept (Outcome.Data is its *state.Mod) and each pruned
// one forgotten.
func ModsPass(m *spec.Mods, onDisk map[string]ModFileObs, recorded map[string]*state.Mod, now time.Time) Plan {
	if m == nil {
		return Plan{}
	}
	var steps []Step
	for _, a := range RefreshMods(m, onDisk, recorded, now) {
		s := Step{Kind: Fetch, Type: "download", Target: a.Dest, Reason: a.Reason, Do: a}
		if a.Kind == "prune" {
			s.Kind, s.Type = Prune, "prune"
		}
		steps = append(steps, s)
	}
	return Plan{Steps: steps, Commit: func(st *state.State, outs []Outcome) {
		for _, o := range outs {
			a, ok := o.Step.Do.(ModAction)
			if !ok || o.Err != nil {
				continue
			}
			if st.Mods == nil {
				st.Mods = map[string]*state.Mod{}
			}
			if rec, ok := o.Data.(*state.Mod); ok && a.Kind == "fetch" {
				st.Mods[a.Dest] = rec
			}
			if a.Kind == "prune" {
				delete(st.Mods, a.Dest)
			}
		}
	}}
}

// LabelsPass decides a labels sync (SyncLabels): node labels set, then
// dependents changed, then node labels removed, then dependents settled
// (one executor applies them in this order), then findings. What the pass
// remembers lives on the nodes and services themselves; afterwards only
// the legacy local record of unnamespaced anchor labels is kept for the
// nodes whose removals went through.
func LabelsPass(in LabelsInput) Plan {
	lp := SyncLabels(in)
	var steps []Step
	node := func(c LabelChange) Step {
		return Step{Kind: NodeLabels, Type: "label", Target: "node " + c.Node.Hostname, Reason: c.Reason, Do: c}
	}
	service := func(c ServiceChange) Step {
		return Step{Kind: Dependent, Type: "label", Target: "service " + c.Service.Name, Reason: c.Reason, Do: c}
	}
	for _, c := range lp.Sets {
		steps = append(steps, node(c))
	}
	for _, c := range lp.Services {
		steps = append(steps, service(c))
	}
	for _, c := range lp.Removes {
		steps = append(steps, node(c))
	}
	for _, c := range lp.Settle {
		steps = append(steps, service(c))
	}
	for _, s := range lp.lasting.Findings("finding", lp.Findings) {
		if f := s.Reason; strings.HasPrefix(f, QuorumRefusal) {
			s.Type, s.Partial = "quorum", f
			s.Key = "quorum node " + strings.SplitN(strings.TrimPrefix(f, QuorumRefusal), ":", 2)[0]
			s.Hint = "a demotion that leaves too few reachable managers would freeze the swarm: bring the managers back, or promote others first"
		}
		steps = append(steps, s)
	}
	return Plan{Steps: steps, Commit: func(st *state.State, outs []Outcome) {
		failed := map[string]bool{}
		for _, o := range outs {
			if c, ok := o.Step.Do.(LabelChange); ok && o.Err != nil && len(c.Remove) > 0 {
				failed[c.Node.ID] = true
			}
		}
		out := map[string][]string{}
		for id, keys := range st.NodeLabels {
			out[id] = keys
		}
		for id := range out {
			if keys, decided := lp.Owned[id]; decided && !failed[id] {
				out[id] = keys
			}
		}
		for id, keys := range out {
			if len(keys) == 0 {
				delete(out, id)
			}
		}
		if len(out) == 0 {
			out = nil
		}
		st.NodeLabels = out
	}}
}

// NodeNote is a sentence about one node: one whose usage was not read.
type NodeNote struct{ Node, Text string }

// RebalancePass decides a rebalance pass (Rebalance): unpins, moves, then
// findings (first those of unread, the nodes whose usage was not read) (a move Swarm gave up makes the pass partly done); the node
// loads before and after go to Info. Afterwards moves of the legacy local
// record older than both cooldowns are forgotten (unless the pass only
// reports): the move times are the services' own labels.
func RebalancePass(in RebalanceInput, unread []NodeNote) Plan {
	rp := Rebalance(in)
	var first []string
	for _, u := range unread {
		rp.lasting.Note(&first, "usage", "node "+u.Node, u.Text)
	}
	rp.Findings = append(first, rp.Findings...)
	var steps []Step
	for _, u := range rp.Unpins {
		steps = append(steps, Step{Kind: UnpinService, Type: "rebalance-unpin", Target: "service " + u.Name, Reason: u.Reason, Do: u})
	}
	for _, m := range rp.Moves {
		steps = append(steps, Step{Kind: MoveService, Type: "rebalance-move", Target: "service " + m.Name, Reason: m.Reason, Do: m})
	}
	steps = append(steps, rp.lasting.Findings("finding", rp.Findings)...)
	for _, f := range rp.Failed {
		s := NewFinding("move-failed", "", "", f)
		s.Partial = f
		steps = append(steps, s)
	}
	// The move times live on the services (baton.rebalance.moved, set by
	// the pin); the local record of older versions only ages out.
	return Plan{Steps: steps, Info: rp, Commit: func(st *state.State, outs []Outcome) {
		if in.ReportOnly {
			return
		}
		keep := max(in.Config.Cooldown.D, in.Config.ServiceCooldown.D)
		for name, at := range st.Moved {
			if in.Now.Sub(at) > keep {
				delete(st.Moved, name)
			}
		}
	}}
}
