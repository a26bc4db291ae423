package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

const swarmSpec = `
project: p
apps:
  - name: web
    engine: swarm
    image: web:1
    port: 8080
    replicas: 3
  - name: local
    image: local:1
`

func svcOf(app, hash string, replicas uint64) fleet.Service {
	return fleet.Service{ID: "id-" + app, Name: "p-" + app, Replicas: replicas,
		Labels: map[string]string{fleet.LabelProject: "p", fleet.LabelApp: app, fleet.LabelHash: hash}}
}

func TestScaleServices(t *testing.T) {
	s := testSpec(t, swarmSpec)
	hash := ServiceWantOf(s, s.App("web"), *s.App("web").Replicas).Hash
	cases := []struct {
		name     string
		services []fleet.Service
		want     string
	}{
		{"missing: create", nil, "create service web"},
		{"converged: nothing", []fleet.Service{svcOf("web", hash, 3)}, ""},
		{"count differs: scale", []fleet.Service{svcOf("web", hash, 1)}, "scale service web"},
		{"spec differs: roll (and scale)", []fleet.Service{svcOf("web", "old", 5)}, "roll service web; scale service web"},
		{"an app that left: remove", []fleet.Service{svcOf("web", hash, 3), svcOf("gone", "x", 1)}, "remove service gone"},
		{"another project's service is never touched", []fleet.Service{svcOf("web", hash, 3),
			{ID: "x", Name: "x", Labels: map[string]string{fleet.LabelProject: "other", fleet.LabelApp: "gone"}}}, ""},
		{"a service of nobody is never touched", []fleet.Service{svcOf("web", hash, 3), {ID: "y", Name: "y"}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, a := range ScaleServices(s, Desired(s, nil, nil), c.services) {
				if a.Reason == "" {
					t.Errorf("%s %s has no reason", a.Kind, a.App)
				}
				got = append(got, string(a.Kind)+" "+a.App)
			}
			if g := strings.Join(got, "; "); g != c.want {
				t.Errorf("got %q, want %q", g, c.want)
			}
		})
	}
	w := ServiceWantOf(s, s.App("web"), *s.App("web").Replicas)
	if w.Name != "p-web" || w.Replicas != 3 || w.Port != 8080 || strings.Join(w.Env, ",") != "BATON_APP=web,BATON_REPLICA={{.Task.Slot}}" {
		t.Errorf("want %+v", w)
	}
}

func TestSwarmMembers(t *testing.T) {
	s := testSpec(t, swarmSpec)
	nodes := []fleet.Node{{ID: "n1", Hostname: "node1", Ready: true, Addr: "10.0.0.1"}, {ID: "n2", Hostname: "node2", Ready: false, Addr: "10.0.0.2"}}
	svcs := []fleet.Service{svcOf("web", "h", 3), {ID: "other", Name: "other"}}
	tasks := []fleet.Task{
		{ID: "t1", ServiceID: "id-web", NodeID: "n1", State: "running", HostPorts: map[int]int{8080: 30001}},
		{ID: "t2", ServiceID: "id-web", NodeID: "n2", State: "running", HostPorts: map[int]int{8080: 30002}}, // node down
		{ID: "t3", ServiceID: "id-web", NodeID: "n1", State: "starting", HostPorts: map[int]int{8080: 30003}},
		{ID: "t4", ServiceID: "id-web", NodeID: "n1", State: "running"},                                      // no port yet
		{ID: "t5", ServiceID: "other", NodeID: "n1", State: "running", HostPorts: map[int]int{8080: 30005}},  // not ours
		{ID: "t6", ServiceID: "id-web", NodeID: "n1", State: "running", HostPorts: map[int]int{9090: 30006}}, // another port
	}
	m := SwarmMembers(s, nodes, svcs, tasks)
	if len(m) != 1 || m[0].Addr != "10.0.0.1:30001" || m[0].App != "web" || m[0].ID != "t1" {
		t.Errorf("members %+v, want t1 at 10.0.0.1:30001 only", m)
	}
}

