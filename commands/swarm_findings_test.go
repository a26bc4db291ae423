package commands_test

import (
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/state"
)

// eventsOf are the logged events of type typ: how many began, how many
// ended.
func (a *inproc) eventsOf(typ string) (began, ended int) {
	a.t.Helper()
	evs, _, err := state.ReadEventLog(a.state)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, e := range evs {
		switch {
		case e.Type == typ && e.Resolved:
			ended++
		case e.Type == typ:
			began++
		}
	}
	return began, ended
}

// TestInProcessSwarmFindingsAreOneEventEach: what the swarm passes find
// about the Swarm (an anchor with no service, a node over the memory
// threshold that no move relieves, with its share changing from pass to
// pass) is one event when it begins and one when it ends; the passes in
// between print nothing, as a cron run that found nothing new must.
func TestInProcessSwarmFindingsAreOneEventEach(t *testing.T) {
	t.Run("labels sync", func(t *testing.T) {
		a := newInproc(t)
		a.write(`"true"`, "swarm:\n  anchors:\n    - {service: app, anchor: db}\n  restart_cooldown: 0s\n")
		a.nodes(true, true)
		a.fake.AddService(fleet.Service{ID: "sapp", Name: "app", Replicas: 1}, "n1")
		if out := a.must(0, "labels", "sync"); !strings.Contains(out, `anchor service "db" does not exist`) {
			t.Fatalf("the first pass does not report the missing anchor:\n%s", out)
		}
		for i := 0; i < 9; i++ {
			if out := a.must(0, "labels", "sync"); out != "" {
				t.Fatalf("pass %d printed a known finding:\n%s", i+2, out)
			}
		}
		if b, e := a.eventsOf("anchor"); b != 1 || e != 0 {
			t.Errorf("10 passes over one missing anchor: %d began, %d ended; want 1, 0", b, e)
		}
		a.fake.AddService(fleet.Service{ID: "sdb", Name: "db", Replicas: 1}, "n2")
		if out := a.must(0, "labels", "sync"); !strings.Contains(out, "over (since") {
			t.Errorf("the pass that finds the anchor does not end the incident:\n%s", out)
		}
		if b, e := a.eventsOf("anchor"); b != 1 || e != 1 {
			t.Errorf("after the anchor came: %d began, %d ended; want 1, 1", b, e)
		}
	})
	t.Run("rebalance", func(t *testing.T) {
		a := newInproc(t)
		a.write(`"true"`, "swarm:\n  rebalance: {threshold: 70%, target: 60%, wait: 10s}\n")
		a.nodes(true, true)
		// One service of 800 MiB on node1 (78% of 1 GiB) fits nowhere under
		// the target: node1 stays over the threshold.
		a.fake.AddService(fleet.Service{ID: "s1", Name: "big", Replicas: 1, ReserveMemory: 800 << 20}, "n1")
		if out := a.must(0, "rebalance"); !strings.Contains(out, "node node1 stays at") {
			t.Fatalf("the first pass does not report the pressure:\n%s", out)
		}
		for i := 0; i < 9; i++ {
			if i == 4 { // the share changes: the same incident
				a.fake.ServiceSet["s1"].ReserveMemory = 850 << 20
			}
			if out := a.must(0, "rebalance"); out != "" {
				t.Fatalf("pass %d printed a known finding:\n%s", i+2, out)
			}
		}
		if b, e := a.eventsOf("pressure"); b != 1 || e != 0 {
			t.Errorf("10 passes over one pressed node: %d began, %d ended; want 1, 0", b, e)
		}
		a.fake.RemoveService(nil, "s1")
		if out := a.must(0, "rebalance"); !strings.Contains(out, "over (since") {
			t.Errorf("the pass under the threshold does not end the incident:\n%s", out)
		}
		if b, e := a.eventsOf("pressure"); b != 1 || e != 1 {
			t.Errorf("after the pressure went: %d began, %d ended; want 1, 1", b, e)
		}
	})
}
