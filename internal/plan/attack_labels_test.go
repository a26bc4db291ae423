package plan

// Adversarial table tests of labels sync: a dependent is never stranded
// with nowhere to run, and each incident is one finding.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

func runningOf(w *labelWorld, svc string) (running, pending int) {
	for _, t := range w.tasks {
		if t.ServiceID != svc {
			continue
		}
		if t.State == "running" && t.NodeID != "" {
			running++
		} else {
			pending++
		}
	}
	return
}

// The only node carrying db's label is down (db ran there; it has no
// running task on a ready node now): app must not get the constraint,
// which no node that can run a task meets.
func TestAttackSyncLabelsNeverConstrainsToADownNodesLabel(t *testing.T) {
	w := newLabelWorld()
	w.nodes[2].Labels[dbKey] = "true"
	w.nodes[2].Ready = false
	w.tasks[0].NodeID = "n3" // db's task, on the down node
	p := w.sync(t, labelsSpec, nil, t0)
	w.apply(p)
	if r, pe := runningOf(w, "sapp"); r != 2 || pe != 0 {
		t.Errorf("app stranded: %d running, %d pending\n%s", r, pe, describe(p))
	}
}

// db runs on node3, which is paused (Swarm places no new task there):
// app must not be sent to follow it there, where none of its tasks can be
// placed.
func TestAttackSyncLabelsNeverSendsADependentToAPausedNode(t *testing.T) {
	w := newLabelWorld()
	w.nodes[2].Active = false
	w.nodes[2].Availability = "pause"
	w.tasks[0].NodeID = "n3"
	for pass := 0; pass < 3; pass++ {
		p := w.sync(t, labelsSpec, nil, t0.Add(time.Duration(pass)*time.Hour))
		w.apply(p)
		if r, pe := runningOf(w, "sapp"); r != 2 || pe != 0 {
			t.Fatalf("pass %d: app stranded: %d running, %d pending\n%s", pass+1, r, pe, describe(p))
		}
	}
}

// Two dependents of one missing anchor: the anchor's incident is one
// finding (one key), not one per dependent.
func TestAttackSyncLabelsOneFindingPerIncidentKey(t *testing.T) {
	w := newLabelWorld()
	w.services = append(w.services[1:], fleet.Service{ID: "sapi", Name: "api", Labels: map[string]string{}, Replicas: 1})
	w.tasks = append(w.tasks[1:], fleet.Task{ID: "t9", ServiceID: "sapi", NodeID: "n2", State: "running"})
	spec := strings.Replace(labelsSpec, "    - {service: app, anchor: db}\n", "    - {service: app, anchor: db}\n    - {service: api, anchor: db}\n", 1)
	pl := LabelsPass(LabelsInput{Spec: testSpec(t, spec), Nodes: w.copyNodes(), Services: w.copyServices(), Tasks: w.tasks, Now: t0})
	keys := map[string]int{}
	for _, s := range pl.Steps {
		if s.Key != "" {
			keys[s.Key]++
		}
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("incident %q is %d findings of one pass", k, n)
		}
	}
}

// db moves to node3, app follows; then db disappears: app keeps running
// where it is, and later passes change nothing.
func TestAttackSyncLabelsAnchorMovesThenDisappears(t *testing.T) {
	w := newLabelWorld()
	w.converge(t, labelsSpec, t0)
	w.tasks[0].NodeID = "n3"
	w.converge(t, labelsSpec, t0.Add(time.Hour))
	if got := fmt.Sprint(w.nodesOf("sapp")); got != "[n3 n3]" {
		t.Fatalf("app did not follow db: %s", got)
	}
	w.services, w.tasks = w.services[1:], w.tasks[1:]
	w.converge(t, labelsSpec, t0.Add(2*time.Hour))
	if r, pe := runningOf(w, "sapp"); r != 2 || pe != 0 || w.moved != 0 && fmt.Sprint(w.nodesOf("sapp")) != "[n3 n3]" {
		t.Errorf("after db disappeared: %d running, %d pending on %v", r, pe, w.nodesOf("sapp"))
	}
	// ... and the spec then drops the anchor: nothing strands either.
	noAnchors := strings.Replace(labelsSpec, "  anchors:\n    - {service: app, anchor: db}\n", "", 1)
	w.converge(t, noAnchors, t0.Add(3*time.Hour))
	if r, pe := runningOf(w, "sapp"); r != 2 || pe != 0 {
		t.Errorf("after the anchor left the spec: %d running, %d pending", r, pe)
	}
	if l := w.node("n3").Labels; l[dbKey] != "" {
		t.Errorf("node3 keeps db's label after the spec dropped it: %v", l)
	}
}

// Two dependents swap anchors in one spec change; a chain (web follows
// app, app follows db); both converge with no task rejected and none
// pending.
func TestAttackSyncLabelsSwapAndChain(t *testing.T) {
	w := newLabelWorld()
	w.services = append(w.services, fleet.Service{ID: "scache", Name: "cache", Labels: map[string]string{}},
		fleet.Service{ID: "sapi", Name: "api", Labels: map[string]string{}, Replicas: 1})
	w.tasks = append(w.tasks, fleet.Task{ID: "t4", ServiceID: "scache", NodeID: "n2", State: "running"},
		fleet.Task{ID: "t5", ServiceID: "sapi", NodeID: "n3", State: "running"})
	two := strings.Replace(labelsSpec, "    - {service: app, anchor: db}\n", "    - {service: app, anchor: db}\n    - {service: api, anchor: cache}\n", 1)
	w.converge(t, two, t0)
	swapped := strings.Replace(labelsSpec, "    - {service: app, anchor: db}\n", "    - {service: app, anchor: cache}\n    - {service: api, anchor: db}\n", 1)
	w.converge(t, swapped, t0.Add(time.Hour))
	if a, b := fmt.Sprint(w.nodesOf("sapp")), fmt.Sprint(w.nodesOf("sapi")); a != "[n2 n2]" || b != "[n1]" {
		t.Errorf("after the swap app on %s (want n2), api on %s (want n1)", a, b)
	}
	for _, s := range []string{"sapp", "sapi"} {
		if _, pe := runningOf(w, s); pe != 0 {
			t.Errorf("%s has %d pending", s, pe)
		}
	}

	w = newLabelWorld()
	w.services = append(w.services, fleet.Service{ID: "sweb", Name: "web", Labels: map[string]string{}, Replicas: 1})
	w.tasks = append(w.tasks, fleet.Task{ID: "t6", ServiceID: "sweb", NodeID: "n2", State: "running"})
	chain := strings.Replace(labelsSpec, "    - {service: app, anchor: db}\n", "    - {service: app, anchor: db}\n    - {service: web, anchor: app}\n", 1)
	w.converge(t, chain, t0)
	w.tasks[0].NodeID = "n3"
	for pass := 0; pass < 4; pass++ {
		p := w.sync(t, chain, nil, t0.Add(time.Duration(pass+1)*time.Hour))
		w.apply(p)
		if w.rejected != 0 {
			t.Fatalf("chain: pass %d rejected %d task(s)\n%s", pass+1, w.rejected, describe(p))
		}
	}
	if a, b := fmt.Sprint(w.nodesOf("sapp")), fmt.Sprint(w.nodesOf("sweb")); a != "[n3 n3]" || b != "[n3]" {
		t.Errorf("chain: app on %s, web on %s; want both on n3", a, b)
	}
}