// TestScaleLeavesSwarmAppsToSwarm: local scale starts nothing for a swarm
// app and removes local containers left from its docker days.
func TestScaleLeavesSwarmAppsToSwarm(t *testing.T) {
	s := testSpec(t, swarmSpec)
	old := fleet.Container{ID: "c1", Name: "p-web-0-abc", App: "web", Replica: 0, State: "running", Hash: "x"}
	var got []string
	for _, a := range Scale(s, Desired(s, nil, nil), []fleet.Container{old}, map[string]bool{"c1": true}) {
		if a.App == "web" {
			got = append(got, string(a.Kind)+" "+a.Reason)
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "remove") || !strings.Contains(got[0], "Swarm service") {
		t.Errorf("actions for the swarm app: %q", got)
	}
}

func TestSwarmLagging(t *testing.T) {
	s := testSpec(t, `
project: p
nginx: {config: c.conf, test: [t], reload: [r], listen: "127.0.0.1:80"}
apps:
  - {name: web, engine: swarm, image: web:1, port: 8080, replicas: 3, lb: {path: /}}
`)
	hash := ServiceWantOf(s, s.App("web"), *s.App("web").Replicas).Hash
	svc := svcOf("web", hash, 3)
	task := func(id, h string) fleet.Task {
		return fleet.Task{ID: id, ServiceID: svc.ID, NodeID: "n1", State: "running", Hash: h}
	}
	member := func(id, h string) fleet.Container { return fleet.Container{ID: id, App: "web", Hash: h} }
	cases := []struct {
		name     string
		services []fleet.Service
		tasks    []fleet.Task
		ready    []fleet.Container
		want     string
	}{
		{"no service yet", nil, nil, nil, "the service does not match the spec yet"},
		{"converged", []fleet.Service{svc}, []fleet.Task{task("a", hash), task("b", hash), task("c", hash)},
			[]fleet.Container{member("a", hash), member("b", hash), member("c", hash)}, ""},
		{"an old task still runs during a rolling update", []fleet.Service{svc},
			[]fleet.Task{task("a", hash), task("b", hash), task("c", hash), task("old", "x")},
			[]fleet.Container{member("a", hash), member("b", hash), member("c", hash)}, "4 task(s) run, 3 wanted"},
		{"one task does not answer", []fleet.Service{svc}, []fleet.Task{task("a", hash), task("b", hash), task("c", hash)},
			[]fleet.Container{member("a", hash), member("b", hash)}, "2 of 3 task(s) answer"},
		{"a ready task of the old spec does not count", []fleet.Service{svc}, []fleet.Task{task("a", hash), task("b", hash), task("c", "x")},
			[]fleet.Container{member("a", hash), member("b", hash), member("c", "x")}, "2 of 3 task(s) run the current spec"},
		{"Swarm still monitors the update it is rolling", []fleet.Service{updating(svc)}, []fleet.Task{task("a", hash), task("b", hash), task("c", hash)},
			[]fleet.Container{member("a", hash), member("b", hash), member("c", hash)}, "Swarm is still updating the service"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, l := range SwarmLagging(s, Desired(s, nil, nil), c.services, c.tasks, c.ready) {
				got = append(got, l.Reason)
			}
			g := strings.Join(got, "; ")
			if (c.want == "") != (g == "") || !strings.Contains(g, c.want) {
				t.Errorf("got %q, want %q", g, c.want)
			}
		})
	}
}

func updating(s fleet.Service) fleet.Service { s.UpdateState = "updating"; return s }

