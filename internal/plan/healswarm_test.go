package plan

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/state"
)

func TestHealTasks(t *testing.T) {
	s := testSpec(t, `project: p
apps:
  - name: web
    engine: swarm
    image: web:1
    port: 8080
    replicas: 2
    health: {type: http, path: /, failure_threshold: 2, stable_after: 1m, backoff: 10s}
swarm:
  nodes:
    node1: {docker: "unix:///n1.sock"}
`)
	nodes := []fleet.Node{{ID: "n1", Hostname: "node1", Ready: true, Addr: "10.0.0.1"}, {ID: "n2", Hostname: "node2", Ready: true, Addr: "10.0.0.2"}}
	svc := fleet.Service{ID: "s", Name: "p-web", Replicas: 2, Labels: map[string]string{fleet.LabelProject: "p", fleet.LabelApp: "web"}}
	started := t0.Add(-10 * time.Minute)
	tasks := []fleet.Task{
		{ID: "a", ServiceID: "s", NodeID: "n1", State: "running", Slot: 1, ContainerID: "ca", Started: started},
		{ID: "b", ServiceID: "s", NodeID: "n2", State: "running", Slot: 2, ContainerID: "cb", Started: started},
	}
	member := func(id string) fleet.Container {
		return fleet.Container{ID: id, App: "web", State: "running", Replica: -1, Created: started}
	}
	fail := errors.New("status 500")
	for _, tc := range []struct {
		name     string
		svc      func(fleet.Service) fleet.Service
		probes   map[string]error
		counters map[string]*state.Probe
		attempts map[Slot][]time.Time
		want     string // the replace step's reason, or a finding
	}{
		{name: "one failure is below the threshold", probes: map[string]error{"a": fail, "b": nil}, want: "unhealthy: probe failed (1 of 2)"},
		{name: "at the threshold the task is replaced, and one that served longer than stable_after starts its slot afresh",
			probes: map[string]error{"a": fail, "b": nil}, counters: map[string]*state.Probe{"a": {Failures: 1, FailingSince: t0.Add(-time.Minute)}},
			want: "replace task: task p-web.1@node1 failed its health check 2 times in a row: status 500; it served 9m0s, so its slot starts afresh"},
		{name: "a task that failed soon after it started backs off on its slot",
			probes: map[string]error{"a": fail}, counters: map[string]*state.Probe{"a": {Failures: 1, FailingSince: started.Add(5 * time.Second)}},
			attempts: map[Slot][]time.Time{{"web", 1}: {t0.Add(-2 * time.Second)}}, want: "hold: "},
		{name: "another slot's backoff never holds it",
			probes: map[string]error{"a": fail}, counters: map[string]*state.Probe{"a": {Failures: 1, FailingSince: started.Add(5 * time.Second)}},
			attempts: map[Slot][]time.Time{{"web", 2}: {t0.Add(-2 * time.Second)}}, want: "replace task: task p-web.1@node1"},
		{name: "a task on a node with no engine endpoint cannot be replaced, and says what to add",
			probes: map[string]error{"b": fail}, counters: map[string]*state.Probe{"b": {Failures: 1, FailingSince: t0.Add(-time.Minute)}},
			want: "unhealthy: task p-web.2@node2 failed its health check 2 times in a row: status 500; it cannot be replaced: its node's engine is unknown (give swarm.nodes.node2.docker)"},
		{name: "not while Swarm updates the service", svc: func(s fleet.Service) fleet.Service { s.UpdateState = "updating"; return s },
			probes: map[string]error{"a": fail}, counters: map[string]*state.Probe{"a": {Failures: 1, FailingSince: t0.Add(-time.Minute)}},
			want: "hold: task p-web.1@node1 failed its health check 2 times in a row: status 500; Swarm is updating the service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sv := svc
			if tc.svc != nil {
				sv = tc.svc(sv)
			}
			steps, counters := HealTasks(HealTasksInput{Spec: s, Nodes: nodes, Services: []fleet.Service{sv}, Tasks: tasks,
				Members: []fleet.Container{member("a"), member("b")}, Probes: tc.probes, Counters: tc.counters, Attempts: tc.attempts}, t0)
			var got []string
			for _, st := range steps {
				got = append(got, st.EventType()+": "+st.Reason)
				if st.Kind == ReplaceTask {
					got[len(got)-1] = "replace task: " + st.Reason
				}
			}
			if !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Errorf("got:\n%s\nwant %q", strings.Join(got, "\n"), tc.want)
			}
			if len(counters) != 2 && len(tc.probes) == 2 {
				t.Errorf("counters for every probed task: %v", counters)
			}
		})
	}
}

func TestHealTasksCommitMovesTheSlot(t *testing.T) {
	s := testSpec(t, "apps:\n  - {name: web, engine: swarm, image: web:1}\n")
	st := &state.State{}
	st.AddSlotAttempt("web", 1, t0.Add(-time.Minute), time.Hour, s.HashOf(s.App("web")))
	step := Step{Kind: ReplaceTask, Do: TaskReplacement{App: "web", Task: fleet.Task{Slot: 1}, Attempt: true}}
	HealTasksCommit(s, map[string]*state.Probe{"x": {Failures: 2}}, t0)(st, []Outcome{{Step: step, Data: Replaced{App: "web", OldSlot: 1, Slot: 4}}})
	if got := st.Apps["web"].Slots; len(got["1"]) != 0 || len(got["4"]) != 2 || st.Probes["x"] == nil {
		t.Errorf("slot 1's attempt and this one are slot 4's now: %v (probes %v)", got, st.Probes)
	}
	reset := Step{Kind: ReplaceTask, Do: TaskReplacement{App: "web", Task: fleet.Task{Slot: 4}}}
	HealTasksCommit(s, nil, t0)(st, []Outcome{{Step: reset, Data: Replaced{App: "web", OldSlot: 4, Slot: 5}}})
	if got := st.Apps["web"].Slots; len(got["4"])+len(got["5"]) != 0 {
		t.Errorf("a task that served long starts its slot afresh: %v", got)
	}
}
