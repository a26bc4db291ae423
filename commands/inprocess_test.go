package commands_test

// In-process tests of every pass subcommand: the whole app runs with
// buffers for stdout and stderr, a fake clock and an in-memory engine
// (internal/testenv.FakeEngine) at the seam, so they need no daemon and
// run under -short. They check each pass's plan, its table and JSON, that a
// dry run changes nothing and the exit codes 0, 1, 3 and 75. The real
// engine, nginx and swarm are the e2e tests' (the *_e2e_test.go files).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/commands"
	"github.com/baton-orchestrator/baton/internal/clock"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/testenv"
	"github.com/baton-orchestrator/baton/state"
)

var _ commands.Engine = (*testenv.FakeEngine)(nil)

// inproc is one in-process baton: a spec and state in a temporary
// directory, a fake engine and clock; every replica started answers on
// an HTTP server of its own on 127.0.0.1.
type inproc struct {
	t     *testing.T
	dir   string
	spec  string
	state string
	conf  string
	fake  *testenv.FakeEngine
	clock *clock.Fake
}

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newInproc(t *testing.T) *inproc {
	t.Helper()
	dir := t.TempDir()
	a := &inproc{t: t, dir: dir, spec: filepath.Join(dir, "baton.yaml"), state: filepath.Join(dir, "state.json"),
		conf: filepath.Join(dir, "baton.conf"), clock: clock.NewFake(t0)}
	a.fake = testenv.NewFakeEngine(func() string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}, a.clock.Now)
	return a
}

// write writes the spec: the nginx section (test and reload commands
// given), then body.
func (a *inproc) write(test, body string) {
	a.t.Helper()
	y := fmt.Sprintf("project: ip\nnginx:\n  config: %s\n  test: [%s]\n  reload: [\"true\"]\n  listen: 127.0.0.1:1\n%s", a.conf, test, body)
	if err := os.WriteFile(a.spec, []byte(y), 0o644); err != nil {
		a.t.Fatal(err)
	}
}

const webApp = "apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: %d, lb: {}, health: {type: http, path: /}}\n"

func (a *inproc) run(args ...string) (string, string, int) {
	a.t.Helper()
	var out, errOut bytes.Buffer
	env := &commands.Env{Stdout: &out, Stderr: &errOut, Clock: a.clock,
		Connect: func(string, time.Duration) (commands.Engine, error) { return a.fake, nil }}
	code := commands.Run(context.Background(), env, append([]string{"baton", "--spec", a.spec, "--state", a.state, "--lock-timeout", "0s"}, args...))
	return out.String(), errOut.String(), code
}

// must runs and fails the test unless the exit code is want.
func (a *inproc) must(want int, args ...string) string {
	a.t.Helper()
	out, errOut, code := a.run(args...)
	if code != want {
		a.t.Fatalf("baton %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errOut)
	}
	return out
}

// rows decodes the JSON report's rows under key.
func rows(t *testing.T, out, key string) []map[string]any {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	var rs []map[string]any
	if err := json.Unmarshal(obj[key], &rs); err != nil {
		t.Fatalf("%s: %v\n%s", key, err, out)
	}
	return rs
}

func (a *inproc) stateBytes() []byte {
	b, _ := os.ReadFile(a.state)
	return b
}

func TestInProcessScale(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 2))

	dry := rows(t, a.must(0, "-n", "-o", "json", "scale"), "actions")
	if len(dry) != 2 || dry[0]["action"] != "start" || dry[0]["done"] != false || a.fake.Count("start ") != 0 || a.stateBytes() != nil {
		t.Fatalf("dry run: %v; engine calls %v; state %q", dry, a.fake.Calls(), a.stateBytes())
	}
	out := a.must(0, "scale")
	if !strings.Contains(out, "web replica 0") || !strings.Contains(out, "ok: ip-web-0-") || a.fake.Count("start ") != 2 {
		t.Fatalf("real pass:\n%s\ncalls %v", out, a.fake.Calls())
	}
	conf, _ := os.ReadFile(a.conf)
	if !strings.Contains(string(conf), "server 127.0.0.1:") {
		t.Errorf("the config does not route to the replicas:\n%s", conf)
	}
	if out := a.must(0, "scale"); out != "" {
		t.Errorf("a converged pass printed:\n%s", out)
	}
	if rs := rows(t, a.must(0, "-o", "json", "scale"), "actions"); len(rs) != 0 {
		t.Errorf("a converged pass planned %v", rs)
	}

	// One of two new starts fails: partly done.
	a.write(`"true"`, fmt.Sprintf(webApp, 3))
	a.fake.Fail["start web"] = fmt.Errorf("no space left on device")
	_, errOut, code := a.run("scale")
	if code != 3 || !strings.Contains(errOut, "1 of 1 actions failed") {
		t.Errorf("a failed start: exit %d\n%s", code, errOut)
	}
	delete(a.fake.Fail, "start web")

	// The balancer test fails: exit 1, the old config kept.
	before, _ := os.ReadFile(a.conf)
	a.write(`"false"`, fmt.Sprintf(webApp, 1))
	_, errOut, code = a.run("scale")
	after, _ := os.ReadFile(a.conf)
	if code != 1 || !strings.Contains(errOut, "test command") || !bytes.Equal(before, after) {
		t.Errorf("a failing balancer test: exit %d, config kept %v\n%s", code, bytes.Equal(before, after), errOut)
	}
}

