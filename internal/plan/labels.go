package plan

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// AnchorLabelPrefix starts the node labels baton uses to mark where an
// anchor's tasks run: baton.anchor.<anchor service>=true.
const AnchorLabelPrefix = "baton.anchor."

// AnchorConstraint is the placement constraint that makes a dependent
// follow its anchor.
func AnchorConstraint(anchor string) string {
	return "node.labels." + AnchorLabelPrefix + anchor + "==true"
}

// LabelChange is one node's label update.
type LabelChange struct {
	Node   fleet.Node
	Labels map[string]string // the node's labels after the change
	Set    map[string]string
	Remove []string
	Reason string
}

// ServiceChange is one service update.
type ServiceChange struct {
	Service       fleet.Service
	AddConstraint string
	Restart       bool
	Reason        string
}

// LabelsPlan is labels sync's decision.
type LabelsPlan struct {
	Nodes    []LabelChange
	Services []ServiceChange
	// Findings are things reported but not acted on (a node down, an
	// anchor with no running task, a restart in its cooldown).
	Findings []string
	// Owned are the label keys baton owns per node after the pass.
	Owned map[string][]string
}

// SyncLabels decides a labels sync pass.
//
// Rules:
//   - a node carries the spec's static labels for its hostname, and
//     baton.anchor.<A>=true exactly when a running task of anchor A is on
//     it;
//   - baton removes only labels it owns (those it set, recorded in the
//     state, and every baton.anchor.* label), unless prune_unknown_labels;
//   - a node that is down is reported and left alone;
//   - an anchor with no running task anywhere keeps its labels where they
//     are (its dependent would otherwise have nowhere to run);
//   - a dependent lacking the anchor's placement constraint gets it;
//   - a dependent whose tasks run on a node without its anchor is
//     restarted (Swarm reschedules it under the constraint), at most once
//     per restart_cooldown.
func SyncLabels(s *spec.Spec, nodes []fleet.Node, services []fleet.Service, tasks []fleet.Task,
	owned map[string][]string, restarted map[string]time.Time, now time.Time) LabelsPlan {
	sw := s.Swarm
	p := LabelsPlan{Owned: map[string][]string{}}
	byName := map[string]fleet.Service{}
	for _, svc := range services {
		byName[svc.Name] = svc
	}
	// Where each anchor runs.
	anchorNodes := map[string]map[string]bool{}
	for _, a := range sw.Anchors {
		svc, ok := byName[a.Anchor]
		if !ok {
			p.Findings = append(p.Findings, fmt.Sprintf("anchor service %q does not exist", a.Anchor))
			continue
		}
		set := map[string]bool{}
		for _, t := range tasks {
			if t.ServiceID == svc.ID && t.State == "running" {
				set[t.NodeID] = true
			}
		}
		anchorNodes[a.Anchor] = set
	}
	hasAnchor := func(n fleet.Node, anchor string) bool {
		set, ok := anchorNodes[anchor]
		if !ok || len(set) == 0 {
			// Unknown or not running anywhere: keep the label as it is.
			return n.Labels[AnchorLabelPrefix+anchor] == "true"
		}
		return set[n.ID]
	}
	for _, a := range sw.Anchors {
		if set, ok := anchorNodes[a.Anchor]; ok && len(set) == 0 {
			p.Findings = append(p.Findings, fmt.Sprintf("anchor %q has no running task: its labels stay where they are", a.Anchor))
		}
	}
	for _, n := range nodes {
		want := map[string]string{}
		for k, v := range sw.Nodes[n.Hostname].Labels {
			want[k] = v
		}
		for _, a := range sw.Anchors {
			if hasAnchor(n, a.Anchor) {
				want[AnchorLabelPrefix+a.Anchor] = "true"
			}
		}
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		p.Owned[n.ID] = keys
		if !n.Ready {
			p.Findings = append(p.Findings, downFinding(n))
			p.Owned[n.ID] = owned[n.ID]
			continue
		}
		mine := map[string]bool{}
		for _, k := range owned[n.ID] {
			mine[k] = true
		}
		ch := LabelChange{Node: n, Set: map[string]string{}, Labels: map[string]string{}}
		var why []string
		for k, v := range n.Labels {
			_, wanted := want[k]
			if !wanted && (mine[k] || strings.HasPrefix(k, AnchorLabelPrefix) || sw.PruneUnknownLabels) {
				ch.Remove = append(ch.Remove, k)
				continue
			}
			ch.Labels[k] = v
		}
		for _, k := range keys {
			if n.Labels[k] != want[k] {
				ch.Set[k] = want[k]
			}
			ch.Labels[k] = want[k]
		}
		sort.Strings(ch.Remove)
		if len(ch.Set) == 0 && len(ch.Remove) == 0 {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(ch.Set)) {
			if strings.HasPrefix(k, AnchorLabelPrefix) {
				why = append(why, fmt.Sprintf("set %s: %s runs here", k, strings.TrimPrefix(k, AnchorLabelPrefix)))
			} else {
				why = append(why, fmt.Sprintf("set %s=%s: static label of %s", k, ch.Set[k], n.Hostname))
			}
		}
		for _, k := range ch.Remove {
			switch {
			case strings.HasPrefix(k, AnchorLabelPrefix):
				why = append(why, fmt.Sprintf("remove %s: %s no longer runs here", k, strings.TrimPrefix(k, AnchorLabelPrefix)))
			case mine[k]:
				why = append(why, fmt.Sprintf("remove %s: baton set it and the spec no longer names it", k))
			default:
				why = append(why, fmt.Sprintf("remove %s: not in the spec (prune_unknown_labels)", k))
			}
		}
		ch.Reason = strings.Join(why, "; ")
		p.Nodes = append(p.Nodes, ch)
	}

	// Dependents.
	after := map[string]map[string]string{}
	for _, n := range nodes {
		after[n.ID] = n.Labels
	}
	for _, c := range p.Nodes {
		after[c.Node.ID] = c.Labels
	}
	for _, a := range sw.Anchors {
		svc, ok := byName[a.Service]
		if !ok {
			p.Findings = append(p.Findings, fmt.Sprintf("dependent service %q does not exist", a.Service))
			continue
		}
		c := AnchorConstraint(a.Anchor)
		has := false
		for _, x := range svc.Constraints {
			if strings.ReplaceAll(x, " ", "") == c {
				has = true
			}
		}
		if !has {
			p.Services = append(p.Services, ServiceChange{Service: svc, AddConstraint: c,
				Reason: fmt.Sprintf("follows %s: add the placement constraint %s", a.Anchor, c)})
			continue
		}
		var wrong []string
		for _, t := range tasks {
			if t.ServiceID == svc.ID && after[t.NodeID][AnchorLabelPrefix+a.Anchor] != "true" {
				wrong = append(wrong, t.NodeID)
			}
		}
		if len(wrong) == 0 {
			continue
		}
		if last, ok := restarted[a.Service]; ok && now.Sub(last) < sw.RestartCooldown.D {
			p.Findings = append(p.Findings, fmt.Sprintf("%s has tasks away from %s but was restarted %s ago (cooldown %s)",
				a.Service, a.Anchor, now.Sub(last).Round(time.Second), sw.RestartCooldown.D))
			continue
		}
		p.Services = append(p.Services, ServiceChange{Service: svc, Restart: true,
			Reason: fmt.Sprintf("%d task(s) of %s run on nodes without %s: restart so Swarm places them with it", len(wrong), a.Service, a.Anchor)})
	}
	return p
}

// OwnedAfter is the label ownership to record after a labels sync pass
// acted: the pass's decided ownership for the nodes whose update
// succeeded, the previous record for the nodes whose update failed (their
// labels did not change) and for every node the pass did not decide.
func OwnedAfter(previous, decided map[string][]string, failed map[string]bool) map[string][]string {
	out := make(map[string][]string, len(previous)+len(decided))
	for id, keys := range previous {
		out[id] = keys
	}
	for id, keys := range decided {
		if !failed[id] {
			out[id] = keys
		}
	}
	return out
}
