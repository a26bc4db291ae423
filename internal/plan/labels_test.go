package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

const labelsSpec = `
project: p1
swarm:
  nodes:
    node1: {labels: {zone: a}}
    node2: {labels: {zone: b, disk: ssd}}
  anchors:
    - {service: app, anchor: db}
  restart_cooldown: 1m
`

const dbKey = "baton.anchors.p1.db"

// labelWorld is a swarm in memory that answers a plan as Swarm does: a label
// removal stops at once every task on the node whose service's
// constraints the node no longer meets (Swarm's constraint enforcer:
// rejected counts them) and places it again; an edit moves the tasks on
// nodes that no longer meet the constraints to the first that does, and
// leaves the others where they run.
type labelWorld struct {
	nodes    []fleet.Node
	services []fleet.Service
	tasks    []fleet.Task
	rejected int
	moved    int
	next     int
}

func newLabelWorld() *labelWorld {
	return &labelWorld{
		nodes: []fleet.Node{
			{ID: "n1", Hostname: "node1", Ready: true, Active: true, Labels: map[string]string{"zone": "a", "owner": "ops"}},
			{ID: "n2", Hostname: "node2", Ready: true, Active: true, Labels: map[string]string{"zone": "b"}},
			{ID: "n3", Hostname: "node3", Ready: true, Active: true, Labels: map[string]string{}},
		},
		services: []fleet.Service{
			{ID: "sdb", Name: "db", Labels: map[string]string{}},
			{ID: "sapp", Name: "app", Labels: map[string]string{}, Replicas: 2},
		},
		tasks: []fleet.Task{
			{ID: "t1", ServiceID: "sdb", NodeID: "n1", State: "running"},
			{ID: "t2", ServiceID: "sapp", NodeID: "n1", State: "running"},
			{ID: "t3", ServiceID: "sapp", NodeID: "n1", State: "running"},
		},
	}
}

func (w *labelWorld) node(id string) *fleet.Node {
	for i := range w.nodes {
		if w.nodes[i].ID == id {
			return &w.nodes[i]
		}
	}
	return nil
}

func (w *labelWorld) service(id string) *fleet.Service {
	for i := range w.services {
		if w.services[i].ID == id {
			return &w.services[i]
		}
	}
	return nil
}

func (w *labelWorld) replace(i int, s *fleet.Service) {
	w.next++
	t := w.tasks[i]
	t.ID, t.NodeID, t.State = fmt.Sprintf("new%d", w.next), "", "pending"
	for _, n := range w.nodes {
		if n.Ready && n.Active && n.Satisfies(s.Constraints) {
			t.NodeID, t.State = n.ID, "running"
			break
		}
	}
	w.tasks[i] = t
}

func (w *labelWorld) apply(p LabelsPlan) {
	label := func(c LabelChange) {
		n := w.node(c.Node.ID)
		for _, k := range c.Remove {
			delete(n.Labels, k)
		}
		for k, v := range c.Set {
			n.Labels[k] = v
		}
		for i, t := range w.tasks {
			if t.NodeID == n.ID && t.Placed() && !n.Satisfies(w.service(t.ServiceID).Constraints) {
				w.rejected++
				w.replace(i, w.service(t.ServiceID))
			}
		}
	}
	edit := func(c ServiceChange) {
		s := w.service(c.Service.ID)
		e := c.Edit
		var kept []string
		for _, x := range s.Constraints {
			if !slices.Contains(e.RemoveConstraints, x) {
				kept = append(kept, x)
			}
		}
		for _, a := range e.AddConstraints {
			if !slices.Contains(kept, a) {
				kept = append(kept, a)
			}
		}
		s.Constraints = kept
		if e.StartFirst {
			if _, ok := s.Labels[e.SaveOrder]; !ok {
				s.Labels[e.SaveOrder] = s.UpdateOrder
			}
			s.UpdateOrder = "start-first"
		}
		if o, ok := s.Labels[e.RestoreOrder]; ok && e.RestoreOrder != "" {
			s.UpdateOrder = o
			delete(s.Labels, e.RestoreOrder)
		}
		for _, k := range e.RemoveLabels {
			delete(s.Labels, k)
		}
		for k, v := range e.SetLabels {
			s.Labels[k] = v
		}
		for i, t := range w.tasks {
			if t.ServiceID == s.ID && t.Placed() && !w.node(t.NodeID).Satisfies(s.Constraints) {
				w.moved++
				w.replace(i, s)
			}
		}
	}
	for _, c := range p.Sets {
		label(c)
	}
	for _, c := range p.Services {
		edit(c)
	}
	for _, c := range p.Removes {
		label(c)
	}
	for _, c := range p.Settle {
		edit(c)
	}
}

