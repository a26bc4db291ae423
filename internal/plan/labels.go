package plan

// labels.go decides labels sync: static node labels, anchor labels where
// each anchor runs, and dependents that follow them.
//
// This file enforces three rules:
//   - a dependent never loses a task to a label change: Swarm's constraint
//     enforcer stops a task at once when its node stops matching the
//     service's constraints, so a label is removed from a node only when
//     no task of a service whose constraints name it runs there (a
//     dependent first leaves the node start-first, or first loses the
//     constraint, which restarts nothing: swarmkit keeps a task whose node
//     still matches looser constraints);
//   - baton removes only labels it owns: its project's anchor labels
//     (baton.anchors.<project>.<anchor>), the static labels it set (listed
//     on the node in baton.owned.<project>), legacy anchor labels the
//     state file says it set; two projects on one swarm never touch each
//     other's labels, not even with prune_unknown_labels;
//   - what one manager decided, every manager sees: the constraint baton
//     added, the nodes a dependent leaves, when it last moved and its
//     saved update order are labels on the dependent itself.

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

// AnchorPrefix starts the node labels baton uses to mark where an anchor's
// tasks run: baton.anchors.<project>.<anchor>=true.
const AnchorPrefix = "baton.anchors."

// LegacyAnchorPrefix starts the anchor labels of baton before labels were
// namespaced by project (baton.anchor.<anchor>); they are migrated.
const LegacyAnchorPrefix = "baton.anchor."

// AnchorLabel is the node label that marks where the project's anchor runs.
func AnchorLabel(project, anchor string) string { return AnchorPrefix + project + "." + anchor }

// AnchorConstraint is the placement constraint that makes a dependent
// follow its anchor.
func AnchorConstraint(project, anchor string) string {
	return "node.labels." + AnchorLabel(project, anchor) + "==true"
}

// LegacyAnchorConstraint is the constraint of baton before namespaces.
func LegacyAnchorConstraint(anchor string) string {
	return "node.labels." + LegacyAnchorPrefix + anchor + "==true"
}

// LeaveConstraint keeps a dependent off a node its anchor left.
func LeaveConstraint(host string) string { return "node.hostname!=" + host }

// LabelChange sets or removes labels on one node. The engine applies it
// to a fresh read of the node (labels others changed meanwhile are kept).
type LabelChange struct {
	Node   fleet.Node
	Set    map[string]string
	Remove []string
	// Role and Availability, when not empty, are set too (the spec's
	// swarm.nodes.<host>.role and availability).
	Role, Availability string
	Reason             string
	// Waits are dependents that must have left the node (no task placed
	// there) before the labels are removed; the executor waits for them,
	// bounded by swarm.wait.
	Waits []Departure
	// Needs are the steps (ServiceChange.ID) that must have succeeded
	// first.
	Needs []string
}

// Departure is a dependent leaving a node.
type Departure struct {
	ServiceID, Service string
	NodeID, Node       string
}

// ServiceChange is one edit of a dependent service.
type ServiceChange struct {
	// ID names the change for the steps that need it.
	ID      string
	Service fleet.Service
	Edit    fleet.ServiceEdit
	// Moves: the edit makes Swarm move some of its tasks (start-first).
	Moves  bool
	Reason string
	// Needs are the label removals ("node <id>") that must have
	// succeeded first.
	Needs []string
}

// LabelsPlan is labels sync's decision, in the order it is applied:
// labels set (where anchors run now), dependents changed (constraints
// added or dropped, nodes left), labels removed (once nothing placed
// there depends on them), dependents settled (leave constraints and
// saved orders removed once their node lost the label).
type LabelsPlan struct {
	Sets     []LabelChange
	Services []ServiceChange
	Removes  []LabelChange
	Settle   []ServiceChange
	// Findings are things reported but not acted on (a node down, an
	// anchor with no running task, a move in its cooldown, a label kept
	// for a service that still needs it).
	Findings []string
	// Owned is what remains of the state file's legacy record after the
	// pass (by node ID): the unnamespaced anchor labels this host's baton
	// set that are still there. Ownership of everything else lives on the
	// nodes.
	Owned map[string][]string
}

