package commands_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	engine "github.com/baton-orchestrator/baton/internal/docker"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

const depStack = `networks: {default: {}}
apps:
  - {name: db, image: "db:1", health: {type: none, backoff: 1m}}
  - {name: web, image: "web:1", port: 8080, lb: {}, health: {type: http, path: /}, depends_on: {db: {condition: ready}}}
  - {name: worker, image: "worker:1", depends_on: {web: {condition: started}}}
`

// starts returns the apps of the fake's start calls, in order.
func (a *inproc) starts() []string {
	var out []string
	for _, c := range a.fake.Calls() {
		if name, ok := strings.CutPrefix(c, "start ip-"); ok {
			out = append(out, name[:strings.Index(name, "-")])
		}
	}
	return out
}

// TestInProcessStackComesUpInOnePassDependenciesFirst: one scale pass
// starts db, then web once db answers, then worker once web runs.
func TestInProcessStackComesUpInOnePassDependenciesFirst(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, depStack)
	dry := a.must(0, "-n", "scale")
	if !strings.Contains(dry, "after db (depends_on)") || !strings.Contains(dry, "after web (depends_on)") || len(a.starts()) != 0 {
		t.Fatalf("the dry run must say web and worker start after their dependencies:\n%s", dry)
	}
	a.must(0, "scale")
	if got := strings.Join(a.starts(), " "); got != "db web worker" {
		t.Fatalf("start order %q, want db web worker; calls %v", got, a.fake.Calls())
	}
	if out := a.must(0, "scale"); out != "" {
		t.Errorf("a converged pass printed:\n%s", out)
	}
}

// TestInProcessDependentWaitsWhileItsDependencyIsNotReady: db's start
// fails, so web and worker are not started; a finding says why (once: the
// wait is an incident, repeated by --verbose while db backs off), and they
// start once db runs, which ends the wait.
func TestInProcessDependentWaitsWhileItsDependencyIsNotReady(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, depStack)
	a.fake.Fail["start db"] = errors.New("no space left on device")
	out, errOut, code := a.run("scale")
	if code != 3 || !strings.Contains(out, "waits for db: no ready replica (depends_on condition ready); its start in this pass did not answer") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if got := a.starts(); strings.Join(got, " ") != "db" {
		t.Fatalf("started %v, want only db's attempt", got)
	}
	delete(a.fake.Fail, "start db")
	// db backs off for a minute: web still waits, said at decide time,
	// but the wait is a known incident: only --verbose repeats it.
	out = a.must(0, "scale")
	if strings.Contains(out, "waiting") || strings.Contains(out, "web replica 0") {
		t.Fatalf("while db backs off, a known wait is not repeated:\n%s", out)
	}
	out = a.must(0, "--verbose", "scale")
	if !strings.Contains(out, "waiting") || !strings.Contains(out, "waits for db: no ready replica") || strings.Contains(out, "web replica 0") {
		t.Fatalf("while db backs off (--verbose):\n%s", out)
	}
	a.clock.Advance(2 * 60e9)
	a.must(0, "scale")
	if got := strings.Join(a.starts(), " "); got != "db db web worker" {
		t.Fatalf("starts %q, want db db web worker", got)
	}
	evs := a.must(0, "-o", "json", "events", "--type", "waiting")
	if strings.Count(evs, `"type": "waiting"`) != 4 || strings.Count(evs, `"resolved": true`) != 2 {
		t.Errorf("want web's and worker's waits begun and ended, one event each:\n%s", evs)
	}
}

// TestInProcessNetworksComeAndGo: the project network is made before the
// first start and removed once no app joins it; a dry run only says so.
func TestInProcessNetworksComeAndGo(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "networks: {default: {}}\n"+"apps:\n  - {name: web, image: \"web:1\", port: 8080, lb: {}, health: {type: http, path: /}}\n")
	a.must(0, "scale")
	if len(a.fake.NetworkSet) != 1 || a.fake.NetworkSet[0].Name != "ip_default" {
		t.Fatalf("networks %+v", a.fake.NetworkSet)
	}
	a.write(`"true"`, "networks: {default: {}}\napps: []\n")
	dry := a.must(0, "-n", "scale")
	if !strings.Contains(dry, "remove network") || !strings.Contains(dry, "ip_default") || len(a.fake.NetworkSet) != 1 {
		t.Fatalf("dry run:\n%s\nnetworks %+v", dry, a.fake.NetworkSet)
	}
	out := a.must(0, "scale")
	if !strings.Contains(out, `no app of the spec joins it (network "default" is declared, unused)`) || len(a.fake.NetworkSet) != 0 {
		t.Fatalf("real pass:\n%s\nnetworks %+v", out, a.fake.NetworkSet)
	}
	if out := a.must(0, "scale"); out != "" {
		t.Errorf("a converged pass printed:\n%s", out)
	}
}

