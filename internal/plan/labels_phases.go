// The phases of a labels sync decision (SyncLabels in labels.go).

package plan

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// labelsRun is one labels sync decision in the making: what was observed,
// indexed, and what each phase leaves for the next.
type labelsRun struct {
	in       LabelsInput
	sw       *spec.Swarm
	project  string
	ownedKey string
	p        LabelsPlan
	byName   map[string]fleet.Service
	nodeByID map[string]fleet.Node
	placed   map[string]map[string]int // service ID → node ID → placed tasks
	anchors  []anchorOf
	nps      []*nodePlan
	drops    map[string]map[string]string // service ID → label key → the change ID that drops its reference
	leaving  map[string]map[string]bool   // service ID → node ID it leaves this pass
	inSpec   map[string]bool              // dependents the spec names
	changed  map[string]ServiceChange     // service ID → its change
	after    map[string]map[string]bool   // node ID → label key → present after the pass
	removing map[string]map[string]bool   // node ID → label key → removed by this pass
}

func newLabelsRun(in LabelsInput) *labelsRun {
	r := &labelsRun{in: in, sw: in.Spec.Swarm, project: in.Spec.Project, ownedKey: fleet.LabelOwned + in.Spec.Project,
		p: LabelsPlan{Owned: map[string][]string{}}, byName: map[string]fleet.Service{}, nodeByID: map[string]fleet.Node{},
		placed: map[string]map[string]int{}, drops: map[string]map[string]string{}, leaving: map[string]map[string]bool{},
		inSpec: map[string]bool{}, changed: map[string]ServiceChange{}, after: map[string]map[string]bool{}, removing: map[string]map[string]bool{}}
	for _, svc := range in.Services {
		r.byName[svc.Name] = svc
	}
	for _, n := range in.Nodes {
		r.nodeByID[n.ID] = n
	}
	for _, t := range in.Tasks {
		if !t.Placed() {
			continue
		}
		if r.placed[t.ServiceID] == nil {
			r.placed[t.ServiceID] = map[string]int{}
		}
		r.placed[t.ServiceID][t.NodeID]++
	}
	return r
}

// findAnchors finds where each anchor runs (ready nodes only).
func (r *labelsRun) findAnchors() {
	in, sw, project, p := r.in, r.sw, r.project, &r.p
	for _, a := range sw.Anchors {
		ao := anchorOf{Service: a.Service, Anchor: a.Anchor, key: AnchorLabel(project, a.Anchor), runs: map[string]bool{}}
		svc, ok := r.byName[a.Anchor]
		if !ok {
			p.lasting.Note(&p.Findings, "anchor", "service "+a.Anchor, fmt.Sprintf("anchor service %q does not exist: its labels stay where they are", a.Anchor))
		} else {
			for _, t := range in.Tasks {
				if t.ServiceID == svc.ID && t.Running() && r.nodeByID[t.NodeID].Ready {
					ao.runs[t.NodeID] = true
				}
			}
			if len(ao.runs) == 0 {
				p.lasting.Note(&p.Findings, "anchor", "service "+a.Anchor, fmt.Sprintf("anchor %q has no running task: its labels stay where they are", a.Anchor))
			}
		}
		r.anchors = append(r.anchors, ao)
	}
}