func TestInProcessHeal(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 1))
	a.must(0, "scale")
	for _, c := range a.fake.Containers {
		c.State = "exited"
	}
	stateBefore := a.stateBytes()
	dry := rows(t, a.must(0, "-n", "-o", "json", "heal"), "actions")
	if len(dry) != 1 || dry[0]["action"] != "start" || !bytes.Equal(stateBefore, a.stateBytes()) {
		t.Fatalf("dry run planned %v (state changed: %v)", dry, !bytes.Equal(stateBefore, a.stateBytes()))
	}
	out := a.must(0, "heal")
	if !strings.Contains(out, "replica 0 exited with code 1") {
		t.Errorf("heal did not say why:\n%s", out)
	}
	if out := a.must(0, "heal"); out != "" {
		t.Errorf("a healthy fleet's heal printed:\n%s", out)
	}
	evs, err := state.ReadEvents(a.state)
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Command != "heal" || evs[len(evs)-1].Type != "start" {
		t.Errorf("heal's start is not in the event log: %v %+v", err, evs)
	}
}

func TestInProcessLBRender(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 1))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	a.fake.Add(fleet.Container{Name: "ip-web-0-aaaaaa", App: "web", Replica: 0, State: "running", Addr: addr,
		Labels: map[string]string{fleet.LabelProject: "ip"}})
	out := a.must(0, "-n", "lb", "render")
	if !strings.Contains(out, "would rewrite and reload") || !strings.Contains(out, "+++ "+a.conf+" (new)") {
		t.Errorf("dry run shows no diff:\n%s", out)
	}
	if _, err := os.Stat(a.conf); !os.IsNotExist(err) {
		t.Fatal("the dry run wrote the config")
	}
	if out := a.must(0, "lb", "render"); !strings.Contains(out, "rewritten, tested, reloaded") {
		t.Errorf("real pass:\n%s", out)
	}
	if conf, _ := os.ReadFile(a.conf); !strings.Contains(string(conf), "server "+addr) {
		t.Errorf("the ready replica is not routed to:\n%s", conf)
	}
	if out := a.must(0, "lb", "render"); out != "" {
		t.Errorf("second pass printed:\n%s", out)
	}
	evs, _ := state.ReadEvents(a.state)
	if len(evs) != 1 || evs[0].Type != "balancer" || evs[0].Command != "lb render" {
		t.Errorf("lb render's reload is not one event: %+v", evs)
	}
}

func TestInProcessGC(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "gc: {grace: 1h}\n"+fmt.Sprintf(webApp, 0))
	a.fake.Add(fleet.Container{ID: "old", Name: "ip-web-0-old", App: "web", State: "exited", Created: t0.Add(-5 * time.Hour),
		Labels: map[string]string{fleet.LabelProject: "ip"}})
	a.fake.Add(fleet.Container{ID: "fresh", Name: "ip-web-0-fresh", App: "web", State: "exited", Created: t0.Add(-time.Minute),
		Labels: map[string]string{fleet.LabelProject: "ip"}})
	dry := rows(t, a.must(0, "-n", "-o", "json", "gc"), "removed")
	if len(dry) != 1 || dry[0]["name"] != "ip-web-0-old" || a.fake.Containers["old"] == nil {
		t.Fatalf("dry run: %v", dry)
	}
	if out := a.must(0, "gc"); !strings.Contains(out, "removed") || a.fake.Containers["old"] != nil || a.fake.Containers["fresh"] == nil {
		t.Fatalf("real pass:\n%s", out)
	}
	a.clock.Advance(2 * time.Hour)
	a.fake.Fail["remove fresh"] = fmt.Errorf("device busy")
	if _, errOut, code := a.run("gc"); code != 3 || !strings.Contains(errOut, "1 of 1 actions failed") {
		t.Errorf("a failed removal: exit %d\n%s", code, errOut)
	}
}

// swarmSpec is a Swarm manager's spec: static labels for node1.
const swarmSpec = "swarm:\n  nodes:\n    node1: {labels: {zone: a}}\n"