// LabelsInput is what a labels sync pass decides from.
type LabelsInput struct {
	Spec     *spec.Spec
	Nodes    []fleet.Node
	Services []fleet.Service
	Tasks    []fleet.Task
	// Owned is the state file's record of the labels this host's baton
	// set before ownership lived on the nodes (by node ID).
	Owned map[string][]string
	Now   time.Time
}

// SyncLabels decides a labels sync pass.
//
// Rules:
//   - a ready node carries the spec's static labels for its hostname, and
//     baton.anchors.<project>.<A>=true where a running task of anchor A
//     is; an anchor with no running task anywhere keeps its labels where
//     they are (its dependent would otherwise have nowhere to run);
//   - a node that is down is reported and left alone;
//   - a dependent lacking its anchor's constraint gets it (replacing the
//     legacy one), start-first: Swarm moves the tasks that do not match;
//     a dependent that follows no anchor of the spec any more loses the
//     constraint baton added (restarting nothing);
//   - a dependent with tasks placed on a node its anchor left leaves it:
//     node.hostname!=<node>, start-first, at most once per
//     restart_cooldown (read from the dependent, so every manager keeps
//     it), never while Swarm is updating it; pending tasks with no node do
//     not count;
//   - a label is removed from a node only once no task of a service whose
//     constraints name it is placed there; a service baton does not manage
//     keeps the label where its tasks run (a finding says so);
//   - a leave constraint goes once its node lost the label, and the saved
//     update order comes back once nothing moves.
func SyncLabels(in LabelsInput) LabelsPlan {
	sw, project := in.Spec.Swarm, in.Spec.Project
	p := LabelsPlan{Owned: map[string][]string{}}
	byName := map[string]fleet.Service{}
	for _, svc := range in.Services {
		byName[svc.Name] = svc
	}
	nodeByID := map[string]fleet.Node{}
	for _, n := range in.Nodes {
		nodeByID[n.ID] = n
	}
	placed := map[string]map[string]int{} // service ID → node ID → placed tasks
	for _, t := range in.Tasks {
		if !t.Placed() {
			continue
		}
		if placed[t.ServiceID] == nil {
			placed[t.ServiceID] = map[string]int{}
		}
		placed[t.ServiceID][t.NodeID]++
	}

	// Where each anchor runs (ready nodes only).
	var anchors []anchorOf
	for _, a := range sw.Anchors {
		ao := anchorOf{Service: a.Service, Anchor: a.Anchor, key: AnchorLabel(project, a.Anchor), runs: map[string]bool{}}
		svc, ok := byName[a.Anchor]
		if !ok {
			p.Findings = append(p.Findings, fmt.Sprintf("anchor service %q does not exist: its labels stay where they are", a.Anchor))
		} else {
			for _, t := range in.Tasks {
				if t.ServiceID == svc.ID && t.Running() && nodeByID[t.NodeID].Ready {
					ao.runs[t.NodeID] = true
				}
			}
			if len(ao.runs) == 0 {
				p.Findings = append(p.Findings, fmt.Sprintf("anchor %q has no running task: its labels stay where they are", a.Anchor))
			}
		}
		anchors = append(anchors, ao)
	}
	// anchored: the label of a (non-empty) anchor on a node it left.
	stale := func(n fleet.Node, a anchorOf) bool {
		return len(a.runs) > 0 && !a.runs[n.ID] && n.Labels[a.key] == "true"
	}

	// Wanted and removable labels per ready node.
	type nodePlan struct {
		n           fleet.Node
		set         map[string]string
		remove      []string
		why         map[string]string // key → reason of the removal
		role, avail string
	}
	ownedKey := fleet.LabelOwned + project
	var nps []*nodePlan
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
			want[ownedKey] = strings.Join(static, ",")
		}
		for _, a := range anchors {
			if a.runs[n.ID] || (len(a.runs) == 0 && n.Labels[a.key] == "true") {
				want[a.key] = "true"
			}
		}
		mine, others := map[string]bool{}, map[string]bool{}
		for _, k := range splitList(n.Labels[ownedKey]) {
			mine[k] = true
		}
		for k, v := range n.Labels {
			if strings.HasPrefix(k, fleet.LabelOwned) && k != ownedKey {
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
			case k == ownedKey:
				np.why[k] = "baton set no static label here any more"
			case strings.HasPrefix(k, AnchorPrefix+project+"."):
				anchor := strings.TrimPrefix(k, AnchorPrefix+project+".")
				if sw.AnchorOf(anchor) == nil {
					np.why[k] = fmt.Sprintf("the spec no longer anchors %s", anchor)
				} else {
					np.why[k] = fmt.Sprintf("%s no longer runs here (it runs on %s)", anchor, hostsOf(in.Nodes, anchorRuns(anchors, anchor)))
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
		nps = append(nps, np)
	}

	// Dependents: constraints added or dropped, nodes left.
	keysAfterSets := func(n fleet.Node, key string) bool {
		for _, np := range nps {
			if np.n.ID == n.ID {
				if v, ok := np.set[key]; ok {
					return v == "true"
				}
			}
		}
		return n.Labels[key] == "true"
	}
	drops := map[string]map[string]string{} // service ID → label key → the change ID that drops its reference
	drop := func(service, constraint, change string) {
		if key, ok := labelOf(constraint); ok {
			if drops[service] == nil {
				drops[service] = map[string]string{}
			}
			drops[service][key] = change
		}
	}
	leaving := map[string]map[string]bool{} // service ID → node ID it leaves this pass
	inSpec := map[string]bool{}
	for _, a := range anchors {
		inSpec[a.Service] = true
		d, ok := byName[a.Service]
		if !ok {
			p.Findings = append(p.Findings, fmt.Sprintf("dependent service %q does not exist", a.Service))
			continue
		}
		c := AnchorConstraint(project, a.Anchor)
		ch := ServiceChange{ID: "service " + d.ID, Service: d, Edit: fleet.ServiceEdit{SetLabels: map[string]string{}}}
		var why []string
		if !hasConstraint(d, c) {
			ch.Edit.AddConstraints = append(ch.Edit.AddConstraints, c)
			ch.Edit.SetLabels[fleet.LabelFollows+project] = c
			why = append(why, fmt.Sprintf("follows %s: add the placement constraint %s", a.Anchor, c))
			if legacy := LegacyAnchorConstraint(a.Anchor); hasConstraint(d, legacy) {
				ch.Edit.RemoveConstraints = append(ch.Edit.RemoveConstraints, legacy)
				why = append(why, "replacing the unnamespaced "+legacy)
				drop(d.ID, legacy, ch.ID)
			}
			var off []string
			for nid := range placed[d.ID] {
				if n, ok := nodeByID[nid]; ok && !keysAfterSets(n, a.key) {
					off = append(off, n.Hostname)
				}
			}
			if len(off) > 0 {
				ch.Moves = true
				why = append(why, fmt.Sprintf("Swarm moves its tasks on %s start-first", strings.Join(sorted(off), ", ")))
			}
		} else if d.Labels[fleet.LabelFollows+project] != c {
			ch.Edit.SetLabels[fleet.LabelFollows+project] = c
		}
		if old := d.Labels[fleet.LabelFollows+project]; old != "" && old != c && hasConstraint(d, old) {
			ch.Edit.RemoveConstraints = append(ch.Edit.RemoveConstraints, old)
			why = append(why, "dropping "+old+" (it followed another anchor)")
			drop(d.ID, old, ch.ID)
		}
		// Nodes the anchor left that still hold tasks of the dependent.
		var leave []string
		for _, n := range in.Nodes {
			if n.Ready && stale(n, a) && placed[d.ID][n.ID] > 0 && !slices.Contains(splitList(d.Labels[fleet.LabelLeaving+project]), n.Hostname) {
				leave = append(leave, n.Hostname)
			}
		}
		if len(leave) > 0 {
			last, _ := time.Parse(time.RFC3339, d.Labels[fleet.LabelFollowed+project])
			switch {
			case d.Updating():
				p.Findings = append(p.Findings, fmt.Sprintf("%s has tasks on %s, which %s left, but Swarm is updating it: it moves when the update is done",
					d.Name, strings.Join(leave, ", "), a.Anchor))
				leave = nil
			case !last.IsZero() && in.Now.Sub(last) < sw.RestartCooldown.D:
				p.Findings = append(p.Findings, fmt.Sprintf("%s has tasks on %s, which %s left, but it moved %s ago (restart_cooldown %s)",
					d.Name, strings.Join(leave, ", "), a.Anchor, in.Now.Sub(last).Round(time.Second), sw.RestartCooldown.D))
				leave = nil
			}
		}
		if len(leave) > 0 {
			leaving[d.ID] = map[string]bool{}
			hosts := splitList(d.Labels[fleet.LabelLeaving+project])
			for _, h := range leave {
				ch.Edit.AddConstraints = append(ch.Edit.AddConstraints, LeaveConstraint(h))
				hosts = append(hosts, h)
				if n, ok := nodeByHost(in.Nodes, h); ok {
					leaving[d.ID][n.ID] = true
				}
			}
			ch.Edit.SetLabels[fleet.LabelLeaving+project] = strings.Join(sorted(hosts), ",")
			ch.Moves = true
			why = append(why, fmt.Sprintf("%d task(s) run on %s, which %s left: Swarm moves them start-first to where it runs",
				countOn(placed[d.ID], in.Nodes, leave), strings.Join(leave, ", "), a.Anchor))
		}
		if ch.Moves {
			ch.Edit.StartFirst, ch.Edit.SaveOrder = true, fleet.LabelOrder+project
			ch.Edit.SetLabels[fleet.LabelFollowed+project] = in.Now.UTC().Format(time.RFC3339)
		}
		if len(ch.Edit.SetLabels) == 0 {
			ch.Edit.SetLabels = nil
		}
		if !ch.Edit.Empty() {
			if len(why) == 0 {
				why = append(why, fmt.Sprintf("follows %s: record the constraint as baton's", a.Anchor))
			}
			ch.Reason = strings.Join(why, "; ")
			p.Services = append(p.Services, ch)
		}
	}
	// Services that follow an anchor of this project the spec dropped.
	for _, d := range in.Services {
		c := d.Labels[fleet.LabelFollows+project]
		if c == "" || inSpec[d.Name] {
			continue
		}
		ch := ServiceChange{ID: "service " + d.ID, Service: d, Edit: fleet.ServiceEdit{
			RemoveConstraints: []string{c}, RemoveLabels: []string{fleet.LabelFollows + project, fleet.LabelLeaving + project, fleet.LabelFollowed + project}}}
		for _, h := range splitList(d.Labels[fleet.LabelLeaving+project]) {
			ch.Edit.RemoveConstraints = append(ch.Edit.RemoveConstraints, LeaveConstraint(h))
		}
		if _, ok := d.Labels[fleet.LabelOrder+project]; ok {
			ch.Edit.RestoreOrder = fleet.LabelOrder + project
		}
		ch.Reason = fmt.Sprintf("the spec no longer anchors %s: drop the constraint %s baton added (its tasks stay where they run)", d.Name, c)
		drop(d.ID, c, ch.ID)
		p.Services = append(p.Services, ch)
	}
	changed := map[string]ServiceChange{}
	for _, ch := range p.Services {
		changed[ch.Service.ID] = ch
	}

	// Roles: promotions first, then demotions that keep a quorum.
	p.Findings = append(p.Findings, guardQuorum(in.Nodes, func(id string) *string {
		for _, np := range nps {
			if np.n.ID == id {
				return &np.role
			}
		}
		return nil
	})...)
	sort.SliceStable(nps, func(i, j int) bool { return nps[i].role == "manager" && nps[j].role != "manager" })

	// Label sets first; removals once nothing placed on the node needs
	// them.
	after := map[string]map[string]bool{}    // node ID → label key → present after the pass
	removing := map[string]map[string]bool{} // node ID → label key → removed by this pass
	for _, np := range nps {
		a := map[string]bool{}
		for k := range np.n.Labels {
			a[k] = true
		}
		for k := range np.set {
			a[k] = true
		}
		after[np.n.ID] = a
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
				case k == ownedKey:
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
				if placed[svc.ID][np.n.ID] == 0 || !namesLabel(svc, k) {
					continue
				}
				switch {
				case drops[svc.ID][k] != "":
					needs = append(needs, drops[svc.ID][k])
				case leaving[svc.ID][np.n.ID]:
					waits = append(waits, Departure{ServiceID: svc.ID, Service: svc.Name, NodeID: np.n.ID, Node: np.n.Hostname})
					needs = append(needs, changed[svc.ID].ID)
				default:
					keep = append(keep, svc.Name)
				}
			}
			if len(keep) > 0 {
				p.Findings = append(p.Findings, fmt.Sprintf("label %s stays on %s: %s run(s) there under a constraint on it", k, np.n.Hostname, strings.Join(keep, ", ")))
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
			delete(after[np.n.ID], k)
			if removing[np.n.ID] == nil {
				removing[np.n.ID] = map[string]bool{}
			}
			removing[np.n.ID][k] = true
		}
		p.Owned[np.n.ID] = []string{}
		for _, k := range in.Owned[np.n.ID] {
			if strings.HasPrefix(k, LegacyAnchorPrefix) && after[np.n.ID][k] {
				p.Owned[np.n.ID] = append(p.Owned[np.n.ID], k)
			}
		}
		if len(rm.Remove) > 0 {
			rm.Needs = uniq(rm.Needs)
			rm.Reason = strings.Join(why, "; ")
			p.Removes = append(p.Removes, rm)
		}
	}

	// Settle dependents: leave constraints whose node lost the label, the
	// saved update order once nothing moves.
	for _, a := range anchors {
		d, ok := byName[a.Service]
		if !ok {
			continue
		}
		ch := ServiceChange{ID: "settle " + d.ID, Service: d}
		var why, still []string
		for _, h := range uniq(append(splitList(d.Labels[fleet.LabelLeaving+project]), leavingNow(d, leaving, in.Nodes)...)) {
			n, known := nodeByHost(in.Nodes, h)
			switch {
			case known && after[n.ID] == nil:
				still = append(still, h) // down: its labels are unknown
			case known && after[n.ID][a.key]:
				still = append(still, h)
			default:
				ch.Edit.RemoveConstraints = append(ch.Edit.RemoveConstraints, LeaveConstraint(h))
				if known && removing[n.ID][a.key] {
					ch.Needs = append(ch.Needs, "node "+n.ID)
				}
				why = append(why, fmt.Sprintf("%s no longer has the label %s: drop %s (restarts nothing)", h, a.key, LeaveConstraint(h)))
			}
		}
		if len(ch.Edit.RemoveConstraints) > 0 {
			if len(still) > 0 {
				ch.Edit.SetLabels = map[string]string{fleet.LabelLeaving + project: strings.Join(sorted(still), ",")}
			} else {
				ch.Edit.RemoveLabels = []string{fleet.LabelLeaving + project}
			}
		}
		_, saved := d.Labels[fleet.LabelOrder+project]
		if saved && len(still) == 0 && !d.Updating() && !changed[d.ID].Moves && !misplaced(d, placed, nodeByID, a.key) {
			ch.Edit.RestoreOrder = fleet.LabelOrder + project
			why = append(why, fmt.Sprintf("nothing moves: restore its update order %s", orNone(d.Labels[fleet.LabelOrder+project])))
		}
		if !ch.Edit.Empty() {
			ch.Needs = uniq(ch.Needs)
			ch.Reason = strings.Join(why, "; ")
			p.Settle = append(p.Settle, ch)
		}
	}
	return p
}