func (w *labelWorld) sync(t *testing.T, yaml string, owned map[string][]string, now time.Time) LabelsPlan {
	t.Helper()
	return SyncLabels(LabelsInput{Spec: testSpec(t, yaml), Nodes: w.copyNodes(), Services: w.copyServices(), Tasks: slices.Clone(w.tasks), Owned: owned, Now: now})
}

func (w *labelWorld) copyNodes() []fleet.Node {
	out := slices.Clone(w.nodes)
	for i := range out {
		out[i].Labels = copyMap(out[i].Labels)
	}
	return out
}

func (w *labelWorld) copyServices() []fleet.Service {
	out := slices.Clone(w.services)
	for i := range out {
		out[i].Labels = copyMap(out[i].Labels)
		out[i].Constraints = slices.Clone(out[i].Constraints)
	}
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (w *labelWorld) nodesOf(service string) []string {
	var out []string
	for _, t := range w.tasks {
		if t.ServiceID == service && t.Running() {
			out = append(out, t.NodeID)
		}
	}
	slices.Sort(out)
	return out
}

func empty(p LabelsPlan) bool {
	return len(p.Sets)+len(p.Services)+len(p.Removes)+len(p.Settle) == 0
}

func describe(p LabelsPlan) string {
	var out []string
	for _, c := range p.Sets {
		out = append(out, "set "+c.Node.Hostname+": "+c.Reason)
	}
	for _, c := range p.Services {
		out = append(out, "service "+c.Service.Name+": "+c.Reason)
	}
	for _, c := range p.Removes {
		out = append(out, "remove "+c.Node.Hostname+": "+c.Reason)
	}
	for _, c := range p.Settle {
		out = append(out, "settle "+c.Service.Name+": "+c.Reason)
	}
	return strings.Join(append(out, p.Findings...), "\n")
}

// converge runs passes (at most 3) until one plans nothing; it fails the
// test if a task was rejected on the way.
func (w *labelWorld) converge(t *testing.T, yaml string, now time.Time) int {
	t.Helper()
	for pass := 1; pass <= 3; pass++ {
		p := w.sync(t, yaml, nil, now)
		if empty(p) {
			return pass - 1
		}
		w.apply(p)
		if w.rejected > 0 {
			t.Fatalf("pass %d: %d task(s) rejected by a label change\n%s", pass, w.rejected, describe(p))
		}
	}
	t.Fatalf("no convergence within 3 passes:\n%s", describe(w.sync(t, yaml, nil, now)))
	return 0
}

func TestSyncLabelsStaticLabelsAndOwnership(t *testing.T) {
	w := newLabelWorld()
	w.nodes[1].Labels["old"] = "x"
	// The state file of an older baton says it set "old" on node2.
	p := w.sync(t, labelsSpec, map[string][]string{"n2": {"old", "zone"}}, t0)
	got := map[string]LabelChange{}
	for _, c := range append(p.Sets, p.Removes...) {
		got[c.Node.Hostname+fmt.Sprint(len(c.Remove) > 0)] = c
	}
	if c := got["node2false"]; c.Set["disk"] != "ssd" || c.Set["baton.owned.p1"] != "disk,zone" {
		t.Errorf("node2 gets its static labels and the list of what baton owns there: %+v", c)
	}
	if c := got["node2true"]; strings.Join(c.Remove, ",") != "old" || !strings.Contains(c.Reason, "baton set it and the spec no longer names it") {
		t.Errorf("node2 loses the label the old state says baton set: %+v", c)
	}
	if c := got["node1true"]; len(c.Remove) != 0 {
		t.Errorf("the operator's owner label on node1 is never removed: %+v", c)
	}
	if c := got["node1false"]; c.Set[dbKey] != "true" || c.Set["baton.owned.p1"] != "zone" {
		t.Errorf("node1 runs db: %+v", c)
	}
	w.apply(p)
	// The spec drops disk: baton removes it (it owns it, on the node's
	// own list), and keeps zone.
	w.apply(w.sync(t, strings.Replace(labelsSpec, ", disk: ssd", "", 1), nil, t0))
	if l := w.nodes[1].Labels; l["disk"] != "" || l["zone"] != "b" || l["baton.owned.p1"] != "zone" {
		t.Errorf("node2 after the spec dropped disk: %v", l)
	}
	if n := w.converge(t, strings.Replace(labelsSpec, ", disk: ssd", "", 1), t0); n != 0 {
		t.Errorf("not converged: %d more passes", n)
	}
}

func TestSyncLabelsPrunesUnknownOnlyWhenAskedAndNeverAnotherProjects(t *testing.T) {
	w := newLabelWorld()
	w.nodes[0].Labels["baton.anchors.p2.cache"] = "true"
	w.nodes[0].Labels["baton.owned.p2"] = "rack"
	w.nodes[0].Labels["rack"] = "r1"
	p := w.sync(t, labelsSpec+"  prune_unknown_labels: true\n", nil, t0)
	var removed []string
	for _, c := range p.Removes {
		if c.Node.Hostname == "node1" {
			removed = c.Remove
		}
	}
	if strings.Join(removed, ",") != "owner" {
		t.Errorf("prune_unknown_labels on node1 removed %v, want owner only (never p2's baton labels, nor rack, which p2 owns)", removed)
	}
	for _, c := range w.sync(t, labelsSpec, nil, t0).Removes {
		if c.Node.Hostname == "node1" {
			t.Errorf("without prune_unknown_labels nothing of others is removed: %+v", c)
		}
	}
}

func TestSyncLabelsDependentFollowsItsAnchorWithoutLosingATask(t *testing.T) {
	w := newLabelWorld()
	if n := w.converge(t, labelsSpec, t0); n != 1 {
		t.Fatalf("first contact takes one pass, took %d", n)
	}
	app := w.service("sapp")
	if !slices.Contains(app.Constraints, AnchorConstraint("p1", "db")) || app.Labels["baton.follows.p1"] != AnchorConstraint("p1", "db") {
		t.Fatalf("app got the constraint and baton's record of it: %+v", app)
	}
	if got := w.nodesOf("sapp"); fmt.Sprint(got) != "[n1 n1]" || w.moved != 0 {
		t.Fatalf("app already ran with db: it stays, nothing moves (%v, %d moved)", got, w.moved)
	}
	if app.UpdateOrder != "" {
		t.Errorf("nothing moved: the update order is the service's own: %q", app.UpdateOrder)
	}

	// db moves to node3 (its owner moved it).
	w.tasks[0].NodeID = "n3"
	p := w.sync(t, labelsSpec, nil, t0.Add(time.Hour))
	if len(p.Services) != 1 || !p.Services[0].Moves || !slices.Contains(p.Services[0].Edit.AddConstraints, "node.hostname!=node1") ||
		!p.Services[0].Edit.StartFirst || !strings.Contains(p.Services[0].Reason, "2 task(s) run on node1, which db left: Swarm moves them start-first") {
		t.Fatalf("app leaves node1 start-first:\n%s", describe(p))
	}
	if len(p.Removes) != 1 || len(p.Removes[0].Waits) != 1 || !strings.Contains(p.Removes[0].Reason, "remove "+dbKey+": db no longer runs here (it runs on node3), once app left") {
		t.Fatalf("node1's db label goes only once app left it:\n%s", describe(p))
	}
	if len(p.Settle) != 1 || !slices.Contains(p.Settle[0].Edit.RemoveConstraints, "node.hostname!=node1") || len(p.Settle[0].Needs) != 1 {
		t.Fatalf("the leave constraint goes after the label:\n%s", describe(p))
	}
	w.apply(p)
	if w.rejected != 0 || fmt.Sprint(w.nodesOf("sapp")) != "[n3 n3]" {
		t.Fatalf("app follows db to node3 with no task rejected: %v, %d rejected", w.nodesOf("sapp"), w.rejected)
	}
	if l := w.node("n1").Labels; l[dbKey] != "" {
		t.Errorf("node1 keeps %s: %v", dbKey, l)
	}
	if c := w.service("sapp").Constraints; len(c) != 1 {
		t.Errorf("app's constraints after the move: %v, want only the anchor's", c)
	}
	// The next pass restores the update order and is then a no-op.
	next := w.sync(t, labelsSpec, nil, t0.Add(time.Hour))
	if len(next.Settle) != 1 || next.Settle[0].Edit.RestoreOrder != "baton.order.p1" || len(next.Services)+len(next.Sets)+len(next.Removes) != 0 {
		t.Fatalf("the pass after the move restores the order only:\n%s", describe(next))
	}
	w.apply(next)
	if n := w.converge(t, labelsSpec, t0.Add(time.Hour)); n != 0 || w.service("sapp").UpdateOrder != "" {
		t.Errorf("not converged (%d) or order not restored (%q)", n, w.service("sapp").UpdateOrder)
	}
}

func TestSyncLabelsRemovingAnchorsNeverStrandsTheDependent(t *testing.T) {
	w := newLabelWorld()
	w.converge(t, labelsSpec, t0)
	noAnchors := strings.Replace(labelsSpec, "  anchors:\n    - {service: app, anchor: db}\n", "", 1)
	p := w.sync(t, noAnchors, nil, t0)
	if len(p.Services) != 1 || !slices.Contains(p.Services[0].Edit.RemoveConstraints, AnchorConstraint("p1", "db")) {
		t.Fatalf("the dependent loses baton's constraint first:\n%s", describe(p))
	}
	if len(p.Removes) != 1 || !slices.Contains(p.Removes[0].Needs, p.Services[0].ID) || !strings.Contains(p.Removes[0].Reason, "the spec no longer anchors db") {
		t.Fatalf("the label goes after the constraint, with the true reason:\n%s", describe(p))
	}
	w.apply(p)
	if w.rejected != 0 || fmt.Sprint(w.nodesOf("sapp")) != "[n1 n1]" || w.moved != 0 {
		t.Fatalf("app keeps both tasks where they run: %v (%d rejected, %d moved)", w.nodesOf("sapp"), w.rejected, w.moved)
	}
	if s := w.service("sapp"); len(s.Constraints) != 0 || len(s.Labels) != 0 {
		t.Errorf("app is as it was before baton: %+v", s)
	}
	if n := w.converge(t, noAnchors, t0); n != 0 {
		t.Errorf("not converged: %d", n)
	}
}

func TestSyncLabelsTwoProjectsOnOneSwarm(t *testing.T) {
	w := newLabelWorld()
	w.services = append(w.services, fleet.Service{ID: "scache", Name: "cache", Labels: map[string]string{}},
		fleet.Service{ID: "sweb", Name: "web", Labels: map[string]string{}, Replicas: 1})
	w.tasks = append(w.tasks, fleet.Task{ID: "t4", ServiceID: "scache", NodeID: "n2", State: "running"},
		fleet.Task{ID: "t5", ServiceID: "sweb", NodeID: "n2", State: "running"})
	p2 := "project: p2\nswarm:\n  nodes:\n    node3: {labels: {rack: r3}}\n  anchors:\n    - {service: web, anchor: cache}\n  prune_unknown_labels: true\n"
	for pass := 0; pass < 10; pass++ {
		y := labelsSpec
		if pass%2 == 1 {
			y = p2
		}
		w.apply(w.sync(t, y, nil, t0.Add(time.Duration(pass)*time.Minute)))
	}
	if w.rejected != 0 {
		t.Fatalf("%d task(s) rejected over 10 alternating passes", w.rejected)
	}
	if l := w.node("n1").Labels; l[dbKey] != "true" || l["baton.anchors.p2.cache"] != "" {
		t.Errorf("node1: %v", l)
	}
	if l := w.node("n2").Labels; l["baton.anchors.p2.cache"] != "true" || l["zone"] != "b" {
		t.Errorf("node2 keeps p1's static label under p2's prune_unknown_labels: %v", l)
	}
	for _, y := range []string{labelsSpec, p2} {
		if p := w.sync(t, y, nil, t0.Add(time.Hour)); !empty(p) {
			t.Errorf("not converged:\n%s", describe(p))
		}
	}
}

func TestSyncLabelsKeepsALabelAServiceOfAHumanNeeds(t *testing.T) {
	w := newLabelWorld()
	w.converge(t, labelsSpec, t0)
	// An operator pins metrics to db's nodes with baton's own label.
	w.services = append(w.services, fleet.Service{ID: "smetrics", Name: "metrics", Labels: map[string]string{},
		Constraints: []string{"node.labels." + dbKey + " == true"}})
	w.tasks = append(w.tasks, fleet.Task{ID: "t9", ServiceID: "smetrics", NodeID: "n1", State: "running"})
	w.tasks[0].NodeID = "n2" // db moves
	p := w.sync(t, labelsSpec, nil, t0.Add(time.Hour))
	w.apply(p)
	if w.rejected != 0 {
		t.Fatalf("metrics' task was rejected:\n%s", describe(p))
	}
	if w.node("n1").Labels[dbKey] != "true" || !strings.Contains(describe(p), "label "+dbKey+" stays on node1: metrics run(s) there under a constraint on it") {
		t.Errorf("node1 keeps the label metrics needs, and says so:\n%s", describe(p))
	}
	if got := w.nodesOf("sapp"); fmt.Sprint(got) != "[n2 n2]" {
		t.Errorf("app still follows db: %v", got)
	}
	if cs := w.service("smetrics").Constraints; len(cs) != 1 {
		t.Errorf("baton never edits a service it does not manage: %v", cs)
	}
}

func TestSyncLabelsMovesOnlyWhatMustMove(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(w *labelWorld)
		now  time.Duration
		want string // a finding, or "" for a move
	}{
		{name: "pending tasks with no node do not count as misplaced", set: func(w *labelWorld) {
			w.tasks[1].NodeID, w.tasks[1].State = "", "pending"
			w.tasks[2].NodeID, w.tasks[2].State = "", "pending"
		}},
		{name: "a dependent Swarm is updating does not move", set: func(w *labelWorld) { w.service("sapp").UpdateState = "updating" },
			want: "but Swarm is updating it: it moves when the update is done"},
		{name: "another manager's move within restart_cooldown is kept", set: func(w *labelWorld) {
			w.service("sapp").Labels["baton.followed.p1"] = t0.Add(-20 * time.Second).Format(time.RFC3339)
		}, want: "but it moved 20s ago (restart_cooldown 1m0s)"},
		{name: "a move older than restart_cooldown is no obstacle", set: func(w *labelWorld) {
			w.service("sapp").Labels["baton.followed.p1"] = t0.Add(-2 * time.Minute).Format(time.RFC3339)
		}, want: "move"},
		{name: "tasks on a down node do not move", set: func(w *labelWorld) { w.nodes[0].Ready = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newLabelWorld()
			w.converge(t, labelsSpec, t0.Add(-time.Hour))
			w.tasks[0].NodeID = "n2" // db moved
			tc.set(w)
			p := w.sync(t, labelsSpec, nil, t0)
			moves := false
			for _, c := range p.Services {
				moves = moves || c.Moves
			}
			switch tc.want {
			case "":
				if moves {
					t.Errorf("a move:\n%s", describe(p))
				}
			case "move":
				if !moves {
					t.Errorf("no move:\n%s", describe(p))
				}
			default:
				if moves || !strings.Contains(describe(p), tc.want) {
					t.Errorf("want no move and %q:\n%s", tc.want, describe(p))
				}
			}
			w.apply(p)
			if w.rejected != 0 {
				t.Errorf("%d task(s) rejected:\n%s", w.rejected, describe(p))
			}
		})
	}
}