func (a *inproc) nodes(ready ...bool) {
	a.fake.NodeSet = nil
	for i, r := range ready {
		a.fake.NodeSet = append(a.fake.NodeSet, fleet.Node{ID: fmt.Sprintf("n%d", i+1), Hostname: fmt.Sprintf("node%d", i+1),
			Ready: r, Active: true, Role: "manager", MemoryBytes: 1 << 30, Labels: map[string]string{}, Addr: "127.0.0.1"})
	}
}

func TestInProcessLabelsSync(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, swarmSpec)
	a.nodes(true, true)
	dry := rows(t, a.must(0, "-n", "-o", "json", "labels", "sync"), "changes")
	if len(dry) != 1 || dry[0]["change"] != "+baton.owned.ip=zone +zone=a" || a.fake.Count("label node") != 0 {
		t.Fatalf("dry run: %v", dry)
	}
	if out := a.must(0, "labels", "sync"); !strings.Contains(out, "node1") || a.fake.NodeSet[0].Labels["zone"] != "a" {
		t.Fatalf("real pass:\n%s", out)
	}
	if out := a.must(0, "labels", "sync"); out != "" {
		t.Errorf("second pass printed:\n%s", out)
	}
	a.write(`"true"`, "swarm:\n  nodes:\n    node1: {labels: {zone: b}}\n")
	a.fake.Fail["label node node1"] = fmt.Errorf("update out of sequence")
	if _, errOut, code := a.run("labels", "sync"); code != 3 || !strings.Contains(errOut, "1 of 1 actions failed") {
		t.Errorf("a failed label update: exit %d\n%s", code, errOut)
	}
}

// TestInProcessLabelsSyncAnchors: a dependent follows its anchor with no
// task stopped by a label change, the dry run plans exactly what the pass
// does, and a failed constraint drop keeps the label its tasks need.
func TestInProcessLabelsSyncAnchors(t *testing.T) {
	a := newInproc(t)
	anchors := "swarm:\n  anchors:\n    - {service: app, anchor: db}\n  restart_cooldown: 0s\n"
	a.write(`"true"`, anchors)
	a.nodes(true, true)
	a.fake.AddService(fleet.Service{ID: "sdb", Name: "db", Replicas: 1}, "n1")
	a.fake.AddService(fleet.Service{ID: "sapp", Name: "app", Replicas: 2}, "n1")
	dry := rows(t, a.must(0, "-n", "-o", "json", "labels", "sync"), "changes")
	if len(dry) != 2 || dry[0]["change"] != "+baton.anchors.ip.db=true" || dry[1]["change"] != "+constraint node.labels.baton.anchors.ip.db==true" ||
		a.fake.Count("edit") != 0 || a.fake.Count("label") != 0 {
		t.Fatalf("dry run: %v", dry)
	}
	real := rows(t, a.must(0, "-o", "json", "labels", "sync"), "changes")
	if fmt.Sprint(real) != strings.ReplaceAll(fmt.Sprint(dry), "done:false", "done:true") {
		t.Errorf("the pass did not do what the dry run planned:\n%v\n%v", real, dry)
	}
	if out := a.must(0, "labels", "sync"); out != "" {
		t.Errorf("second pass printed:\n%s", out)
	}
	// db moves to node2: app leaves node1 start-first, then the label
	// goes, then the leave constraint; nothing is stopped by a label.
	for i := range a.fake.TaskSet {
		if a.fake.TaskSet[i].ServiceID == "sdb" {
			a.fake.TaskSet[i].NodeID = "n2"
		}
	}
	out := a.must(0, "labels", "sync")
	for _, want := range []string{"+constraint node.hostname!=node1 start-first", "-baton.anchors.ip.db", "-constraint node.hostname!=node1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the move lacks %q:\n%s", want, out)
		}
	}
	if taskNodeOf(a.fake, "sapp") != "n2" || a.fake.Rejected != 0 {
		t.Errorf("app on %s, %d task(s) rejected", taskNodeOf(a.fake, "sapp"), a.fake.Rejected)
	}
	a.must(0, "labels", "sync") // restores the update order
	if out := a.must(0, "labels", "sync"); out != "" {
		t.Errorf("not converged:\n%s", out)
	}
	// The spec drops the anchor, and the constraint drop fails: the label
	// the dependent needs stays (exit 3); the next pass finishes.
	a.write(`"true"`, "swarm: {}\n")
	a.fake.Fail["edit service app"] = fmt.Errorf("update service app: update out of sequence")
	out, errOut, code := a.run("labels", "sync")
	if code != 3 || !strings.Contains(out, "not done: it needs service sapp") || a.fake.NodeSet[1].Labels["baton.anchors.ip.db"] != "true" || a.fake.Rejected != 0 {
		t.Fatalf("a failed drop: exit %d, labels %v, %d rejected\n%s%s", code, a.fake.NodeSet[1].Labels, a.fake.Rejected, out, errOut)
	}
	delete(a.fake.Fail, "edit service app")
	a.must(0, "labels", "sync")
	if a.fake.NodeSet[1].Labels["baton.anchors.ip.db"] != "" || a.fake.Rejected != 0 || taskNodeOf(a.fake, "sapp") != "n2" {
		t.Errorf("after the drop: labels %v, %d rejected", a.fake.NodeSet[1].Labels, a.fake.Rejected)
	}
}

