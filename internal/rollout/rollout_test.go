package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/clock"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/probe"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// world is a fake engine, prober and balancer that records every side
// effect in order, for checking the zero-downtime invariants.
type world struct {
	mu       sync.Mutex
	log      []string
	n        int
	routed   map[string]bool // what the balancer routes to now
	failWait map[string]bool // app replicas ("web-1") whose new container never gets ready
	failSync bool
	stopped  []string
	t        *testing.T
	// For stop-first and the stack (stopfirst_test.go): with prepLog set,
	// prerequisites, removals and restarts are logged too.
	prepLog  bool
	removed  []string
	failPrep map[string]error // by volume or network name
	prepared map[string]int
	// For the monitor (monitor_test.go): clock stamps new containers'
	// creation; exits are new containers ("web-1") that exit once started.
	clock *clock.Fake
	exits map[string]bool
}

func (w *world) prep(what string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.prepared == nil {
		w.prepared = map[string]int{}
	}
	w.prepared[what]++
	if w.prepLog {
		w.log = append(w.log, "ensure "+what)
	}
	return w.failPrep[what]
}

func (w *world) EnsureVolume(ctx context.Context, project string, v fleet.VolumeWant) error {
	return w.prep("volume " + v.Name)
}

func (w *world) EnsureNetwork(ctx context.Context, project string, n fleet.NetworkWant) error {
	return w.prep("network " + n.Name)
}

func (w *world) StartExisting(ctx context.Context, id, network string) (fleet.Container, error) {
	w.record("restart " + id)
	return fleet.Container{ID: id, Name: id, App: "web", State: "running", Addr: "127.0.0.1:again-" + id}, nil
}

func (w *world) record(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, s)
}

func (w *world) EnsureImage(ctx context.Context, ref, policy string) error {
	if w.prepLog {
		w.record("ensure image " + ref)
	}
	return nil
}

func (w *world) Start(ctx context.Context, want fleet.Want) (fleet.Container, error) {
	w.mu.Lock()
	w.n++
	id := fmt.Sprintf("new%d-%s-%d", w.n, want.App, want.Replica)
	w.mu.Unlock()
	if len(want.Carry) > 0 {
		w.record(fmt.Sprintf("start %s carrying %v", id, want.Carry))
	} else {
		w.record("start " + id)
	}
	c := fleet.Container{ID: id, Name: id, App: want.App, Replica: want.Replica, Hash: want.Hash, State: "running", Addr: "127.0.0.1:" + id}
	if w.clock != nil {
		c.Created = w.clock.Now()
	}
	return c, nil
}

func (w *world) Stop(ctx context.Context, id string, grace time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.routed[id] {
		w.t.Errorf("stopped %s while the balancer routes to it", id)
	}
	w.log = append(w.log, "stop "+id)
	w.stopped = append(w.stopped, id)
	return nil
}

func (w *world) Remove(ctx context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.removed = append(w.removed, id)
	if w.prepLog {
		w.log = append(w.log, "remove "+id)
	}
	return nil
}

func (w *world) Rename(ctx context.Context, id, name string) error { return nil }

func (w *world) Inspect(ctx context.Context, id string) (fleet.Exit, error) {
	for k := range w.exits {
		if strings.HasSuffix(id, k) && w.clock != nil {
			return fleet.Exit{State: "exited", ExitCode: 1}, nil
		}
	}
	return fleet.Exit{State: "running"}, nil
}

func (w *world) Do(ctx context.Context, t probe.Target) error {
	for k := range w.failWait {
		if strings.Contains(t.Addr, k) {
			return errors.New("not ready")
		}
	}
	return nil
}

func (w *world) sync(ctx context.Context, members []fleet.Container) error {
	if w.failSync {
		return errors.New("nginx -t failed")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.routed = map[string]bool{}
	var ids []string
	for _, m := range members {
		w.routed[m.ID] = true
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	w.log = append(w.log, "sync "+strings.Join(ids, ","))
	return nil
}

func (w *world) runner(s *spec.Spec) *Runner {
	return &Runner{Spec: s, Engine: w, Probe: w, Sync: w.sync,
		Clock:  recClock{clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), w},
		Suffix: func() string { return "x" }, Parallel: 1}
}

// recClock records the drain waits (readiness polling sleeps are shorter)
// and moves its fake time on every sleep.
type recClock struct {
	*clock.Fake
	w *world
}

func (c recClock) Sleep(ctx context.Context, d time.Duration) error {
	if d >= time.Second {
		c.w.record("drain " + d.String())
	}
	return c.Fake.Sleep(ctx, d)
}

func setup(t *testing.T, replicas int, running ...fleet.Container) (*spec.Spec, *world, []fleet.Container) {
	s, err := spec.Parse("t.yaml", []byte(fmt.Sprintf(`
nginx: {config: c.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:80"}
apps:
  - {name: web, image: web:v2, port: 8080, replicas: %d, drain: 3s, lb: {}, health: {ready_timeout: 1s}}
`, replicas)))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, routed: map[string]bool{}, failWait: map[string]bool{}}
	for _, c := range running {
		w.routed[c.ID] = true
	}
	return s, w, running
}