// planNodes decides the wanted and removable labels per ready node.
func (r *labelsRun) planNodes() {
	in, sw, project, p := r.in, r.sw, r.project, &r.p
	for _, n := range in.Nodes {
		if !n.Ready {
			p.Findings = append(p.Findings, downFinding(n))
			p.Owned[n.ID] = in.Owned[n.ID]
			continue
		}
		want := map[string]string{}
		var static []string
		for k, v := range sw.Nodes[n.Hostname].Labels {
			want[k] = v
			static = append(static, k)
		}
		sort.Strings(static)
		if len(static) > 0 {
			want[r.ownedKey] = strings.Join(static, ",")
		}
		for _, a := range r.anchors {
			if a.runs[n.ID] || (len(a.runs) == 0 && n.Labels[a.key] == "true") {
				want[a.key] = "true"
			}
		}
		mine, others := map[string]bool{}, map[string]bool{}
		for _, k := range splitList(n.Labels[r.ownedKey]) {
			mine[k] = true
		}
		for k, v := range n.Labels {
			if strings.HasPrefix(k, fleet.LabelOwned) && k != r.ownedKey {
				for _, o := range splitList(v) {
					others[o] = true
				}
			}
		}
		for _, k := range in.Owned[n.ID] {
			mine[k] = true
		}
		np := &nodePlan{n: n, set: map[string]string{}, why: map[string]string{}}
		if r := sw.Nodes[n.Hostname].Role; r != "" && r != n.Role {
			np.role = r
		}
		if av := sw.Nodes[n.Hostname].Availability; av != "" && av != n.Availability {
			np.avail = av
		}
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if n.Labels[k] != want[k] {
				np.set[k] = want[k]
			}
		}
		for _, k := range slices.Sorted(maps.Keys(n.Labels)) {
			if _, wanted := want[k]; wanted {
				continue
			}
			switch {
			case k == r.ownedKey:
				np.why[k] = "baton set no static label here any more"
			case strings.HasPrefix(k, AnchorPrefix+project+"."):
				anchor := strings.TrimPrefix(k, AnchorPrefix+project+".")
				if sw.AnchorOf(anchor) == nil {
					np.why[k] = fmt.Sprintf("the spec no longer anchors %s", anchor)
				} else {
					np.why[k] = fmt.Sprintf("%s no longer runs here (it runs on %s)", anchor, hostsOf(in.Nodes, anchorRuns(r.anchors, anchor)))
				}
			case strings.HasPrefix(k, LegacyAnchorPrefix) && mine[k]:
				np.why[k] = fmt.Sprintf("the unnamespaced anchor label baton set before %s", AnchorPrefix+project+".*")
			case mine[k] && !strings.HasPrefix(k, "baton."):
				np.why[k] = "baton set it and the spec no longer names it"
			case sw.PruneUnknownLabels && !strings.HasPrefix(k, "baton.") && !others[k]:
				np.why[k] = "not in the spec (prune_unknown_labels)"
			}
			if np.why[k] != "" {
				np.remove = append(np.remove, k)
			}
		}
		r.nps = append(r.nps, np)
	}

}

// guardRoles orders promotions first and keeps demotions that keep a
// quorum.
func (r *labelsRun) guardRoles() {
	in, p := r.in, &r.p
	p.Findings = append(p.Findings, guardQuorum(in.Nodes, func(id string) *string {
		for _, np := range r.nps {
			if np.n.ID == id {
				return &np.role
			}
		}
		return nil
	})...)
	sort.SliceStable(r.nps, func(i, j int) bool { return r.nps[i].role == "manager" && r.nps[j].role != "manager" })
}

