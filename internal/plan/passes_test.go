package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/balancer"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

var now0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func specOf(t *testing.T, y string) *spec.Spec {
	t.Helper()
	s, err := spec.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDesired(t *testing.T) {
	s := specOf(t, `apps:
  - {name: fixed, image: "a:1", replicas: 3}
  - {name: auto, image: "a:1", replicas: 2, autoscale: {min: 1, max: 5, targets: {cpu: 50%}}}
  - {name: fresh, image: "a:1", replicas: 9, autoscale: {min: 1, max: 4, targets: {cpu: 50%}}}
`)
	st := state.New()
	st.AppState("auto").Autoscale = &state.Autoscale{Desired: 7}
	cases := []struct {
		name    string
		decided map[string]int
		want    Wanted
	}{
		{"a fixed count is the spec's; the state's last decision is clamped to max; a first count is clamped too", nil,
			Wanted{"fixed": 3, "auto": 5, "fresh": 4}},
		{"this pass's decision wins over the state's", map[string]int{"auto": 2},
			Wanted{"fixed": 3, "auto": 2, "fresh": 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Desired(s, st, c.decided)
			for app, n := range c.want {
				if got.Of(app) != n {
					t.Errorf("%s: %d, want %d", app, got.Of(app), n)
				}
			}
			if *s.App("fixed").Replicas != 3 || *s.App("auto").Replicas != 2 {
				t.Error("Desired changed the spec")
			}
		})
	}
}

func TestScalePassCommit(t *testing.T) {
	s := specOf(t, "apps:\n  - {name: web, image: \"a:1\", replicas: 1}\n  - {name: db, image: \"a:1\", replicas: 0}\n")
	old := fleet.Container{ID: "d0", App: "db", Replica: 0, State: "running", Hash: s.HashOf(s.App("db"))}
	p := ScalePass(ScaleInput{Spec: s, Want: Desired(s, nil, nil), Containers: []fleet.Container{old}}, now0)
	if len(p.Steps) != 2 {
		t.Fatalf("want a start and a removal, got %+v", p.Steps)
	}
	outs := make([]Outcome, len(p.Steps))
	for i, st := range p.Steps {
		outs[i] = Outcome{Step: st, Err: errors.New("failed")}
	}
	st := state.New()
	p.Commit(st, outs)
	if n := len(st.SlotAttempts("web", 0)); n != 1 {
		t.Errorf("a failed start counts as one attempt of its slot: %d", n)
	}
	if st.App("db") != nil && len(st.App("db").Slots) > 0 {
		t.Error("a failed removal counted as an attempt")
	}
}

func TestHoldStepsMakeACrashLoopPartial(t *testing.T) {
	steps := HoldSteps([]Hold{{App: "a", Reason: "backing off"}, {App: "b", Reason: "crash-looping: 5 attempts", Crashloop: true}})
	if steps[0].Partial != "" || steps[0].Type != "hold" {
		t.Errorf("a backoff is information: %+v", steps[0])
	}
	if steps[1].Type != "crashloop" || !strings.Contains(steps[1].Partial, `app "b" is crash-looping`) || steps[1].Hint == "" {
		t.Errorf("a crash loop makes the pass partial with a hint: %+v", steps[1])
	}
}

func TestGCPassRemovesContainersThenImagesThenVolumes(t *testing.T) {
	s := specOf(t, "gc: {grace: 1h, keep_images: 1, volumes: all, scope: host}\napps: []\n")
	in := GCInput{Spec: s,
		Containers: []fleet.Container{{ID: "c1", Name: "x", State: "exited", Created: now0.Add(-2 * time.Hour), Labels: map[string]string{fleet.LabelProject: "baton"}}},
		Images:     []fleet.Image{{ID: "i1", Tags: []string{"r:1"}, Created: now0.Add(-3 * time.Hour)}, {ID: "i2", Tags: []string{"r:2"}, Created: now0.Add(-time.Hour)}},
		Volumes:    []fleet.Volume{{Name: "v"}}}
	p := GCPass(in, now0)
	var kinds []string
	for _, st := range p.Steps {
		kinds = append(kinds, st.Do.(GCItem).Kind)
	}
	if strings.Join(kinds, ",") != "container,image,volume" {
		t.Errorf("order %v", kinds)
	}
	st := state.New()
	p.Commit(st, nil)
	if st.ImagesLastUsed == nil {
		t.Error("gc's last-use record is not kept")
	}
}

func TestModsPassCommitKeepsOnlyWhatWasDone(t *testing.T) {
	m := &spec.Mods{Dir: "/m", Files: []*spec.ModFile{{URL: "http://x/a", Dest: "a", Interval: spec.Duration{D: time.Hour}}, {URL: "http://x/b", Dest: "b", Interval: spec.Duration{D: time.Hour}}}}
	rec := map[string]*state.Mod{"gone": {URL: "http://x/gone"}}
	p := ModsPass(m, map[string]ModFileObs{}, rec, now0)
	if len(p.Steps) != 3 {
		t.Fatalf("want two fetches and a prune: %+v", p.Steps)
	}
	st := &state.State{Mods: map[string]*state.Mod{"gone": {URL: "http://x/gone"}}}
	p.Commit(st, []Outcome{
		{Step: p.Steps[0], Data: &state.Mod{URL: "http://x/a"}},
		{Step: p.Steps[1], Err: errors.New("404")},
		{Step: p.Steps[2]},
	})
	if st.Mods["a"] == nil || st.Mods["b"] != nil || st.Mods["gone"] != nil {
		t.Errorf("after the pass: %v", st.Mods)
	}
}

func TestLabelsPassCommit(t *testing.T) {
	s := specOf(t, "swarm:\n  nodes:\n    n1: {labels: {zone: a}}\n    n2: {labels: {zone: b}}\n")
	nodes := []fleet.Node{{ID: "1", Hostname: "n1", Ready: true, Labels: map[string]string{"baton.anchor.db": "true"}},
		{ID: "2", Hostname: "n2", Ready: true, Labels: map[string]string{"baton.anchor.x": "true"}}}
	// The legacy record of an older baton: the unnamespaced anchor
	// labels and the static ones it set.
	st := &state.State{NodeLabels: map[string][]string{"1": {"baton.anchor.db", "zone"}, "2": {"baton.anchor.x"}}}
	p := LabelsPass(LabelsInput{Spec: s, Nodes: nodes, Owned: st.NodeLabels, Now: now0})
	var kinds []string
	for _, s := range p.Steps {
		c := s.Do.(LabelChange)
		kinds = append(kinds, fmt.Sprintf("%s set %d remove %v", c.Node.Hostname, len(c.Set), c.Remove))
	}
	if strings.Join(kinds, "; ") != "n1 set 2 remove []; n2 set 2 remove []; n1 set 0 remove [baton.anchor.db]; n2 set 0 remove [baton.anchor.x]" {
		t.Fatalf("sets first, then removals: %v", kinds)
	}
	p.Commit(st, []Outcome{{Step: p.Steps[0]}, {Step: p.Steps[1]}, {Step: p.Steps[2]}, {Step: p.Steps[3], Err: errors.New("out of sequence")}})
	if fmt.Sprint(st.NodeLabels) != "map[2:[baton.anchor.x]]" {
		t.Errorf("the legacy record after n2's removal failed: %v (n1's is done: ownership lives on the node)", st.NodeLabels)
	}
}

func TestRebalancePassCommit(t *testing.T) {
	cfg := &spec.Rebalance{Cooldown: spec.Duration{D: time.Minute}, ServiceCooldown: spec.Duration{D: 10 * time.Minute}}
	moved := map[string]time.Time{"ancient": now0.Add(-time.Hour), "recent": now0.Add(-5 * time.Minute)}
	p := RebalancePass(RebalanceInput{Config: cfg, Now: now0, Moved: moved}, nil)
	st := &state.State{Moved: moved}
	p.Commit(st, []Outcome{{Step: Step{Kind: MoveService, Do: Move{Name: "api"}}}, {Step: Step{Kind: MoveService, Do: Move{Name: "db"}}, Err: errors.New("x")}})
	if _, ok := st.Moved["api"]; ok {
		t.Errorf("a move is remembered on the service (its pin sets baton.rebalance.moved), not in the local state: %v", st.Moved)
	}
	if _, ok := st.Moved["ancient"]; ok {
		t.Error("a move older than both cooldowns is kept")
	}
	if _, ok := st.Moved["recent"]; !ok {
		t.Error("a move within the service cooldown is forgotten")
	}
}

// TestRebalanceMemoryIsTheServices: the move times are read from the
// services' own labels, so a second manager's pass (an empty local state)
// keeps the first one's cooldowns; a move Swarm gave up is unpinned at
// once and makes the pass partly done.
func TestRebalanceMemoryIsTheServices(t *testing.T) {
	nodes, svcs, tasks := world(map[string]string{"a": "n2:1500", "b": "n1:10"})
	sortServices(svcs) // a, b
	cfg := rbConfig()
	cfg.ServiceCooldown.D, cfg.Cooldown.D = time.Hour, 10*time.Minute
	svcs[0].Labels[fleet.LabelMoved] = now0.Add(-5 * time.Minute).Format(time.RFC3339)
	in := RebalanceInput{Config: cfg, Nodes: nodes, Services: svcs, Tasks: tasks, Moved: MovedFrom(svcs, nil), Now: now0}
	if p := Rebalance(in); len(p.Moves) != 0 || !strings.Contains(strings.Join(p.Findings, "\n"), "in the global cooldown") {
		t.Errorf("another manager moved a 5 minutes ago: nothing moves (%s, %v)", moveList(p), p.Findings)
	}
	in.Now = now0.Add(20 * time.Minute)
	if p := Rebalance(in); len(p.Moves) != 0 {
		t.Errorf("a is in its service cooldown (1h): %s", moveList(p))
	}
	if got := MovedFrom(svcs, map[string]time.Time{"a": now0.Add(-time.Hour), "b": now0})["a"]; !got.Equal(now0.Add(-5 * time.Minute)) {
		t.Errorf("the later of the label and the local record counts: %v", got)
	}

	// a was pinned to node3 and Swarm paused the update.
	svcs[0].Labels[fleet.LabelPin] = "node.hostname==node3"
	svcs[0].Constraints = []string{"node.hostname==node3"}
	svcs[0].Labels[fleet.LabelPinSince] = now0.Format(time.RFC3339)
	for _, tc := range []struct {
		name  string
		set   func(s *fleet.Service, ts *[]fleet.Task)
		wants string
	}{
		{"a paused update", func(s *fleet.Service, _ *[]fleet.Task) {
			s.UpdateState, s.UpdateMessage = "paused", "update paused due to failure or early termination of task x"
		}, "Swarm's update is paused: update paused due to failure"},
		{"a rolled-back update", func(s *fleet.Service, _ *[]fleet.Task) { s.UpdateState = "rollback_completed" }, "Swarm's update is rollback completed"},
		{"a task rejected on the new node", func(_ *fleet.Service, ts *[]fleet.Task) {
			*ts = append(*ts, fleet.Task{ID: "x", ServiceID: "s-a", NodeID: "n3", State: "rejected", Err: "No such image: v9"})
		}, "its task on the new node rejected: No such image: v9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := svcs[0]
			s.Labels = copyMap(svcs[0].Labels)
			ts := append([]fleet.Task(nil), tasks...)
			tc.set(&s, &ts)
			p := RebalancePass(RebalanceInput{Config: cfg, Nodes: nodes, Services: []fleet.Service{s, svcs[1]}, Tasks: ts, Now: now0.Add(time.Minute)}, nil)
			var unpin, partial bool
			for _, st := range p.Steps {
				unpin = unpin || (st.Kind == UnpinService && strings.Contains(st.Reason, "the pin is removed at once"))
				partial = partial || (st.Partial != "" && strings.Contains(st.Partial, tc.wants))
			}
			if !unpin || !partial {
				t.Errorf("want an unpin at once and a partial finding %q: %+v", tc.wants, p.Steps)
			}
		})
	}
}

