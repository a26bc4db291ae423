package plan

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testSpec(t testing.TB, yaml string) *spec.Spec {
	t.Helper()
	s, err := spec.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const webSpec = `
apps:
  - name: web
    image: web:v2
    port: 8080
    replicas: %d
`

// ctr builds a running container of app web with the spec's current hash
// unless hash is given.
func ctr(id string, replica int, hash string, age time.Duration) fleet.Container {
	return fleet.Container{ID: id, Name: "baton-web-" + id, App: "web", Replica: replica, Hash: hash,
		Image: "web:v2", State: "running", Created: t0.Add(-age), Addr: "127.0.0.1:1" + id}
}

func summary(actions []Action) string {
	var parts []string
	for _, a := range actions {
		switch a.Kind {
		case Start:
			parts = append(parts, fmt.Sprintf("start %d", a.Replica))
		default:
			parts = append(parts, fmt.Sprintf("%s %s", a.Kind, a.Old.ID))
		}
	}
	return strings.Join(parts, ", ")
}

func TestScale(t *testing.T) {
	cur := testSpec(t, fmt.Sprintf(webSpec, 1)).App("web").Hash("")
	old := "0000oldhash0"
	cases := []struct {
		name     string
		replicas int
		observed []fleet.Container
		ready    []string
		want     string
	}{
		{"an empty fleet starts every replica", 3, nil, nil, "start 0, start 1, start 2"},
		{"a converged fleet needs nothing", 2,
			[]fleet.Container{ctr("a", 0, cur, time.Hour), ctr("b", 1, cur, time.Hour)}, []string{"a", "b"}, ""},
		{"scale-out fills the missing indexes", 4,
			[]fleet.Container{ctr("a", 0, cur, time.Hour), ctr("b", 2, cur, time.Hour)}, nil, "start 1, start 3"},
		{"scale-in removes the highest replica first", 1,
			[]fleet.Container{ctr("a", 0, cur, time.Hour), ctr("b", 1, cur, time.Hour), ctr("c", 2, cur, time.Hour)}, nil, "remove c, remove b"},
		{"an outdated replica is replaced", 2,
			[]fleet.Container{ctr("a", 0, old, time.Hour), ctr("b", 1, cur, time.Hour)}, nil, "replace a"},
		{"scale-in and rollout together replace only what stays", 1,
			[]fleet.Container{ctr("a", 0, old, time.Hour), ctr("b", 1, old, time.Hour)}, nil, "replace a, remove b"},
		{"an exited container is left for gc and its replica started anew", 1,
			[]fleet.Container{{ID: "x", App: "web", Replica: 0, Hash: cur, State: "exited"}}, nil, "start 0"},
		{"a duplicate replica keeps the current, ready one", 1,
			[]fleet.Container{ctr("a", 0, old, time.Hour), ctr("b", 0, cur, time.Minute)}, []string{"a", "b"}, "remove a"},
		{"a duplicate replica keeps the ready one when both are current", 1,
			[]fleet.Container{ctr("a", 0, cur, time.Hour), ctr("b", 0, cur, time.Minute)}, []string{"a"}, "remove b"},
		{"a replica without a valid index label is removed", 1,
			[]fleet.Container{ctr("a", 0, cur, time.Hour), ctr("z", -1, cur, time.Hour)}, nil, "remove z"},
		{"zero replicas removes all", 0,
			[]fleet.Container{ctr("a", 0, cur, time.Hour)}, nil, "remove a"},
		{"a retiring container left by an interrupted pass is removed", 1,
			[]fleet.Container{ctr("a", 0, cur, time.Hour), {ID: "r", Name: "web-0-x.retiring", App: "web", Replica: 0, Hash: cur, State: "exited"}}, nil, "remove r"},
		{"a container created but never started is removed", 1,
			[]fleet.Container{ctr("a", 0, cur, time.Hour), {ID: "n", App: "web", Replica: 1, Hash: cur, State: "created"}}, nil, "remove n"},
		{"containers of an app that left the spec are removed", 1,
			[]fleet.Container{ctr("a", 0, cur, time.Hour), {ID: "o", App: "gone", Replica: 0, State: "running"}}, nil, "remove o"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testSpec(t, fmt.Sprintf(webSpec, c.replicas))
			ready := map[string]bool{}
			for _, id := range c.ready {
				ready[id] = true
			}
			actions := Scale(s, Desired(s, nil, nil), c.observed, ready)
			if got := summary(actions); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			for _, a := range actions {
				if a.Reason == "" {
					t.Errorf("action %s %s has no reason", a.Kind, a.Target())
				}
			}
		})
	}
}