// TestStackEventTypesAreKnown: hooks may filter on the stack's event types.
func TestStackEventTypesAreKnown(t *testing.T) {
	for _, ty := range []string{"waiting", plan.Step{Kind: plan.PruneNetwork}.EventType()} {
		if !slices.Contains(spec.EventTypes, ty) {
			t.Errorf("event type %q is not in spec.EventTypes", ty)
		}
	}
}

// TestInProcessNetworkInUseIsKeptAndReported: a network baton created
// that no app joins, but that something else is attached to, is kept (the
// engine refuses: engine.ErrInUse) and reported as a network-in-use
// incident: the pass that finds it exits 3 with the finding, the passes
// while it lasts exit 3 printing nothing, and once it is freed the next
// pass removes the network and records the incident's end.
func TestInProcessNetworkInUseIsKeptAndReported(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "networks: {default: {}}\napps:\n  - {name: web, image: \"web:1\", port: 8080, lb: {}, health: {type: http, path: /}}\n")
	a.must(0, "scale")
	a.write(`"true"`, "networks: {default: {}}\napps: []\n")
	inUse := fmt.Errorf("network %q is %w by someone-else", "ip_default", engine.ErrInUse)
	a.fake.Fail["remove network ip_default"] = inUse

	out, errOut, code := a.run("-o", "json", "scale")
	checkOneObject(t, out)
	var rep struct {
		Actions  []map[string]any `json:"actions"`
		Findings []struct {
			Type, Target, Reason string
		} `json:"findings"`
		ExitCode int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 3 || rep.ExitCode != 3 || len(rep.Findings) != 1 || rep.Findings[0].Type != "network-in-use" || rep.Findings[0].Target != "ip_default" ||
		!strings.Contains(rep.Findings[0].Reason, "kept: "+inUse.Error()) || len(a.fake.NetworkSet) != 1 {
		t.Fatalf("the pass that finds it: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "baton: error: network \"ip_default\" is in use by someone-else; it is kept") ||
		!strings.Contains(errOut, "baton: hint: `docker network inspect ip_default` lists what is attached") {
		t.Errorf("the error does not name the network and say what to do:\n%s", errOut)
	}

	// While it lasts: a quiet exit 3, the same incident (no new event).
	for i := 0; i < 2; i++ {
		if out, errOut, code := a.run("scale"); code != 3 || out != "" || errOut != "" {
			t.Fatalf("pass %d while the network is in use: exit %d\n%s%s", i+2, code, out, errOut)
		}
	}
	if _, errOut, code := a.run("--verbose", "scale"); code != 3 || !strings.Contains(errOut, "ip_default") {
		t.Errorf("--verbose repeats the known incident: exit %d\n%s", code, errOut)
	}
	evs, err := state.ReadEvents(a.state)
	if err != nil {
		t.Fatal(err)
	}
	if n := countEvents(evs, "network-in-use", false); n != 1 {
		t.Errorf("%d network-in-use events while it lasts, want 1: %+v", n, evs)
	}

	// Freed: the network goes and the incident's end is recorded.
	delete(a.fake.Fail, "remove network ip_default")
	out = a.must(0, "scale")
	if len(a.fake.NetworkSet) != 0 || !strings.Contains(out, "remove network") {
		t.Fatalf("once freed:\n%s\nnetworks %+v", out, a.fake.NetworkSet)
	}
	evs, _ = state.ReadEvents(a.state)
	if countEvents(evs, "network-in-use", false) != 1 || countEvents(evs, "network-in-use", true) != 1 || countEvents(evs, "remove-network", false) != 1 {
		t.Errorf("want the incident begun and ended once each and the removal: %+v", evs)
	}
	if out := a.must(0, "scale"); out != "" {
		t.Errorf("a converged pass printed:\n%s", out)
	}
}

// countEvents counts the events of type ty that end an incident (resolved)
// or not.
func countEvents(evs []state.Event, ty string, resolved bool) int {
	n := 0
	for _, e := range evs {
		if e.Type == ty && e.Resolved == resolved {
			n++
		}
	}
	return n
}