func old(id string, replica int) fleet.Container {
	return fleet.Container{ID: id, Name: id, App: "web", Replica: replica, Hash: "oldhash", Image: "web:v1", State: "running", Addr: "127.0.0.1:" + id}
}

func TestRollingReplaceIsStartFirstOneAtATime(t *testing.T) {
	s, w, members := setup(t, 2, old("o0", 0), old("o1", 1))
	ready := map[string]bool{"o0": true, "o1": true}
	actions := plan.Scale(s, plan.Desired(s, nil, nil), members, ready)
	rep := w.runner(s).Run(context.Background(), actions, members)
	if rep.Failed() != 0 || rep.SyncErr != nil {
		t.Fatalf("failures: %+v", rep)
	}
	want := []string{
		"start new1-web-0", "sync new1-web-0,o1", "drain 3s", "stop o0",
		"start new2-web-1", "sync new1-web-0,new2-web-1", "drain 3s", "stop o1",
	}
	if got := strings.Join(w.log, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestAReplacementCarryingAVolumeStopsFirst: a replica with an anonymous
// volume (its image's VOLUME: a database's data) is replaced stop-first,
// whatever update.order says, and the new one mounts that volume: the data
// stays with the slot and two containers never share it. A replica without
// one still rolls start-first.
func TestAReplacementCarryingAVolumeStopsFirst(t *testing.T) {
	vol := strings.Repeat("ab", 32)
	o0 := old("o0", 0)
	o0.Mounts = []fleet.Mount{{Type: "volume", Name: vol, Target: "/var/lib/db/"}, {Type: "volume", Name: "p_named", Target: "/named"}}
	s, w, members := setup(t, 2, o0, old("o1", 1))
	actions := plan.Scale(s, plan.Desired(s, nil, nil), members, map[string]bool{"o0": true, "o1": true})
	if len(actions) != 2 || !strings.HasSuffix(actions[0].Reason, "; stop-first, so its anonymous volume /var/lib/db carries over") || actions[1].Carry != nil {
		t.Fatalf("actions: %+v", actions)
	}
	rep := w.runner(s).Run(context.Background(), actions, members)
	if rep.Failed() != 0 || rep.SyncErr != nil {
		t.Fatalf("failures: %+v", rep)
	}
	want := []string{
		"start new1-web-1", "sync new1-web-1,o0", "drain 3s", "stop o1",
		"sync new1-web-1", "drain 3s", "stop o0", "start new2-web-0 carrying map[/var/lib/db:" + vol + "]", "sync new1-web-1,new2-web-0",
	}
	if got := strings.Join(w.log, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestScaleOutAndInShareOneSync(t *testing.T) {
	s, w, members := setup(t, 2)
	cur := s.App("web").Hash("")
	c0 := fleet.Container{ID: "c0", App: "web", Replica: 0, Hash: cur, State: "running", Addr: "a"}
	c5 := fleet.Container{ID: "c5", App: "web", Replica: 5, Hash: cur, State: "running", Addr: "b"}
	members = []fleet.Container{c0, c5}
	w.routed = map[string]bool{"c0": true, "c5": true}
	actions := plan.Scale(s, plan.Desired(s, nil, nil), members, map[string]bool{"c0": true, "c5": true})
	w.runner(s).Run(context.Background(), actions, members)
	want := "start new1-web-1\nsync c0,new1-web-1\ndrain 3s\nstop c5"
	if got := strings.Join(w.log, "\n"); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestFailedReplacementKeepsTheOldReplica(t *testing.T) {
	s, w, members := setup(t, 1, old("o0", 0))
	w.failWait["web-0"] = true
	actions := plan.Scale(s, plan.Desired(s, nil, nil), members, map[string]bool{"o0": true})
	rep := w.runner(s).Run(context.Background(), actions, members)
	if rep.Failed() != 1 {
		t.Fatalf("want one failed action, got %+v", rep.Outcomes)
	}
	for _, id := range w.stopped {
		if id == "o0" {
			t.Error("the old replica was stopped although its replacement failed")
		}
	}
	if !w.routed["o0"] || len(w.routed) != 1 {
		t.Errorf("balancer must still route to exactly the old replica: %v", w.routed)
	}
}

func TestSyncFailureStopsNothing(t *testing.T) {
	s, w, members := setup(t, 0, old("o0", 0), old("o1", 1))
	w.failSync = true
	actions := plan.Scale(s, plan.Desired(s, nil, nil), members, map[string]bool{"o0": true, "o1": true})
	rep := w.runner(s).Run(context.Background(), actions, members)
	if rep.SyncErr == nil || len(w.stopped) != 0 {
		t.Fatalf("want a sync error and nothing stopped, got %v, stopped %v", rep.SyncErr, w.stopped)
	}
	if rep.Failed() != len(actions) {
		t.Errorf("every action must be reported failed, got %d of %d", rep.Failed(), len(actions))
	}
}

func TestNoActionsStillSyncsOnce(t *testing.T) {
	s, w, _ := setup(t, 1)
	cur := fleet.Container{ID: "c0", App: "web", Replica: 0, Hash: s.App("web").Hash(""), State: "running", Addr: "a"}
	w.runner(s).Run(context.Background(), nil, []fleet.Container{cur})
	if got := strings.Join(w.log, "\n"); got != "sync c0" {
		t.Errorf("got %q", got)
	}
}