func TestSyncLabelsMigratesLegacyAnchorsWithoutARestart(t *testing.T) {
	w := newLabelWorld()
	w.nodes[0].Labels["baton.anchor.db"] = "true"
	w.service("sapp").Constraints = []string{LegacyAnchorConstraint("db")}
	owned := map[string][]string{"n1": {"baton.anchor.db", "zone"}}
	p := w.sync(t, labelsSpec, owned, t0)
	w.apply(p)
	if w.rejected != 0 || w.moved != 0 {
		t.Fatalf("the migration moved or rejected tasks (%d, %d):\n%s", w.moved, w.rejected, describe(p))
	}
	if cs := w.service("sapp").Constraints; fmt.Sprint(cs) != "["+AnchorConstraint("p1", "db")+"]" {
		t.Errorf("app's constraints: %v", cs)
	}
	if l := w.node("n1").Labels; l["baton.anchor.db"] != "" || l[dbKey] != "true" {
		t.Errorf("node1: the legacy label baton set goes, the namespaced one is there: %v", l)
	}
	// Without the state's record, a legacy label may be another baton's:
	// it stays.
	w2 := newLabelWorld()
	w2.nodes[0].Labels["baton.anchor.db"] = "true"
	w2.apply(w2.sync(t, labelsSpec, nil, t0))
	if w2.node("n1").Labels["baton.anchor.db"] != "true" {
		t.Error("a legacy label no record says baton set was removed")
	}
}

