package commands_test

// Adversarial tests of the swarm passes' incident promises: one alert per
// incident (not per pass), no flapping, dependents never stranded.

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/state"
)

func (a *inproc) eventLines(typ string) []state.Event {
	a.t.Helper()
	evs, _, err := state.ReadEventLog(a.state)
	if err != nil {
		a.t.Fatal(err)
	}
	var out []state.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func pendingOf(a *inproc, svc string) (running, pending int) {
	for _, t := range a.fake.TaskSet {
		if t.ServiceID != svc {
			continue
		}
		if t.NodeID == "" || !t.Running() {
			pending++
		} else {
			running++
		}
	}
	return
}

// Two dependents of one anchor that does not exist: one incident (one key,
// "anchor service db"), so it must be one event when it begins, and one
// line of output.
func TestAttackTwoDependentsOfOneMissingAnchorAreOneIncident(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  anchors:\n    - {service: app, anchor: db}\n    - {service: api, anchor: db}\n  restart_cooldown: 0s\n")
	a.nodes(true, true)
	a.fake.AddService(fleet.Service{ID: "sapp", Name: "app", Replicas: 1}, "n1")
	a.fake.AddService(fleet.Service{ID: "sapi", Name: "api", Replicas: 1}, "n1")
	out := a.must(0, "labels", "sync")
	if n := strings.Count(out, `anchor service "db" does not exist`); n != 1 {
		t.Errorf("one missing anchor printed %d times:\n%s", n, out)
	}
	a.must(0, "labels", "sync")
	a.fake.AddService(fleet.Service{ID: "sdb", Name: "db", Replicas: 1}, "n2")
	a.must(0, "labels", "sync")
	if b, e := a.eventsOf("anchor"); b != 1 || e != 1 {
		t.Errorf("one missing anchor, then found: %d began, %d ended; want 1, 1\n%v", b, e, a.eventLines("anchor"))
	}
}

// The only node carrying the anchor's label is down (the anchor ran there
// and has no running task now). A dependent newly named in the spec must
// not get the constraint: no ready node could run it, and its tasks would
// go pending (stranded).
func TestAttackDependentIsNotConstrainedToADownNode(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  anchors:\n    - {service: app, anchor: db}\n  restart_cooldown: 0s\n")
	a.nodes(true, true)
	// db ran on node2, which carries its label from an earlier pass, and
	// node2 is down now; app (just anchored in the spec) runs on node1.
	a.fake.AddService(fleet.Service{ID: "sdb", Name: "db", Replicas: 1}, "n2")
	a.fake.AddService(fleet.Service{ID: "sapp", Name: "app", Replicas: 2}, "n1")
	a.fake.NodeSet[1].Labels["baton.anchors.ip.db"] = "true"
	a.fake.NodeSet[1].Ready = false
	out, errOut, code := a.run("labels", "sync")
	if code != 3 {
		t.Errorf("a node down: exit %d, want 3", code)
	}
	if r, p := pendingOf(a, "sapp"); p != 0 || r != 2 {
		t.Errorf("app got a constraint only a down node meets: %d running, %d pending (stranded); constraints %v\n%s%s",
			r, p, a.fake.ServiceSet["sapp"].Constraints, out, errOut)
	}
}

// A label kept on node1 for an operator's service (label-kept) is one
// incident. node1 going down for a while and coming back, with nothing
// else changed, must not end it and begin it again: a pass that skips a
// down node could not have found it again.
func TestAttackLabelKeptDoesNotFlapOverANodeDown(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  anchors:\n    - {service: app, anchor: db}\n  restart_cooldown: 0s\n")
	a.nodes(true, true, true)
	a.fake.AddService(fleet.Service{ID: "sdb", Name: "db", Replicas: 1}, "n1")
	a.fake.AddService(fleet.Service{ID: "sapp", Name: "app", Replicas: 1}, "n1")
	a.must(0, "labels", "sync")
	// An operator's service, not baton's, constrained on baton's label.
	a.fake.AddService(fleet.Service{ID: "sops", Name: "ops", Replicas: 1, Constraints: []string{"node.labels.baton.anchors.ip.db==true"}}, "n1")
	// db moves to node2: node1's label stays for ops.
	for i := range a.fake.TaskSet {
		if a.fake.TaskSet[i].ServiceID == "sdb" {
			a.fake.TaskSet[i].NodeID = "n2"
		}
	}
	out := a.must(0, "labels", "sync")
	if !strings.Contains(out, "stays on node1") {
		t.Fatalf("no label-kept finding:\n%s", out)
	}
	a.must(0, "labels", "sync")
	// node1 goes down for two passes, then comes back as it was.
	a.fake.NodeSet[0].Ready = false
	a.run("labels", "sync")
	a.run("labels", "sync")
	a.fake.NodeSet[0].Ready = true
	a.must(0, "labels", "sync")
	if b, e := a.eventsOf("label-kept"); b != 1 || e != 0 {
		t.Errorf("one label kept throughout: %d began, %d ended; want 1, 0\n%v", b, e, a.eventLines("label-kept"))
	}
}

// A node under memory pressure that no move relieves is one incident; the
// node being down for a pass (rebalance skips it: it "neither gives nor
// receives") and coming back unchanged must not end and begin it again.
func TestAttackPressureDoesNotFlapOverANodeDown(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  rebalance: {threshold: 70%, target: 60%, wait: 10s}\n")
	a.nodes(true, true)
	a.fake.AddService(fleet.Service{ID: "s1", Name: "big", Replicas: 1, ReserveMemory: 800 << 20}, "n1")
	a.must(0, "rebalance")
	a.fake.NodeSet[0].Ready = false
	a.run("rebalance")
	a.fake.NodeSet[0].Ready = true
	a.must(0, "rebalance")
	if b, e := a.eventsOf("pressure"); b != 1 || e != 0 {
		t.Errorf("one pressed node throughout: %d began, %d ended; want 1, 0\n%v", b, e, a.eventLines("pressure"))
	}
}

// Every pass subcommand in turn over a swarm spec with a missing anchor,
// a pressed node and a node down: each incident is one event, and only
// the first pass to find each prints it.
func TestAttackAlternatingPassesKeepOneEventPerIncident(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  anchors:\n    - {service: app, anchor: db}\n  restart_cooldown: 0s\n  rebalance: {threshold: 70%, target: 60%, wait: 10s}\n")
	a.nodes(true, true, false)
	a.fake.AddService(fleet.Service{ID: "sapp", Name: "app", Replicas: 1, ReserveMemory: 800 << 20}, "n1")
	passes := [][]string{{"labels", "sync"}, {"rebalance"}, {"scale"}, {"lb", "render"}, {"heal"}, {"gc"}}
	for round := 0; round < 3; round++ {
		for _, p := range passes {
			out, errOut, code := a.run(p...)
			if code != 3 {
				t.Errorf("round %d %v with a node down: exit %d, want 3\n%s%s", round, p, code, out, errOut)
			}
			if round > 0 && (out != "" || errOut != "") {
				t.Errorf("round %d %v printed a known incident:\n%s%s", round, p, out, errOut)
			}
		}
	}
	for typ, want := range map[string]int{"down": 1, "anchor": 1, "dependent": 1, "pressure": 1} {
		if b, e := a.eventsOf(typ); b != want || e != 0 {
			t.Errorf("%s: %d began, %d ended; want %d, 0", typ, b, e, want)
		}
	}
	// node3 comes back: the down incident ends once, in whichever pass
	// sees it first, and stays ended.
	a.fake.NodeSet[2].Ready = true
	for _, p := range passes {
		a.must(0, p...)
	}
	if b, e := a.eventsOf("down"); b != 1 || e != 1 {
		t.Errorf("down: %d began, %d ended; want 1, 1", b, e)
	}
	for _, typ := range []string{"anchor", "dependent", "pressure"} {
		if b, e := a.eventsOf(typ); b != 1 || e != 0 {
			t.Errorf("%s after node3 came back: %d began, %d ended; want 1, 0", typ, b, e)
		}
	}
}

// A dry run prints what the real pass would (a known incident ending
// too) and changes nothing: not the state, not the event log.
func TestAttackDryRunOfAnIncidentsEndChangesNothing(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  anchors:\n    - {service: app, anchor: db}\n  restart_cooldown: 0s\n")
	a.nodes(true, true)
	a.fake.AddService(fleet.Service{ID: "sapp", Name: "app", Replicas: 1}, "n1")
	a.must(0, "labels", "sync")
	a.fake.AddService(fleet.Service{ID: "sdb", Name: "db", Replicas: 1}, "n2")
	st := a.stateBytes()
	evs, _, _ := state.ReadEventLog(a.state)
	dry := a.must(0, "-n", "labels", "sync")
	evs2, _, _ := state.ReadEventLog(a.state)
	if string(st) != string(a.stateBytes()) || len(evs) != len(evs2) || a.fake.Count("label") != 0 || a.fake.Count("edit") != 0 {
		t.Fatalf("the dry run changed something: state %v, events %d → %d, calls %v", string(st) != string(a.stateBytes()), len(evs), len(evs2), a.fake.Calls())
	}
	real := a.must(0, "labels", "sync")
	norm := func(s string) string {
		s = strings.ReplaceAll(s, "planned", "ok")
		var out []string
		for _, l := range strings.Split(s, "\n") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
		return strings.Join(out, "\n")
	}
	if norm(dry) != norm(real) {
		t.Errorf("dry run and real pass differ:\n--- dry\n%s--- real\n%s", dry, real)
	}
	for _, typ := range []string{"anchor", "dependent"} {
		if b, e := a.eventsOf(typ); b != 1 || e != 1 {
			t.Errorf("%s: %d began, %d ended; want 1, 1", typ, b, e)
		}
	}
	// JSON: a known incident is still in the findings of a quiet pass.
	a.fake.RemoveService(nil, "sdb")
	a.must(0, "labels", "sync")
	var obj struct{ Findings []any }
	if err := json.Unmarshal([]byte(a.must(0, "-o", "json", "labels", "sync")), &obj); err != nil || len(obj.Findings) == 0 {
		t.Errorf("-o json of a pass with known incidents lists no findings")
	}
}

// Another node going down must not end node1's pressure either.
func TestAttackPressureHoldsWhileAnotherNodeIsDown(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  rebalance: {threshold: 70%, target: 60%, wait: 10s}\n")
	a.nodes(true, true)
	a.fake.AddService(fleet.Service{ID: "s1", Name: "big", Replicas: 1, ReserveMemory: 800 << 20}, "n1")
	a.must(0, "rebalance")
	a.fake.NodeSet[1].Ready = false
	a.run("rebalance")
	a.run("labels", "sync")
	a.fake.NodeSet[1].Ready = true
	a.must(0, "rebalance")
	if b, e := a.eventsOf("pressure"); b != 1 || e != 0 {
		t.Errorf("one pressed node throughout: %d began, %d ended; want 1, 0\n%v", b, e, a.eventLines("pressure"))
	}
}

// A pass whose only reason for exit 3 is a known down node: quiet on the
// terminal, but -o json still carries the error fields and the finding.
func TestAttackKnownDownNodeInJSON(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  anchors:\n    - {service: app, anchor: db}\n")
	a.nodes(true, false)
	a.fake.AddService(fleet.Service{ID: "sdb", Name: "db", Replicas: 1}, "n1")
	a.fake.AddService(fleet.Service{ID: "sapp", Name: "app", Replicas: 1}, "n1")
	a.run("labels", "sync")
	out, errOut, code := a.run("labels", "sync")
	if code != 3 || out != "" || errOut != "" {
		t.Errorf("a known down node: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = a.run("-o", "json", "labels", "sync")
	var obj struct {
		ExitCode int   `json:"exit_code"`
		Findings []any `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &obj); err != nil || code != 3 || obj.ExitCode != 3 || len(obj.Findings) == 0 {
		t.Errorf("-o json with a known down node: exit %d, %+v %v\n%s", code, obj, err, out)
	}
	if b, _ := a.eventsOf("down"); b != 1 {
		t.Errorf("down began %d times", b)
	}
}

// The spec renames app's anchor from db to db2, first to one not created
// yet, then db2 appears on node2: app is never stranded, no task is
// rejected, and it ends where db2 runs.
func TestAttackAnchorRenamedInTheSpec(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  anchors:\n    - {service: app, anchor: db}\n  restart_cooldown: 0s\n")
	a.nodes(true, true)
	a.fake.AddService(fleet.Service{ID: "sdb", Name: "db", Replicas: 1}, "n1")
	a.fake.AddService(fleet.Service{ID: "sapp", Name: "app", Replicas: 2}, "n1")
	a.must(0, "labels", "sync")
	a.write(`"true"`, "swarm:\n  anchors:\n    - {service: app, anchor: db2}\n  restart_cooldown: 0s\n")
	for i := 0; i < 3; i++ {
		a.must(0, "labels", "sync")
		if r, p := pendingOf(a, "sapp"); r != 2 || p != 0 || a.fake.Rejected != 0 {
			t.Fatalf("db2 missing, pass %d: %d running, %d pending, %d rejected", i+1, r, p, a.fake.Rejected)
		}
	}
	a.fake.AddService(fleet.Service{ID: "sdb2", Name: "db2", Replicas: 1}, "n2")
	for i := 0; i < 3; i++ {
		a.must(0, "labels", "sync")
		if r, p := pendingOf(a, "sapp"); r != 2 || p != 0 || a.fake.Rejected != 0 {
			t.Fatalf("db2 on node2, pass %d: %d running, %d pending, %d rejected", i+1, r, p, a.fake.Rejected)
		}
	}
	if taskNodeOf(a.fake, "sapp") != "n2" || a.fake.NodeSet[0].Labels["baton.anchors.ip.db"] != "" {
		t.Errorf("app on %s; node1 labels %v", taskNodeOf(a.fake, "sapp"), a.fake.NodeSet[0].Labels)
	}
	if out := a.must(0, "labels", "sync"); out != "" {
		t.Errorf("not quiet after converging:\n%s", out)
	}
	for _, typ := range []string{"anchor", "dependent", "label-kept"} {
		if b, e := a.eventsOf(typ); b != e {
			t.Errorf("%s: %d began, %d ended", typ, b, e)
		}
	}
}