func TestScaleReasons(t *testing.T) {
	s := testSpec(t, fmt.Sprintf(webSpec, 3))
	old := ctr("a", 0, "0000oldhash0", time.Hour)
	old.Image = "web:v1"
	actions := Scale(s, Desired(s, nil, nil), []fleet.Container{old}, nil)
	want := []string{"have 1 running replicas, want 3", "have 1 running replicas, want 3", "image web:v1 → web:v2"}
	if len(actions) != len(want) {
		t.Fatalf("got %d actions: %s", len(actions), summary(actions))
	}
	for i, a := range actions {
		if a.Reason != want[i] {
			t.Errorf("action %d: reason %q, want %q", i, a.Reason, want[i])
		}
	}
}

func TestScaleIsIdempotentAfterApplying(t *testing.T) {
	// Applying the plan's result (all replicas current and ready) yields no
	// further action: a second pass is a no-op.
	s := testSpec(t, fmt.Sprintf(webSpec, 3))
	hash := s.App("web").Hash("")
	var after []fleet.Container
	ready := map[string]bool{}
	for i := 0; i < 3; i++ {
		c := ctr(fmt.Sprint(i), i, hash, time.Minute)
		after = append(after, c)
		ready[c.ID] = true
	}
	if a := Scale(s, Desired(s, nil, nil), after, ready); len(a) != 0 {
		t.Errorf("second pass planned %s", summary(a))
	}
}

func TestWant(t *testing.T) {
	s := testSpec(t, `
project: shop
apps:
  - name: web
    image: web:v2
    port: 8080
    env: {B: "2", A: "1"}
    resources: {memory: 64m, cpu: 500m}
`)
	w := Want(s, s.App("web"), 2, "abc123")
	if w.Name != "shop-web-2-abc123" {
		t.Errorf("name %q", w.Name)
	}
	if got := strings.Join(w.Env, " "); got != "A=1 B=2 BATON_APP=web BATON_REPLICA=2" {
		t.Errorf("env %q", got)
	}
	if w.MemoryB != 64<<20 || w.MilliCPU != 500 || w.PublishIP != "127.0.0.1" || w.Project != "shop" {
		t.Errorf("want %+v", w)
	}
}

func TestCountsAsAttempt(t *testing.T) {
	for kind, want := range map[Kind]bool{Start: true, Replace: true, Remove: false} {
		if got := (Action{Kind: kind}).CountsAsAttempt(); got != want {
			t.Errorf("a failed %s counts as an attempt: %v, want %v", kind, got, want)
		}
	}
}

// TestAnInterruptedReplacementKeepsTheSlotsData: a pass killed during a
// stop-first replacement leaves the old container marked retiring —
// stopped, or still running when the kill came before the stop. It is
// removed, but its slot's data is not lost with it: a stopped one's
// volume is carried by the slot's start, a running one is replaced
// stop-first, carrying it; one without anonymous volumes is removed and
// its slot started as before.
func TestAnInterruptedReplacementKeepsTheSlotsData(t *testing.T) {
	s := testSpec(t, fmt.Sprintf(webSpec, 1))
	vol := strings.Repeat("c", 64)
	retiring := func(state string, withVol bool) fleet.Container {
		c := ctr("r0", 0, "old", time.Hour)
		c.Name += fleet.RetiringSuffix
		c.State = state
		if withVol {
			c.Mounts = []fleet.Mount{{Type: "volume", Name: vol, Target: "/data"}}
		}
		return c
	}
	for _, c := range []struct {
		name  string
		old   fleet.Container
		want  string
		carry bool
	}{
		{"stopped, with a volume", retiring("exited", true), "remove r0, start 0", true},
		{"running, with a volume", retiring("running", true), "replace r0", true},
		{"running, without one", retiring("running", false), "remove r0, start 0", false},
	} {
		as := Scale(s, Desired(s, nil, nil), []fleet.Container{c.old}, nil)
		var got []string
		carried := false
		for _, a := range as {
			got = append(got, summary([]Action{a}))
			carried = carried || a.Carry["/data"] == vol
		}
		sort.Strings(got)
		if strings.Join(got, ", ") != c.want || carried != c.carry {
			t.Errorf("%s: %v (carries %v), want %s (carries %v)", c.name, got, carried, c.want, c.carry)
		}
	}
}