func TestSyncLabelsDownNodesAndIdleAnchors(t *testing.T) {
	w := newLabelWorld()
	w.nodes[2].Ready = false
	w.nodes[2].Labels[dbKey] = "true"
	p := w.sync(t, labelsSpec, nil, t0)
	for _, c := range append(p.Sets, p.Removes...) {
		if c.Node.Hostname == "node3" {
			t.Errorf("a down node was changed: %+v", c)
		}
	}
	if !strings.Contains(describe(p), "node node3 is down") {
		t.Errorf("down node not reported:\n%s", describe(p))
	}
	// db runs nowhere: its labels stay where they are.
	w = newLabelWorld()
	w.nodes[1].Labels[dbKey] = "true"
	w.tasks = w.tasks[1:]
	p = w.sync(t, labelsSpec, nil, t0)
	for _, c := range p.Removes {
		if slices.Contains(c.Remove, dbKey) {
			t.Errorf("removed %s from %s while db runs nowhere", dbKey, c.Node.Hostname)
		}
	}
	if !strings.Contains(describe(p), `anchor "db" has no running task: its labels stay where they are`) {
		t.Errorf("not reported:\n%s", describe(p))
	}
}

func TestSyncLabelsAnAnchorChangedForADependent(t *testing.T) {
	w := newLabelWorld()
	w.services = append(w.services, fleet.Service{ID: "scache", Name: "cache", Labels: map[string]string{}})
	w.tasks = append(w.tasks, fleet.Task{ID: "t4", ServiceID: "scache", NodeID: "n2", State: "running"})
	w.converge(t, labelsSpec, t0)
	toCache := strings.Replace(labelsSpec, "anchor: db}", "anchor: cache}", 1)
	p := w.sync(t, toCache, nil, t0.Add(time.Hour))
	w.apply(p)
	if w.rejected != 0 || fmt.Sprint(w.nodesOf("sapp")) != "[n2 n2]" {
		t.Fatalf("app follows cache to node2 with nothing rejected (%d): %v\n%s", w.rejected, w.nodesOf("sapp"), describe(p))
	}
	if cs := w.service("sapp").Constraints; fmt.Sprint(cs) != "["+AnchorConstraint("p1", "cache")+"]" {
		t.Errorf("app's constraints: %v", cs)
	}
	if w.converge(t, toCache, t0.Add(time.Hour)) > 1 {
		t.Error("not converged")
	}
	if l := w.node("n1").Labels; l[dbKey] != "" {
		t.Errorf("db is no anchor any more: its label goes: %v", l)
	}
}