// TestInProcessNodes: labels sync keeps roles and availability as the spec
// says, refuses a demotion that would break the managers' quorum (exit 3
// with the counts), and a node that goes down during a pass makes it exit
// 3 too.
func TestInProcessNodes(t *testing.T) {
	a := newInproc(t)
	a.nodes(true, true, true)
	for i := range a.fake.NodeSet {
		a.fake.NodeSet[i].Reachable, a.fake.NodeSet[i].Availability = true, "active"
	}
	a.fake.NodeSet[2].Role, a.fake.NodeSet[2].Reachable = "worker", false
	a.write(`"true"`, "swarm:\n  nodes:\n    node3: {role: manager, availability: drain}\n")
	dry := rows(t, a.must(0, "-n", "-o", "json", "labels", "sync"), "changes")
	if len(dry) != 1 || dry[0]["change"] != "role=manager availability=drain" || a.fake.Count("label") != 0 {
		t.Fatalf("dry run: %v", dry)
	}
	a.must(0, "labels", "sync")
	if n := a.fake.NodeSet[2]; n.Role != "manager" || n.Availability != "drain" {
		t.Fatalf("node3: %+v", n)
	}
	// node3 is unreachable now; demoting node2 would leave node1 and
	// node3, one of them reachable: refused.
	a.fake.NodeSet[2].Reachable = false
	a.write(`"true"`, "swarm:\n  nodes:\n    node2: {role: worker}\n")
	out, errOut, code := a.run("labels", "sync")
	if code != 3 || a.fake.NodeSet[1].Role != "manager" || !strings.Contains(errOut, "refusing to demote node2: 1 of the 2 manager(s) left would be reachable, a quorum needs 2") {
		t.Fatalf("the quorum guard: exit %d\n%s%s", code, out, errOut)
	}
	// One refusal is one incident: the next pass exits 3 saying nothing,
	// the event log (and so a hook) has it once; once the demotion is
	// safe it is done and the incident's end is an event.
	out, errOut, code = a.run("labels", "sync")
	if code != 3 || out != "" || strings.Contains(errOut, "refusing") {
		t.Errorf("a known refusal: exit %d\n%s%s", code, out, errOut)
	}
	if evs := a.must(0, "-o", "json", "events", "--type", "quorum"); strings.Count(evs, "refusing to demote node2") != 1 || strings.Contains(evs, `"resolved"`) {
		t.Errorf("quorum events: %s", evs)
	}
	a.fake.NodeSet[2].Reachable = true
	a.must(0, "labels", "sync")
	if evs := a.must(0, "-o", "json", "events", "--type", "quorum"); strings.Count(evs, `"resolved": true`) != 1 || a.fake.NodeSet[1].Role != "worker" {
		t.Errorf("the refusal's end: node2 %s, events %s", a.fake.NodeSet[1].Role, evs)
	}
	a.fake.NodeSet[1].Role = "manager"
	// A node that goes down while the pass acts.
	a.fake.NodeSet[2].Reachable = true
	a.write(`"true"`, "swarm:\n  nodes:\n    node1: {labels: {zone: a}}\n")
	a.fake.Hook = func(call string) {
		if call == "label node node1" {
			a.fake.NodeSet[1].Ready = false
		}
	}
	out, errOut, code = a.run("labels", "sync")
	if code != 3 || !strings.Contains(out, "node node2 is down (it went down during the pass)") || !strings.Contains(errOut, "node node2 is down") {
		t.Errorf("a node down at the end of the pass: exit %d\n%s%s", code, out, errOut)
	}
}

