package plan

import (
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// TestIncidentsAreJudgedOnlyByPassesThatSeeThem: an incident ends only in
// a pass that could have found it again, so no incident flaps (an end and
// a new beginning, an alert each) between passes that see different
// things: a node down is not over for a pass that could not list the
// nodes; a wait heal's replacement hit is heal's; a swarm task's hold, a
// running replica's and an app's panic hold are heal's, not scale's; a
// hold of a slot with no container at all (a missing image) is scale's,
// not heal's; a
// refused demotion stands while a node is down; every other type belongs
// to the passes that find it.
func TestIncidentsAreJudgedOnlyByPassesThatSeeThem(t *testing.T) {
	s, err := spec.Parse("t.yaml", []byte(`project: p
nginx: {config: /tmp/b.conf, test: ["true"], reload: ["true"], listen: "127.0.0.1:1"}
swarm: {}
apps:
  - {name: web, image: "web:1", port: 80, replicas: 2, lb: {}, health: {type: http, path: /}}
  - {name: svc, image: "svc:1", port: 80, engine: swarm, health: {type: http, path: /}}
`))
	if err != nil {
		t.Fatal(err)
	}
	running := []fleet.Container{{ID: "a", App: "web", Replica: 1, State: "running", Name: "p-web-1-a"}, {ID: "b", App: "web", Replica: 2, State: "exited", Name: "p-web-2-b"}}
	passes := []string{"scale", "heal", "lb render", "labels sync", "rebalance", "swarm join", "gc", "mods refresh"}
	for _, tc := range []struct {
		name   string
		inc    state.Incident
		listed bool // the pass listed the nodes
		down   bool // and one was down
		judges []string
	}{
		{"a node down, the nodes not listed", state.Incident{Type: "down"}, false, false, nil},
		{"a node down, the nodes listed", state.Incident{Type: "down"}, true, true, passes},
		{"heal's wait", state.Incident{Type: "waiting", App: "web", By: "heal"}, true, false, []string{"heal"}},
		{"scale's wait", state.Incident{Type: "waiting", App: "web", By: "scale"}, true, false, []string{"scale"}},
		{"a swarm task's hold", state.Incident{Type: "hold", App: "svc", Target: "task abc"}, true, false, []string{"heal"}},
		{"an app's panic hold", state.Incident{Type: "hold", App: "web", Target: "web"}, true, false, []string{"heal"}},
		{"a slot's hold, its replica running", state.Incident{Type: "hold", App: "web", Target: "web replica 1"}, true, false, []string{"heal"}},
		{"a slot's crash loop, its container exited", state.Incident{Type: "crashloop", App: "web", Target: "web replica 2"}, true, false, []string{"scale", "heal"}},
		{"a slot's hold with no container at all (a missing image)", state.Incident{Type: "hold", App: "web", Target: "web replica 0"}, true, false, []string{"scale"}},
		{"a paused rollout", state.Incident{Type: "paused", App: "web"}, true, false, []string{"scale", "heal"}},
		{"panic routing", state.Incident{Type: "panic", App: "web"}, true, false, []string{"scale", "heal", "lb render"}},
		{"an unhealthy replica", state.Incident{Type: "unhealthy", App: "web"}, true, false, []string{"heal"}},
		{"a network in use", state.Incident{Type: "network-in-use"}, true, false, []string{"scale"}},
		{"a refused demotion", state.Incident{Type: "quorum"}, true, false, []string{"labels sync"}},
		{"a refused demotion, a node down", state.Incident{Type: "quorum"}, true, true, nil},
		{"an anchor without a task", state.Incident{Type: "anchor"}, true, false, []string{"labels sync"}},
		{"memory pressure", state.Incident{Type: "pressure", Target: "node node1"}, true, false, []string{"rebalance"}},
		{"memory pressure, another node down", state.Incident{Type: "pressure", Target: "node node1"}, true, true, []string{"rebalance"}},
		{"memory pressure on a node down (the pass skips it)", state.Incident{Type: "pressure", Target: "node node2"}, true, true, nil},
		{"a label kept on a node down", state.Incident{Type: "label-kept", Target: "node node2 zone"}, true, true, nil},
		{"a label kept", state.Incident{Type: "label-kept", Target: "node node2 zone"}, true, false, []string{"labels sync"}},
		{"a join", state.Incident{Type: "join"}, true, false, []string{"swarm join"}},
	} {
		for _, p := range passes {
			want := false
			for _, j := range tc.judges {
				want = want || j == p
			}
			sight := Sight{Pass: p, NodesListed: tc.listed, Spec: s, Containers: running}
			if tc.down {
				sight.Down = []string{"node2"}
			}
			if got := Judges(sight, &tc.inc); got != want {
				t.Errorf("%s: %s judges it: %v, want %v", tc.name, p, got, want)
			}
		}
	}
}

// TestEveryIncidentTypeIsAnEventType: what a pass may judge, a hook can
// filter on.
func TestEveryIncidentTypeIsAnEventType(t *testing.T) {
	for p, types := range judgedBy {
		for _, typ := range types {
			found := false
			for _, e := range spec.EventTypes {
				found = found || e == typ
			}
			if !found {
				t.Errorf("%s judges incidents of type %q, which is not in spec.EventTypes", p, typ)
			}
		}
	}
}