// guardQuorum refuses the demotions that would leave the managers without
// a quorum: after each demotion (by hostname) the remaining managers must
// count a majority of reachable ones (a manager promoted in the same pass
// is not counted: it is not reachable yet). A refused demotion is dropped
// (role set to "") and reported as partly done.
func guardQuorum(nodes []fleet.Node, roleOf func(id string) *string) []string {
	var findings []string
	remaining := map[string]bool{}
	reachable := map[string]bool{}
	for _, n := range nodes {
		if n.Role == "manager" {
			remaining[n.ID] = true
			reachable[n.ID] = n.Reachable && n.Ready
		}
	}
	byHost := slices.Clone(nodes)
	sort.Slice(byHost, func(i, j int) bool { return byHost[i].Hostname < byHost[j].Hostname })
	for _, n := range byHost {
		r := roleOf(n.ID)
		if r == nil || *r != "worker" || !remaining[n.ID] {
			continue
		}
		delete(remaining, n.ID)
		up := 0
		for id := range remaining {
			if reachable[id] {
				up++
			}
		}
		need := len(remaining)/2 + 1
		if len(remaining) == 0 || up < need {
			remaining[n.ID] = true
			*r = ""
			findings = append(findings, fmt.Sprintf("%s%s: %d of the %d manager(s) left would be reachable, a quorum needs %d",
				QuorumRefusal, n.Hostname, up, len(remaining)-1, need))
		}
	}
	return findings
}