// TestInProcessSwarmPlacement: scale keeps a swarm app's placement, and a
// change is a placement-only update that keeps baton's own constraints.
func TestInProcessSwarmPlacement(t *testing.T) {
	a := newInproc(t)
	a.nodes(true, true)
	a.fake.NodeSet[1].Labels["zone"] = "b"
	app := "apps:\n  - {name: web, engine: swarm, image: \"web:1\", replicas: 1, placement: {constraints: [%s]}}\nswarm: {}\n"
	a.write(`"true"`, fmt.Sprintf(app, `"node.labels.zone==b"`))
	a.must(0, "scale")
	var svc *fleet.Service
	for _, s := range a.fake.ServiceSet {
		svc = s
	}
	if fmt.Sprint(svc.Constraints) != "[node.labels.zone==b]" || taskNodeOf(a.fake, svc.ID) != "n2" {
		t.Fatalf("created: %+v on %s", svc, taskNodeOf(a.fake, svc.ID))
	}
	if out := a.must(0, "scale"); out != "" {
		t.Errorf("second pass:\n%s", out)
	}
	svc.Constraints = append(svc.Constraints, "node.hostname==node2")
	svc.Labels["baton.rebalance.pin"] = "node.hostname==node2"
	a.write(`"true"`, fmt.Sprintf(app, `"node.labels.zone!=c"`))
	dry := rows(t, a.must(0, "-n", "-o", "json", "scale"), "actions")
	if len(dry) != 1 || dry[0]["action"] != "place service" || !strings.Contains(fmt.Sprint(dry[0]["reason"]), "constraints node.labels.zone==b → node.labels.zone!=c") {
		t.Fatalf("dry run: %v", dry)
	}
	a.must(0, "scale")
	if fmt.Sprint(svc.Constraints) != "[node.hostname==node2 node.labels.zone!=c]" {
		t.Errorf("after the change: %v (the pin stays)", svc.Constraints)
	}
}

