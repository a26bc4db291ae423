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
	lasting  Lasting // those of Findings that are incidents
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
	r := newLabelsRun(in)
	r.findAnchors()
	r.planNodes()
	r.followAnchors()
	r.dropFollowers()
	r.guardRoles()
	r.changeNodes()
	r.settle()
	return r.p
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