func TestSyncLabelsRolesAvailabilityAndTheQuorumGuard(t *testing.T) {
	three := func() *labelWorld {
		w := newLabelWorld()
		for i := range w.nodes {
			w.nodes[i].Role, w.nodes[i].Reachable, w.nodes[i].Availability = "manager", true, "active"
		}
		return w
	}
	for _, tc := range []struct {
		name    string
		nodes   string // the swarm.nodes section
		set     func(w *labelWorld)
		changes string // node: role/availability changes planned
		refused string
	}{
		{name: "a drain and a promotion are planned, promotions first",
			nodes: "    node3: {availability: drain}\n    node2: {role: manager}\n",
			set: func(w *labelWorld) {
				w.nodes[1].Role, w.nodes[1].Reachable = "worker", false
				w.nodes[2].Role = "worker"
			},
			changes: "node2 role=manager; node3 availability=drain"},
		{name: "demoting one of three reachable managers keeps a quorum",
			nodes: "    node3: {role: worker}\n", changes: "node3 role=worker"},
		{name: "demoting two of three leaves one of one: still a quorum",
			nodes: "    node2: {role: worker}\n    node3: {role: worker}\n", changes: "node2 role=worker; node3 role=worker"},
		{name: "with one manager unreachable, a demotion that leaves 1 of 2 reachable is refused",
			nodes:   "    node2: {role: worker}\n",
			set:     func(w *labelWorld) { w.nodes[2].Reachable = false },
			refused: "refusing to demote node2: 1 of the 2 manager(s) left would be reachable, a quorum needs 2"},
		{name: "the last manager is never demoted",
			nodes:   "    node1: {role: worker}\n    node2: {role: worker}\n    node3: {role: worker}\n",
			changes: "node1 role=worker; node2 role=worker", refused: "refusing to demote node3: 0 of the 0 manager(s) left"},
		{name: "a down node keeps its role", nodes: "    node3: {role: worker}\n",
			set: func(w *labelWorld) { w.nodes[2].Ready, w.nodes[2].Reachable = false, false }, changes: ""},
		{name: "what is already true changes nothing", nodes: "    node1: {role: manager, availability: active}\n", changes: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := three()
			if tc.set != nil {
				tc.set(w)
			}
			p := w.sync(t, "swarm:\n  nodes:\n"+tc.nodes, nil, t0)
			var got []string
			for _, c := range p.Sets {
				var parts []string
				if c.Role != "" {
					parts = append(parts, "role="+c.Role)
				}
				if c.Availability != "" {
					parts = append(parts, "availability="+c.Availability)
				}
				if len(parts) > 0 {
					got = append(got, c.Node.Hostname+" "+strings.Join(parts, " "))
				}
			}
			if strings.Join(got, "; ") != tc.changes {
				t.Errorf("changes %q, want %q\n%s", strings.Join(got, "; "), tc.changes, describe(p))
			}
			refused := ""
			for _, f := range p.Findings {
				if strings.HasPrefix(f, QuorumRefusal) {
					refused = f
				}
			}
			if !strings.HasPrefix(refused, tc.refused) || (tc.refused == "") != (refused == "") {
				t.Errorf("refused %q, want %q", refused, tc.refused)
			}
		})
	}
}