func TestScaleServicesPlacement(t *testing.T) {
	s := testSpec(t, `project: shop
apps:
  - name: web
    engine: swarm
    image: web:1
    replicas: 2
    placement:
      constraints: ["node.labels.zone == b"]
      preferences: [{spread: node.labels.rack}]
      max_replicas_per_node: 1
`)
	w := ServiceWantOf(s, s.Apps[0], 2)
	if fmt.Sprint(w.Placement) != "{[node.labels.zone == b] [node.labels.rack] 1}" || !slices.Contains(w.Env, "BATON_REPLICA={{.Task.Slot}}") {
		t.Fatalf("want: %+v %v", w.Placement, w.Env)
	}
	svc := func(constraints []string, labels map[string]string) fleet.Service {
		l := map[string]string{fleet.LabelProject: "shop", fleet.LabelApp: "web", fleet.LabelHash: w.Hash}
		for k, v := range labels {
			l[k] = v
		}
		return fleet.Service{ID: "s", Name: "shop-web", Labels: l, Replicas: 2, Constraints: constraints, Preferences: []string{"node.labels.rack"}, MaxReplicas: 1}
	}
	for _, tc := range []struct {
		name string
		svc  fleet.Service
		want string // the place action's reason, "" for none
		keep string
	}{
		{name: "the same placement, spelled with other spaces, is no change", svc: svc([]string{"node.labels.zone==b"}, nil)},
		{name: "baton's own constraints are not the app's: no change, and a change keeps them",
			svc: svc([]string{"node.labels.zone==b", "node.hostname==node3", AnchorConstraint("shop", "db"), "node.hostname!=node1"},
				map[string]string{fleet.LabelPin: "node.hostname==node3", fleet.LabelFollows + "shop": AnchorConstraint("shop", "db"), fleet.LabelLeaving + "shop": "node1"})},
		{name: "a constraint typed by a human on baton's service is replaced by the spec's",
			svc:  svc([]string{"node.labels.zone==b", "node.labels.disk==ssd", "node.hostname==node3"}, map[string]string{fleet.LabelPin: "node.hostname==node3"}),
			want: "placement: constraints node.labels.disk==ssd node.labels.zone==b → node.labels.zone==b", keep: "[node.hostname==node3]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got ServiceAction
			for _, a := range ScaleServices(s, Wanted{"web": 2}, []fleet.Service{tc.svc}) {
				if a.Kind == PlaceService {
					got = a
				}
			}
			if !strings.HasPrefix(got.Reason, tc.want) || (tc.want == "") != (got.Reason == "") {
				t.Errorf("reason %q, want %q", got.Reason, tc.want)
			}
			if tc.keep != "" && fmt.Sprint(got.Keep) != tc.keep {
				t.Errorf("keep %v, want %s", got.Keep, tc.keep)
			}
		})
	}
}

func TestStickySwarmMembers(t *testing.T) {
	c := func(id, app string) fleet.Container {
		return fleet.Container{ID: id, App: app, Addr: "10.0.0." + id + ":80"}
	}
	for _, tc := range []struct {
		name                   string
		routed, ready, running []fleet.Container
		want                   string
	}{
		{"a routed task that missed one probe but runs stays", []fleet.Container{c("1", "web"), c("2", "web")}, []fleet.Container{c("2", "web")},
			[]fleet.Container{c("1", "web"), c("2", "web")}, "1 2"},
		{"a task Swarm stopped leaves", []fleet.Container{c("1", "web"), c("2", "web")}, []fleet.Container{c("2", "web")},
			[]fleet.Container{c("2", "web")}, "2"},
		{"a new task enters once it answers", []fleet.Container{c("1", "web")}, []fleet.Container{c("1", "web"), c("3", "web")},
			[]fleet.Container{c("1", "web"), c("3", "web"), c("4", "web")}, "1 3"},
		{"nothing routed, nothing ready: none", nil, nil, []fleet.Container{c("4", "web")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range StickySwarmMembers(tc.routed, tc.ready, tc.running) {
				got = append(got, m.ID)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
	s := testSpec(t, "nginx: {config: c.conf, test: [t], reload: [r], listen: \"127.0.0.1:80\"}\napps:\n  - {name: web, engine: swarm, image: w:1, port: 80, lb: {}}\n  - {name: job, engine: swarm, image: j:1}\n")
	if EverySwarmAppRouted(s, nil) || !EverySwarmAppRouted(s, []fleet.Container{c("1", "web")}) {
		t.Error("a swarm app behind the balancer with no member is not routed; one without lb needs none")
	}
}