// TestInProcessSwarmAutoscaleMemory: a swarm app's autoscaler memory is on
// its service, not in the state file, so a second manager's pass (its own
// state file) starts from the first one's decision.
func TestInProcessSwarmAutoscaleMemory(t *testing.T) {
	a := newInproc(t)
	a.nodes(true)
	a.write(`"true"`, "apps:\n  - {name: web, engine: swarm, image: \"web:1\", port: 8080, lb: {}, replicas: 2, autoscale: {min: 1, max: 9, targets: {rps: 10}}}\nswarm: {}\n")
	a.must(0, "scale") // creates the service
	metrics := filepath.Join(a.dir, "metrics.json")
	if err := os.WriteFile(metrics, []byte(`{"apps": {"web": {"rps": 60}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := a.must(0, "-o", "json", "scale", "--metrics", metrics)
	var svc *fleet.Service
	for _, s := range a.fake.ServiceSet {
		svc = s
	}
	if svc.Labels["baton.autoscale"] == "" || svc.Replicas == 2 {
		t.Fatalf("the decision and its memory are on the service: %d replicas, labels %v\n%s", svc.Replicas, svc.Labels, out)
	}
	if b := a.stateBytes(); strings.Contains(string(b), "recommendations") || strings.Contains(string(b), `"desired"`) {
		t.Errorf("the state file keeps the swarm app's autoscaler memory:\n%s", b)
	}
	// The second manager, its own state file: the count in force is the
	// first one's decision.
	second := filepath.Join(a.dir, "second.json")
	var stdout, stderr bytes.Buffer
	env := &commands.Env{Stdout: &stdout, Stderr: &stderr, Clock: a.clock,
		Connect: func(string, time.Duration) (commands.Engine, error) { return a.fake, nil }}
	if code := commands.Run(context.Background(), env, []string{"baton", "--spec", a.spec, "--state", second, "-o", "json", "status"}); code != 0 {
		t.Fatalf("status on the second manager: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), fmt.Sprintf(`"want": %d`, svc.Replicas)) {
		t.Errorf("the second manager's status does not want %d:\n%s", svc.Replicas, stdout.String())
	}
}

// TestInProcessSwarmSecretsRotate: a swarm app's secret and config are
// made from their files before the service; a changed file is a new
// version the service rolls to, and the old one goes.
func TestInProcessSwarmSecretsRotate(t *testing.T) {
	a := newInproc(t)
	a.nodes(true)
	token := filepath.Join(a.dir, "token")
	if err := os.WriteFile(token, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.write(`"true"`, "secrets: {token: {file: token}}\nconfigs: {conf: {file: token}}\nnetworks: {backend: {}}\n"+
		"apps:\n  - {name: web, engine: swarm, image: \"web:1\", secrets: [token], configs: [\"conf:/etc/web.conf\"], networks: [backend]}\nswarm: {}\n")
	dry := rows(t, a.must(0, "-n", "-o", "json", "scale"), "actions")
	if len(dry) != 1 || dry[0]["action"] != "create service" || len(a.fake.SwarmFileSet) != 0 {
		t.Fatalf("dry run: %v %v", dry, a.fake.SwarmFileSet)
	}
	a.must(0, "scale")
	if len(a.fake.SwarmFileSet) != 2 || a.fake.Count("ensure secret ip-token-") != 1 || len(a.fake.NetworkSet) != 1 {
		t.Fatalf("the secret, the config and the network are made first: %v %v %v", a.fake.SwarmFileSet, a.fake.NetworkSet, a.fake.Calls())
	}
	first := a.fake.SwarmFileSet[0].Name
	if out := a.must(0, "scale"); out != "" {
		t.Errorf("second pass:\n%s", out)
	}
	if err := os.WriteFile(token, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := a.must(0, "scale")
	if !strings.Contains(out, "roll service") || !strings.Contains(out, "an old version of secret \"token\"") {
		t.Fatalf("rotation:\n%s", out)
	}
	for _, f := range a.fake.SwarmFileSet {
		if f.Name == first {
			t.Errorf("the old version %s stays: %v", first, a.fake.SwarmFileSet)
		}
	}
	if len(a.fake.SwarmFileSet) != 2 {
		t.Errorf("after the rotation: %v", a.fake.SwarmFileSet)
	}
}

// TestInProcessHealSwarmTask: a swarm app's task that fails its check past
// the threshold is replaced start-first — one more task, which answers,
// then the failing one stops at its node's engine and the count goes back
// — and its slot's backoff follows the replica to the new task's slot.
func TestInProcessHealSwarmTask(t *testing.T) {
	a := newInproc(t)
	a.nodes(true, true)
	a.write(`"true"`, "apps:\n  - {name: web, engine: swarm, image: \"web:1\", port: 8080, replicas: 2, lb: {}, drain: 0s,\n"+
		"     health: {type: http, path: /, failure_threshold: 2, stable_after: 1h, backoff: 1m}}\n"+
		"swarm:\n  nodes:\n    node1: {docker: \"unix:///n1.sock\"}\n    node2: {docker: \"unix:///n2.sock\"}\n")
	a.must(0, "scale")
	var svc *fleet.Service
	for _, s := range a.fake.ServiceSet {
		svc = s
	}
	// The first task turns unhealthy.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "sick", 500) }))
	defer bad.Close()
	var badPort int
	fmt.Sscanf(bad.URL[strings.LastIndex(bad.URL, ":")+1:], "%d", &badPort)
	a.fake.TaskSet[0].HostPorts = map[int]int{8080: badPort}
	sick := a.fake.TaskSet[0]
	out, _, code := a.run("heal")
	if code != 0 || !strings.Contains(out, "unhealthy") || strings.Contains(out, "replace task") {
		t.Fatalf("first failure (1 of 2): exit %d\n%s", code, out)
	}
	dry := rows(t, a.must(0, "-n", "-o", "json", "heal"), "actions")
	if len(dry) != 1 || dry[0]["action"] != "replace task" || a.fake.Count("scale service") != 0 {
		t.Fatalf("dry run: %v", dry)
	}
	out = a.must(0, "heal")
	if !strings.Contains(out, "replace task") || svc.Replicas != 2 {
		t.Fatalf("the replacement: %d replicas\n%s", svc.Replicas, out)
	}
	var slots []int
	for _, tk := range a.fake.TaskSet {
		if tk.ID == sick.ID && tk.Running() {
			t.Errorf("the failing task still runs")
		}
		if tk.Running() {
			slots = append(slots, tk.Slot)
		}
	}
	if len(slots) != 2 || a.fake.Count("stop "+sick.ContainerID) != 1 {
		t.Fatalf("tasks after: %v, calls %v", a.fake.TaskSet, a.fake.Calls())
	}
	st := string(a.stateBytes())
	if !strings.Contains(st, fmt.Sprintf(`"%d": [`, slots[len(slots)-1])) || strings.Contains(st, fmt.Sprintf(`"%d": [`, sick.Slot)) {
		t.Errorf("the slot's attempts moved to the new task's slot %d:\n%s", slots[len(slots)-1], st)
	}
}

// TestInProcessSwarmJoin: a node whose engine is in no swarm joins, as
// the role the spec gives, and its down entry goes (exit 0); a node in
// another swarm is left alone (exit 3).
func TestInProcessSwarmJoin(t *testing.T) {
	a := newInproc(t)
	a.nodes(true, false) // node2 is down: its earlier life
	a.write(`"true"`, "swarm:\n  nodes:\n    node2: {docker: \"unix:///n2.sock\", role: manager, advertise_addr: 10.0.0.2}\n")
	a.fake.Member = fleet.Membership{State: "inactive"}
	a.fake.OnJoin = func() {
		a.fake.NodeSet = append(a.fake.NodeSet, fleet.Node{ID: "n2b", Hostname: "node2", Ready: true, Active: true, Role: "manager", Labels: map[string]string{}})
	}
	dry := rows(t, a.must(0, "-n", "-o", "json", "swarm", "join"), "nodes")
	if len(dry) < 1 || dry[0]["action"] != "join" || !strings.Contains(fmt.Sprint(dry[0]["reason"]), "join it as a manager, then remove the 1 down entr(ies)") || a.fake.Count("join SWMTKN") != 0 {
		t.Fatalf("dry run: %v", dry)
	}
	out := a.must(0, "swarm", "join")
	if a.fake.Count("join SWMTKN-manager 10.0.0.2") != 1 || a.fake.Count("remove node n2") != 1 || len(a.fake.NodeSet) != 2 {
		t.Fatalf("the join:\n%s\n%v", out, a.fake.Calls())
	}
	if out := a.must(0, "swarm", "join"); out != "" {
		t.Errorf("the next pass:\n%s", out)
	}
	a.fake.Member = fleet.Membership{State: "active", ClusterID: "another"}
	if _, errOut, code := a.run("swarm", "join"); code != 3 || !strings.Contains(errOut, "in another swarm (cluster another)") {
		t.Errorf("a node of another swarm: exit %d\n%s", code, errOut)
	}
	// A node engine that does not answer: the same incident (the node
	// cannot be joined), quiet now, still exit 3.
	a.fake.Fail["membership"] = fmt.Errorf("connection refused")
	if out, errOut, code := a.run("swarm", "join"); code != 3 || out != "" || errOut != "" {
		t.Errorf("an engine that does not answer: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := a.run("--verbose", "swarm", "join"); code != 3 || !strings.Contains(errOut, "does not answer: connection refused") {
		t.Errorf("an engine that does not answer (--verbose): exit %d\n%s", code, errOut)
	}
	// A join that fails: the action failed (exit 3), the incident is over.
	delete(a.fake.Fail, "membership")
	a.fake.Member = fleet.Membership{State: "inactive"}
	a.fake.Fail["join SWMTKN-manager 10.0.0.2"] = fmt.Errorf("timeout joining")
	if out, errOut, code := a.run("swarm", "join"); code != 3 || !strings.Contains(errOut, "1 of 1 actions failed") || !strings.Contains(out, "timeout joining") {
		t.Errorf("a failed join: exit %d\n%s%s", code, out, errOut)
	}
}

func TestInProcessRebalance(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "swarm:\n  rebalance: {threshold: 70%, target: 60%, wait: 10s}\n")
	a.nodes(true, true)
	a.fake.AddService(fleet.Service{ID: "s1", Name: "api", Replicas: 1, ReserveMemory: 400 << 20}, "n1")
	a.fake.AddService(fleet.Service{ID: "s2", Name: "heavy", Replicas: 1, ReserveMemory: 410 << 20}, "n1")
	dry := rows(t, a.must(0, "-n", "-o", "json", "rebalance"), "actions")
	if len(dry) != 1 || dry[0]["service"] != "api" || dry[0]["to"] != "node2" || a.fake.Count("pin") != 0 {
		t.Fatalf("dry run: %v", dry)
	}
	out := a.must(0, "rebalance")
	if !strings.Contains(out, "ok: moved, pin removed") || taskNodeOf(a.fake, "s1") != "n2" || a.fake.Count("unpin service api") != 1 {
		t.Fatalf("real pass:\n%s\ncalls %v", out, a.fake.Calls())
	}
	if out := a.must(0, "rebalance"); out != "" {
		t.Errorf("second pass printed:\n%s", out)
	}
}

func taskNodeOf(f *testenv.FakeEngine, service string) string {
	for _, t := range f.TaskSet {
		if t.ServiceID == service {
			return t.NodeID
		}
	}
	return ""
}

func TestInProcessModsRefreshDryRunAndFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "a mod")
	}))
	defer srv.Close()
	a := newInproc(t)
	cache := filepath.Join(a.dir, "cache")
	a.write(`"true"`, fmt.Sprintf("mods:\n  dir: %s\n  files:\n    - {url: %s/a, dest: a.jar}\n    - {url: %s/gone, dest: b.jar}\n", cache, srv.URL, srv.URL))
	dry := rows(t, a.must(0, "-n", "-o", "json", "mods", "refresh"), "files")
	if len(dry) != 2 || dry[0]["action"] != "fetch" {
		t.Fatalf("dry run: %v", dry)
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Fatal("the dry run created the cache")
	}
	out, errOut, code := a.run("mods", "refresh")
	if code != 3 || !strings.Contains(out, "downloaded") || !strings.Contains(out, "404") || !strings.Contains(errOut, "1 of 2 actions failed") {
		t.Errorf("one failed download: exit %d\n%s%s", code, out, errOut)
	}
}

// TestInProcessEveryPassExitCodes: every pass exits 0 with every node
// ready, 1 on a bad spec (touching nothing), 75 while another holds the
// lock, and 3 when a node of the Swarm is down (after doing the rest).
func TestInProcessEveryPassExitCodes(t *testing.T) {
	passes := [][]string{{"scale"}, {"heal"}, {"lb", "render"}, {"gc"}, {"mods", "refresh"}, {"labels", "sync"}, {"rebalance"}, {"swarm", "join"}}
	for _, p := range passes {
		t.Run(strings.Join(p, " "), func(t *testing.T) {
			a := newInproc(t)
			a.write(`"true"`, swarmSpec+"apps: [{name: web, image: \"web:1\", replicas: 0}]\n")
			a.nodes(true, true)
			if _, errOut, code := a.run(p...); code != 0 {
				t.Errorf("every node ready: exit %d\n%s", code, errOut)
			}
			a.nodes(true, false)
			_, errOut, code := a.run(p...)
			if code != 3 || !strings.Contains(errOut, "node node2 is down: skipped; the rest of the pass was done") {
				t.Errorf("node down: exit %d\n%s", code, errOut)
			}
			if _, errOut, code := a.run(append([]string{"-n"}, p...)...); code != 3 {
				t.Errorf("node down, dry run: exit %d\n%s", code, errOut)
			}

			lock, err := state.Open(context.Background(), a.state, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, errOut, code = a.run(p...)
			lock.Close()
			if code != 75 || !strings.Contains(errOut, "state is locked") {
				t.Errorf("lock held: exit %d\n%s", code, errOut)
			}

			if err := os.WriteFile(a.spec, []byte("apps: [{name: web, replicas: -1}]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := a.stateBytes()
			calls := len(a.fake.Calls())
			_, errOut, code = a.run(p...)
			if code != 1 || !strings.Contains(errOut, "invalid spec") || len(a.fake.Calls()) != calls || !bytes.Equal(before, a.stateBytes()) {
				t.Errorf("bad spec: exit %d, engine calls %d → %d\n%s", code, calls, len(a.fake.Calls()), errOut)
			}
		})
	}
}

// TestFreshVerdictsAreReusedAndStaleOnesProbed: a pass other than heal
// reuses a probe verdict younger than health.interval (no request reaches
// the replica) and probes a stale one; a replica heal found failing is out
// of the balancer after the next pass of any kind.
func TestFreshVerdictsAreReusedAndStaleOnesProbed(t *testing.T) {
	a := newInproc(t)
	var hits atomic.Int64
	var failing atomic.Bool
	var addrs []string
	a.fake = testenv.NewFakeEngine(func() string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			if failing.Load() && len(addrs) > 0 && r.Host == addrs[0] {
				w.WriteHeader(500)
			}
		}))
		t.Cleanup(srv.Close)
		addr := strings.TrimPrefix(srv.URL, "http://")
		addrs = append(addrs, addr)
		return addr
	}, a.clock.Now)
	a.write(`"true"`, "apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: 3, lb: {}, health: {type: http, path: /, interval: 10s, leave_after: 2}}\n")
	a.must(0, "scale")
	a.must(0, "heal") // every replica probed: fresh verdicts
	before := hits.Load()
	a.clock.Advance(5 * time.Second)
	a.must(0, "lb", "render")
	a.must(0, "scale")
	a.must(0, "status")
	if got := hits.Load() - before; got != 0 {
		t.Errorf("%d probes reached replicas with verdicts 5s old (interval 10s)", got)
	}
	a.clock.Advance(6 * time.Second) // 11s: stale
	a.must(0, "lb", "render")
	if got := hits.Load() - before; got != 3 {
		t.Errorf("stale verdicts: %d probes, want one per replica (3)", got)
	}
	// The first replica fails heal's check twice (leave_after 2): the next
	// lb render, reusing heal's fresh verdict, takes it out.
	failing.Store(true)
	a.run("heal")
	if conf, _ := os.ReadFile(a.conf); !strings.Contains(string(conf), addrs[0]) {
		t.Error("one failed probe took the replica out of the balancer")
	}
	a.clock.Advance(time.Second)
	a.run("heal")
	if conf, _ := os.ReadFile(a.conf); strings.Contains(string(conf), addrs[0]) {
		t.Errorf("heal left a replica that failed twice (leave_after 2) in the balancer:\n%s", conf)
	}
	// Another pass, of any kind, keeps it out.
	a.clock.Advance(time.Second)
	a.must(0, "lb", "render")
	if conf, _ := os.ReadFile(a.conf); strings.Contains(string(conf), addrs[0]) {
		t.Errorf("lb render put a failing replica back:\n%s", conf)
	}
}