// TestSyncLabelsNeverConstrainsADependentToNowhere: a dependent gets its
// anchor's constraint only when some node carries the anchor's label. An
// anchor service that does not exist (yet), or that never ran, carries
// its label nowhere: the constraint would leave every task of the
// dependent pending, so the pass says why it waits (an incident keyed by
// the dependent) and the dependent keeps running where it is. Once the
// anchor runs, the dependent follows it.
func TestSyncLabelsNeverConstrainsADependentToNowhere(t *testing.T) {
	running := func(w *labelWorld) int {
		n := 0
		for _, t := range w.tasks {
			if t.ServiceID == "sapp" && t.State == "running" {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		name  string
		world func(w *labelWorld)
	}{
		{"no anchor service", func(w *labelWorld) { w.services, w.tasks = w.services[1:], w.tasks[1:] }},
		{"an anchor that never ran", func(w *labelWorld) { w.tasks = w.tasks[1:] }},
	} {
		w := newLabelWorld()
		c.world(w)
		p := w.sync(t, labelsSpec, nil, t0)
		if len(p.Services) != 0 || !strings.Contains(describe(p), "app does not follow db yet: no node carries its label "+dbKey) {
			t.Errorf("%s: the dependent is changed, or the wait not said:\n%s", c.name, describe(p))
		}
		if s, ok := p.lasting[p.Findings[len(p.Findings)-1]]; !ok || s.Type != "dependent" || s.Key != "dependent service app" {
			t.Errorf("%s: the wait is not the dependent's incident: %+v", c.name, s)
		}
		w.converge(t, labelsSpec, t0)
		if n := running(w); n != 2 {
			t.Errorf("%s: %d of app's 2 tasks run", c.name, n)
		}
		// The anchor comes and runs on node3: the dependent follows.
		if c.name == "no anchor service" {
			w.services = append(w.services, fleet.Service{ID: "sdb", Name: "db", Labels: map[string]string{}})
		}
		w.tasks = append(w.tasks, fleet.Task{ID: "t9", ServiceID: "sdb", NodeID: "n3", State: "running"})
		w.converge(t, labelsSpec, t0.Add(time.Hour))
		if got := w.nodesOf("sapp"); fmt.Sprint(got) != "[n3 n3]" || running(w) != 2 {
			t.Errorf("%s: after the anchor ran on node3, app runs on %v (%d running)", c.name, got, running(w))
		}
	}
	// An anchor missing from a node that still carries its label (it ran
	// there): its labels stay, and the dependent follows them.
	w := newLabelWorld()
	w.services, w.tasks = w.services[1:], w.tasks[1:]
	w.nodes[1].Labels[dbKey] = "true"
	w.converge(t, labelsSpec, t0)
	if got := w.nodesOf("sapp"); fmt.Sprint(got) != "[n2 n2]" || running(w) != 2 {
		t.Errorf("the label stayed on node2: app runs on %v (%d running)", got, running(w))
	}
}
