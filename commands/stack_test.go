package commands_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
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