func TestStatusHealthClass(t *testing.T) {
	cases := []struct {
		name string
		as   AppStatus
		want string
	}{
		{"nothing wanted, nothing running is ok", AppStatus{}, "ok"},
		{"replicas wanted and none running is down", AppStatus{Want: 2}, "down"},
		{"every running replica ready, as many as wanted, is ok", AppStatus{Want: 2, Running: 2, Ready: 2}, "ok"},
		{"running but none ready is failing", AppStatus{Want: 2, Running: 2}, "failing"},
		{"some ready is degraded", AppStatus{Want: 2, Running: 2, Ready: 1}, "degraded"},
		{"all ready but fewer than wanted is degraded", AppStatus{Want: 3, Running: 2, Ready: 2}, "degraded"},
	}
	for _, c := range cases {
		if got := healthClass(c.as); got != c.want {
			t.Errorf("%s: %s", c.name, got)
		}
	}
}

func TestArrivedNeedsEveryTaskOnThePinnedReadyNode(t *testing.T) {
	nodes := []fleet.Node{{ID: "1", Hostname: "a", Ready: true}, {ID: "2", Hostname: "b", Ready: true}, {ID: "3", Hostname: "c"}}
	pinned := func(id, host string, replicas uint64) fleet.Service {
		return fleet.Service{ID: id, Name: id, Replicas: replicas, Labels: map[string]string{fleet.LabelPin: "node.hostname==" + host}}
	}
	services := []fleet.Service{pinned("there", "b", 1), pinned("half", "b", 2), pinned("down", "c", 1), {ID: "free", Name: "free", Replicas: 1}}
	tasks := []fleet.Task{{ServiceID: "there", NodeID: "2", State: "running"}, {ServiceID: "half", NodeID: "2", State: "running"},
		{ServiceID: "half", NodeID: "1", State: "running"}, {ServiceID: "down", NodeID: "3", State: "running"}, {ServiceID: "free", NodeID: "2", State: "running"}}
	got := Arrived(nodes, services, tasks)
	if len(got) != 1 || got[0].Name != "there" {
		t.Errorf("arrived: %+v", got)
	}
}

func TestSyncBalancer(t *testing.T) {
	st := &state.Balancer{}
	if _, ok := SyncBalancer("/c", []byte("a"), true, []byte("b"), nil, balancer.Hash([]byte("b")), st); !ok {
		t.Error("different bytes need a sync")
	}
	s, ok := SyncBalancer("/c", []byte("a"), true, []byte("a"), nil, balancer.Hash([]byte("a")), st)
	if !ok || s.Do.(*BalancerChange).Write || !strings.Contains(s.Reason, "not tested and reloaded") {
		t.Errorf("equal bytes never reloaded need a reload only: %+v", s)
	}
	s, ok = SyncBalancer("/c", nil, false, []byte("a"), nil, balancer.Hash([]byte("a")), st)
	if !ok || !s.Do.(*BalancerChange).Write || !strings.Contains(s.Do.(*BalancerChange).Diff, "+a") {
		t.Errorf("no file yet: %+v", s)
	}
}
