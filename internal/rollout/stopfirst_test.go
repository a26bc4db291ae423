package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// stackSetup is a stop-first app with a volume and a network, replicas
// of it running on an outdated spec.
func stackSetup(t *testing.T, replicas int, running ...fleet.Container) (*spec.Spec, *world, []fleet.Container) {
	t.Helper()
	s, err := spec.Parse("t.yaml", []byte(fmt.Sprintf(`
project: p
nginx: {config: c.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:80"}
networks: {default: {}}
volumes: {data: {shared: true}}
apps:
  - {name: web, image: web:v2, port: 8080, replicas: %d, drain: 3s, lb: {}, health: {ready_timeout: 1s},
     update: {order: stop-first}, volumes: ["data:/data"]}
`, replicas)))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, routed: map[string]bool{}, failWait: map[string]bool{}, prepLog: true}
	for _, c := range running {
		w.routed[c.ID] = true
	}
	return s, w, running
}

func TestStopFirst(t *testing.T) {
	cases := []struct {
		name     string
		replicas int
		running  []fleet.Container
		ready    map[string]bool
		edit     func(w *world)
		want     []string
		failed   int
		routed   string // what the balancer routes to at the end
	}{
		{
			name:     "the old replica leaves the balancer, drains and stops before the new one starts; prerequisites come first",
			replicas: 1, running: []fleet.Container{old("o0", 0)}, ready: map[string]bool{"o0": true},
			want: []string{"sync o0", "ensure image web:v2", "ensure volume p_data", "ensure network p_default",
				"sync ", "drain 3s", "stop o0", "start new1-web-0", "sync new1-web-0", "remove o0"},
			routed: "new1-web-0",
		},
		{
			name:     "a new replica that never answers is removed and the old one is started again and put back",
			replicas: 1, running: []fleet.Container{old("o0", 0)}, ready: map[string]bool{"o0": true},
			edit: func(w *world) { w.failWait["new1-web-0"] = true },
			want: []string{"sync o0", "ensure image web:v2", "ensure volume p_data", "ensure network p_default",
				"sync ", "drain 3s", "stop o0", "start new1-web-0", "stop new1-web-0", "remove new1-web-0", "restart o0", "sync o0"},
			failed: 1, routed: "o0",
		},
		{
			name:     "a failed volume stops nothing: the old replica keeps serving",
			replicas: 1, running: []fleet.Container{old("o0", 0)}, ready: map[string]bool{"o0": true},
			edit: func(w *world) {
				w.failPrep = map[string]error{"volume p_data": errors.New(`volume "p_data" exists but is not baton's`)}
			},
			want:   []string{"sync o0", "ensure image web:v2", "ensure volume p_data", "ensure network p_default"},
			failed: 1, routed: "o0",
		},
		{
			name:     "several replicas are replaced one at a time while the others serve",
			replicas: 2, running: []fleet.Container{old("o0", 0), old("o1", 1)}, ready: map[string]bool{"o0": true, "o1": true},
			want: []string{"sync o0,o1", "ensure image web:v2", "ensure volume p_data", "ensure network p_default",
				"sync o1", "drain 3s", "stop o0", "start new1-web-0", "sync new1-web-0,o1", "remove o0",
				"sync new1-web-0", "drain 3s", "stop o1", "start new2-web-1", "sync new1-web-0,new2-web-1", "remove o1"},
			routed: "new1-web-0,new2-web-1",
		},
		{
			name:     "an exited old replica is left as it is, with its logs, while its replacement fails",
			replicas: 1, running: []fleet.Container{func() fleet.Container { c := old("o0", 0); c.State = "exited"; return c }()},
			ready: map[string]bool{},
			edit:  func(w *world) { w.routed = map[string]bool{}; w.failWait["new1-web-0"] = true },
			want: []string{"sync ", "ensure image web:v2", "ensure volume p_data", "ensure network p_default",
				"start new1-web-0", "stop new1-web-0", "remove new1-web-0"},
			failed: 1, routed: "",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, w, members := stackSetup(t, c.replicas, c.running...)
			if c.edit != nil {
				c.edit(w)
			}
			var actions []plan.Action
			for _, m := range c.running {
				m := m
				actions = append(actions, plan.Action{Kind: plan.Replace, App: "web", Replica: m.Replica, Old: &m, Reason: "test"})
			}
			var routedMembers []fleet.Container
			for _, m := range members {
				if c.ready[m.ID] {
					routedMembers = append(routedMembers, m)
				}
			}
			rep := w.runner(s).Run(context.Background(), actions, routedMembers)
			if got := strings.Join(w.log, "\n"); got != strings.Join(c.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(c.want, "\n"))
			}
			if rep.Failed() != c.failed {
				t.Errorf("failed %d, want %d: %+v", rep.Failed(), c.failed, rep.Outcomes)
			}
			var ids []string
			for _, m := range rep.Members {
				ids = append(ids, m.ID)
			}
			if got := strings.Join(ids, ","); got != c.routed {
				t.Errorf("members %q, want %q", got, c.routed)
			}
		})
	}
}

func TestStopFirstSyncFailureBeforeTheStopLeavesTheOldReplicaRunning(t *testing.T) {
	s, w, members := stackSetup(t, 1, old("o0", 0))
	w.failSync = true
	m := members[0]
	rep := w.runner(s).Run(context.Background(), []plan.Action{{Kind: plan.Replace, App: "web", Replica: 0, Old: &m}}, members)
	if rep.SyncErr == nil || len(w.stopped) != 0 || rep.Failed() != 1 {
		t.Errorf("want a sync error, nothing stopped and the action failed: %v %v %+v", rep.SyncErr, w.stopped, rep.Outcomes)
	}
}

func TestStartFirstEnsuresPrerequisitesOncePerPass(t *testing.T) {
	s, err := spec.Parse("t.yaml", []byte(`
project: p
networks: {default: {}, side: {}}
volumes: {up: {shared: true}}
apps:
  - {name: a, image: a:1, replicas: 3, volumes: ["up:/up"], networks: [default, side]}
  - {name: b, image: b:1, replicas: 2, volumes: ["up:/up:ro"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, routed: map[string]bool{}, failWait: map[string]bool{},
		failPrep: map[string]error{"network p_side": errors.New("no address pool left")}}
	rep := w.runner(s).Run(context.Background(), plan.Scale(s, plan.Desired(s, nil, nil), nil, nil), nil)
	if w.prepared["volume p_up"] != 1 || w.prepared["network p_default"] != 1 || w.prepared["network p_side"] != 1 {
		t.Errorf("each prerequisite once per pass, got %v", w.prepared)
	}
	// a's three starts fail with the network's reason; b's two start.
	failed := 0
	for _, o := range rep.Outcomes {
		if o.Err != nil {
			failed++
			if o.Action.App != "a" || !strings.Contains(o.Err.Error(), "no address pool left") {
				t.Errorf("unexpected failure: %+v", o)
			}
		}
	}
	if failed != 3 {
		t.Errorf("want a's 3 starts failed, got %d: %+v", failed, rep.Outcomes)
	}
}