// changeNodes sets labels first, and removes them once nothing placed on
// the node needs them.
func (r *labelsRun) changeNodes() {
	in, project, p := r.in, r.project, &r.p
	for _, np := range r.nps {
		a := map[string]bool{}
		for k := range np.n.Labels {
			a[k] = true
		}
		for k := range np.set {
			a[k] = true
		}
		r.after[np.n.ID] = a
		if len(np.set) > 0 || np.role != "" || np.avail != "" {
			var why []string
			switch np.role {
			case "manager":
				why = append(why, fmt.Sprintf("promote %s to manager (swarm.nodes.%s.role)", np.n.Hostname, np.n.Hostname))
			case "worker":
				why = append(why, fmt.Sprintf("demote %s to worker (swarm.nodes.%s.role)", np.n.Hostname, np.n.Hostname))
			}
			switch np.avail {
			case "drain":
				why = append(why, fmt.Sprintf("drain %s: Swarm moves its tasks to other nodes and places none there", np.n.Hostname))
			case "pause":
				why = append(why, fmt.Sprintf("pause %s: Swarm places no new task there, its tasks stay", np.n.Hostname))
			case "active":
				why = append(why, fmt.Sprintf("make %s active: Swarm places tasks there again", np.n.Hostname))
			}
			for _, k := range slices.Sorted(maps.Keys(np.set)) {
				switch {
				case strings.HasPrefix(k, AnchorPrefix):
					why = append(why, fmt.Sprintf("set %s: %s runs here", k, strings.TrimPrefix(k, AnchorPrefix+project+".")))
				case k == r.ownedKey:
					why = append(why, fmt.Sprintf("set %s=%s: the static labels baton keeps here", k, np.set[k]))
				default:
					why = append(why, fmt.Sprintf("set %s=%s: static label of %s", k, np.set[k], np.n.Hostname))
				}
			}
			c := LabelChange{Node: np.n, Set: np.set, Role: np.role, Availability: np.avail, Reason: strings.Join(why, "; ")}
			if len(c.Set) == 0 {
				c.Set = nil
			}
			p.Sets = append(p.Sets, c)
		}
		rm := LabelChange{Node: np.n}
		var why []string
		for _, k := range np.remove {
			var keep []string
			var waits []Departure
			var needs []string
			for _, svc := range in.Services {
				if r.placed[svc.ID][np.n.ID] == 0 || !namesLabel(svc, k) {
					continue
				}
				switch {
				case r.drops[svc.ID][k] != "":
					needs = append(needs, r.drops[svc.ID][k])
				case r.leaving[svc.ID][np.n.ID]:
					waits = append(waits, Departure{ServiceID: svc.ID, Service: svc.Name, NodeID: np.n.ID, Node: np.n.Hostname})
					needs = append(needs, r.changed[svc.ID].ID)
				default:
					keep = append(keep, svc.Name)
				}
			}
			if len(keep) > 0 {
				p.lasting.Note(&p.Findings, "label-kept", "node "+np.n.Hostname+" "+k, fmt.Sprintf("label %s stays on %s: %s run(s) there under a constraint on it", k, np.n.Hostname, strings.Join(keep, ", ")))
				continue
			}
			rm.Remove = append(rm.Remove, k)
			rm.Waits = append(rm.Waits, waits...)
			rm.Needs = append(rm.Needs, needs...)
			w := "remove " + k + ": " + np.why[k]
			if len(waits) > 0 {
				var names []string
				for _, d := range waits {
					names = append(names, d.Service)
				}
				w += fmt.Sprintf(", once %s left", strings.Join(names, ", "))
			}
			why = append(why, w)
			delete(r.after[np.n.ID], k)
			if r.removing[np.n.ID] == nil {
				r.removing[np.n.ID] = map[string]bool{}
			}
			r.removing[np.n.ID][k] = true
		}
		p.Owned[np.n.ID] = []string{}
		for _, k := range in.Owned[np.n.ID] {
			if strings.HasPrefix(k, LegacyAnchorPrefix) && r.after[np.n.ID][k] {
				p.Owned[np.n.ID] = append(p.Owned[np.n.ID], k)
			}
		}
		if len(rm.Remove) > 0 {
			rm.Needs = uniq(rm.Needs)
			rm.Reason = strings.Join(why, "; ")
			p.Removes = append(p.Removes, rm)
		}
	}

}

// keysAfterSets reports whether node n carries label key once this pass's
// sets are done.
func (r *labelsRun) keysAfterSets(n fleet.Node, key string) bool {
	for _, np := range r.nps {
		if np.n.ID == n.ID {
			if v, ok := np.set[key]; ok {
				return v == "true"
			}
		}
	}
	return n.Labels[key] == "true"
}

// left reports whether the (non-empty) anchor's label is on a node it left.
func (a anchorOf) left(n fleet.Node) bool {
	return len(a.runs) > 0 && !a.runs[n.ID] && n.Labels[a.key] == "true"
}

// nodePlan is what one ready node's labels, role and availability become.
type nodePlan struct {
	n           fleet.Node
	set         map[string]string
	remove      []string
	why         map[string]string // key → reason of the removal
	role, avail string
}
