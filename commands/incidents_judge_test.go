package commands

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
// nodes; a wait heal's replacement hit is heal's; a swarm task's hold and
// an app's panic hold are heal's, not scale's.
func TestIncidentsAreJudgedOnlyByPassesThatSeeThem(t *testing.T) {
	s, err := spec.Parse("t.yaml", []byte(`project: p
nginx: {config: /tmp/b.conf, test: ["true"], reload: ["true"], listen: "127.0.0.1:1"}
swarm: {}
apps:
  - {name: web, image: "web:1", port: 80, lb: {}, health: {type: http, path: /}}
  - {name: svc, image: "svc:1", port: 80, engine: swarm, health: {type: http, path: /}}
`))
	if err != nil {
		t.Fatal(err)
	}
	x := &pass{spec: s}
	scale := passDef[struct{}]{name: "scale", incidents: []string{"hold", "crashloop", "waiting"}, skip: (*pass).healJudges}
	heal := passDef[struct{}]{name: "heal", incidents: []string{"hold", "crashloop", "waiting"}}
	for _, tc := range []struct {
		name  string
		inc   state.Incident
		nodes bool
		scale bool
		heal  bool
	}{
		{"a node down, the nodes not listed", state.Incident{Type: "down"}, false, false, false},
		{"a node down, the nodes listed", state.Incident{Type: "down"}, true, true, true},
		{"heal's wait", state.Incident{Type: "waiting", App: "web", By: "heal"}, true, false, true},
		{"scale's wait", state.Incident{Type: "waiting", App: "web", By: "scale"}, true, true, false},
		{"a swarm task's hold", state.Incident{Type: "hold", App: "svc", Target: "task abc"}, true, false, true},
		{"an app's panic hold", state.Incident{Type: "hold", App: "web", Target: "web"}, true, false, true},
		{"a slot's hold with no replica running", state.Incident{Type: "hold", App: "web", Target: "web replica 0"}, true, true, true},
	} {
		x.nodes = nil
		if tc.nodes {
			x.nodes = []fleet.Node{}
		}
		if got := scale.evaluates(x)(&tc.inc); got != tc.scale {
			t.Errorf("%s: scale judges it: %v, want %v", tc.name, got, tc.scale)
		}
		if got := heal.evaluates(x)(&tc.inc); got != tc.heal {
			t.Errorf("%s: heal judges it: %v, want %v", tc.name, got, tc.heal)
		}
	}
}