// QuorumRefusal starts the finding of a demotion refused by the quorum
// guard (the pass exits 3).
const QuorumRefusal = "refusing to demote "

// anchorOf is an anchor of the spec and the ready nodes it runs on.
type anchorOf struct {
	Service, Anchor string
	key             string
	runs            map[string]bool // node ID
}

// leavingNow are the hostnames the dependent starts leaving in this pass.
func leavingNow(d fleet.Service, leaving map[string]map[string]bool, nodes []fleet.Node) []string {
	var out []string
	for _, n := range nodes {
		if leaving[d.ID][n.ID] {
			out = append(out, n.Hostname)
		}
	}
	return out
}

// misplaced: a task of the dependent is placed on a node without its
// anchor's label.
func misplaced(d fleet.Service, placed map[string]map[string]int, nodes map[string]fleet.Node, key string) bool {
	for nid := range placed[d.ID] {
		if n, ok := nodes[nid]; ok && n.Labels[key] != "true" {
			return true
		}
	}
	return false
}

// namesLabel reports whether one of the service's constraints is on the
// node label key.
func namesLabel(s fleet.Service, key string) bool {
	for _, c := range s.Constraints {
		if k, ok := labelOf(c); ok && k == key {
			return true
		}
	}
	return false
}

// labelOf is the node label a constraint is on.
func labelOf(c string) (string, bool) {
	key, _, _, ok := parseConstraint(c)
	if !ok || !strings.HasPrefix(key, "node.labels.") {
		return "", false
	}
	return strings.TrimPrefix(key, "node.labels."), true
}

func hasConstraint(s fleet.Service, c string) bool {
	want := strings.ReplaceAll(c, " ", "")
	for _, x := range s.Constraints {
		if strings.ReplaceAll(x, " ", "") == want {
			return true
		}
	}
	return false
}

func anchorRuns(anchors []anchorOf, anchor string) map[string]bool {
	for _, a := range anchors {
		if a.Anchor == anchor {
			return a.runs
		}
	}
	return nil
}

func hostsOf(nodes []fleet.Node, ids map[string]bool) string {
	var out []string
	for _, n := range nodes {
		if ids[n.ID] {
			out = append(out, n.Hostname)
		}
	}
	if len(out) == 0 {
		return "no node"
	}
	return strings.Join(out, ", ")
}

func countOn(byNode map[string]int, nodes []fleet.Node, hosts []string) int {
	n := 0
	for _, h := range hosts {
		if node, ok := nodeByHost(nodes, h); ok {
			n += byNode[node.ID]
		}
	}
	return n
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	sort.Strings(out)
	return out
}

func uniq(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
