package commands_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// swarmBaton runs the baton binary against the swarm's manager.
func swarmBaton(t *testing.T, s *testenv.Swarm, specPath, statePath string, args ...string) (string, string, int) {
	t.Helper()
	argv := append([]string{testenv.Baton(t), "--spec", specPath, "--state", statePath, "--docker-host", s.Host(1)}, args...)
	return testenv.Run(t, filepath.Dir(specPath), argv...)
}

func loadImage(t *testing.T, s *testenv.Swarm, ref string) {
	t.Helper()
	img, err := exec.Command("docker", "save", ref).Output()
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= s.Nodes; k++ {
		load := exec.Command("docker", "-H", s.Host(k), "load")
		load.Stdin = strings.NewReader(string(img))
		if out, err := load.CombinedOutput(); err != nil {
			t.Fatalf("load on node%d: %v %s", k, err, out)
		}
	}
}

// taskNode returns the hostname of the node running the service's task.
func taskNode(t *testing.T, s *testenv.Swarm, service string) string {
	t.Helper()
	out := s.Docker(t, 1, "service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Running") {
			return strings.Fields(line)[0]
		}
	}
	return ""
}

func waitTaskOn(t *testing.T, s *testenv.Swarm, service, node string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if taskNode(t, s, service) == node {
			return true
		}
		time.Sleep(250 * time.Millisecond)
	}
	return false
}

func nodeLabels(t *testing.T, s *testenv.Swarm, node string) map[string]string {
	t.Helper()
	var labels map[string]string
	if err := json.Unmarshal([]byte(s.Docker(t, 1, "node", "inspect", node, "--format", "{{json .Spec.Labels}}")), &labels); err != nil {
		t.Fatal(err)
	}
	return labels
}

// TestLabelsSyncOnARealSwarm: static labels are applied and only baton's
// removed; when the anchor's task moves to another node, its dependent
// follows within 2 passes; a dry run lists the label changes.
func TestLabelsSyncOnARealSwarm(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	s := testenv.StartSwarm(t, 3)
	loadImage(t, s, "baton-test:v1")
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	write := func(static string) {
		y := "swarm:\n  nodes:\n" + static + "  anchors:\n    - {service: app, anchor: db}\n  restart_cooldown: 0s\n"
		if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("    node2: {labels: {zone: b}}\n    node3: {labels: {tier: edge}}\n")
	s.Docker(t, 1, "node", "update", "--label-add", "owner=ops", "node3") // the operator's own label
	s.Docker(t, 1, "service", "create", "--detach", "--name", "db", "--no-resolve-image", "--constraint", "node.hostname==node1", "baton-test:v1")
	s.Docker(t, 1, "service", "create", "--detach", "--name", "app", "--no-resolve-image", "baton-test:v1")
	if !waitTaskOn(t, s, "db", "node1", 30*time.Second) {
		t.Fatal("db did not start on node1")
	}

	out, errOut, code := swarmBaton(t, s, specPath, statePath, "-n", "labels", "sync")
	if code != 0 || !strings.Contains(out, "+zone=b") || !strings.Contains(out, "+baton.anchor.db=true") || !strings.Contains(out, "+constraint node.labels.baton.anchor.db==true") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if l := nodeLabels(t, s, "node2"); l["zone"] != "" {
		t.Fatal("the dry run changed a label")
	}
	if _, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync"); code != 0 {
		t.Fatalf("labels sync: exit %d\n%s", code, errOut)
	}
	if l := nodeLabels(t, s, "node2"); l["zone"] != "b" {
		t.Errorf("node2 labels: %v", l)
	}
	if l := nodeLabels(t, s, "node1"); l["baton.anchor.db"] != "true" {
		t.Errorf("node1 labels: %v", l)
	}
	if !waitTaskOn(t, s, "app", "node1", 30*time.Second) {
		t.Fatalf("app did not join db on node1 (on %q)", taskNode(t, s, "app"))
	}

	// The anchor moves: the dependent follows within 2 passes.
	s.Docker(t, 1, "service", "update", "--detach", "--constraint-rm", "node.hostname==node1", "--constraint-add", "node.hostname==node3", "db")
	if !waitTaskOn(t, s, "db", "node3", 30*time.Second) {
		t.Fatal("db did not move to node3")
	}
	followed := 0
	for pass := 1; pass <= 2 && followed == 0; pass++ {
		if out, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync"); code != 0 {
			t.Fatalf("pass %d: exit %d\n%s%s", pass, code, out, errOut)
		}
		if waitTaskOn(t, s, "app", "node3", 15*time.Second) {
			followed = pass
		}
	}
	if followed == 0 {
		t.Fatalf("app did not follow db to node3 within 2 passes (on %q)", taskNode(t, s, "app"))
	}
	t.Logf("app followed db within %d pass(es)", followed)

	// A static label leaves the spec: baton removes its own, never the operator's.
	write("    node2: {labels: {zone: b}}\n")
	if _, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync"); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	l3 := nodeLabels(t, s, "node3")
	if l3["tier"] != "" || l3["owner"] != "ops" || l3["baton.anchor.db"] != "true" {
		t.Errorf("node3 labels: %v (want tier removed, owner kept, the anchor label set)", l3)
	}
	if l1 := nodeLabels(t, s, "node1"); l1["baton.anchor.db"] != "" {
		t.Errorf("node1 keeps the anchor label after db left: %v", l1)
	}
	// Converged: the next pass does nothing.
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync"); code != 0 || out != "" {
		t.Errorf("the next pass was not a no-op: exit %d\n%s%s", code, out, errOut)
	}

	// A node dies: the pass still completes, reports the node and exits 3.
	s.KillNode(t, 2)
	write("    node2: {labels: {zone: c}}\n    node3: {labels: {tier: core}}\n")
	out, errOut, code = swarmBaton(t, s, specPath, statePath, "labels", "sync")
	if code != 3 || !strings.Contains(out, "node node2 is down: skipped") || !strings.Contains(errOut, "swarm: node node2 is down: skipped; the rest of the pass was done") {
		t.Errorf("with node2 down: exit %d, want 3 naming the node\n%s%s", code, out, errOut)
	}
	if l := nodeLabels(t, s, "node3"); l["tier"] != "core" {
		t.Errorf("the live nodes were not synced: node3 %v", l)
	}
}

// rebalanceRun is the JSON a rebalance pass prints.
type rebalanceRun struct {
	DryRun  bool `json:"dry_run"`
	Actions []struct {
		Action  string `json:"action"`
		Service string `json:"service"`
		From    string `json:"from"`
		To      string `json:"to"`
		Bytes   int64  `json:"bytes"`
		Done    bool   `json:"done"`
		Arrived bool   `json:"arrived"`
	} `json:"actions"`
	After []struct {
		Node  string  `json:"node"`
		Share float64 `json:"share"`
		Over  bool    `json:"over"`
	} `json:"after"`
	Findings []string `json:"findings"`
}

func (r rebalanceRun) moves() string {
	var out []string
	for _, a := range r.Actions {
		out = append(out, fmt.Sprintf("%s %s %s>%s %d", a.Action, a.Service, a.From, a.To, a.Bytes))
	}
	return strings.Join(out, "; ")
}

// TestRebalanceOnARealSwarm: nodes of 4, 2 and 8 GiB (made up); a
// memory-heavy service pushes node2 over the threshold. One pass moves the
// fewest services (one: the heavy one, the small ones cannot relieve it),
// every node ends under the threshold, the service spec is left clean (no
// pin), the next pass is a no-op, and the dry run equals the real plan.
func TestRebalanceOnARealSwarm(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	s := testenv.StartSwarmSized(t, []int{4096, 2048, 8192})
	loadImage(t, s, "baton-test:v1")
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	y := "swarm:\n  rebalance: {threshold: 70%, target: 60%, cooldown: 0s, service_cooldown: 1h, wait: 60s}\n"
	if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	// Everything lands on node2: the others are drained while the
	// services start (Swarm never moves running tasks by itself).
	s.Docker(t, 1, "node", "update", "--availability", "drain", "node1")
	s.Docker(t, 1, "node", "update", "--availability", "drain", "node3")
	for name, mem := range map[string]string{"small1": "100m", "small2": "100m", "heavy": "1400m"} {
		s.Docker(t, 1, "service", "create", "--detach", "--name", name, "--no-resolve-image", "--reserve-memory", mem, "baton-test:v1")
	}
	for _, name := range []string{"small1", "small2", "heavy"} {
		if !waitTaskOn(t, s, name, "node2", 30*time.Second) {
			t.Fatalf("%s did not start on node2", name)
		}
	}
	s.Docker(t, 1, "node", "update", "--availability", "active", "node1")
	s.Docker(t, 1, "node", "update", "--availability", "active", "node3")

	run := func(args ...string) (rebalanceRun, int) {
		t.Helper()
		out, errOut, code := swarmBaton(t, s, specPath, statePath, append([]string{"-o", "json"}, args...)...)
		var r rebalanceRun
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("rebalance %v: exit %d: %v\n%s%s", args, code, err, out, errOut)
		}
		return r, code
	}
	dry, code := run("-n", "rebalance")
	if code != 0 {
		t.Fatalf("dry run: exit %d", code)
	}
	want := "move heavy node2>node3 1468006400"
	if dry.moves() != want {
		t.Fatalf("dry run plans %q, want %q (findings %v)", dry.moves(), want, dry.Findings)
	}
	if taskNode(t, s, "heavy") != "node2" {
		t.Fatal("the dry run moved something")
	}
	real, code := run("rebalance")
	if code != 0 || real.moves() != dry.moves() {
		t.Fatalf("real pass: exit %d, moves %q; the dry run planned %q", code, real.moves(), dry.moves())
	}
	if a := real.Actions[0]; !a.Done || !a.Arrived {
		t.Errorf("the move did not complete: %+v", a)
	}
	for _, l := range real.After {
		if l.Over {
			t.Errorf("node %s is still over the threshold: %.3f", l.Node, l.Share)
		}
	}
	if n := taskNode(t, s, "heavy"); n != "node3" {
		t.Errorf("heavy runs on %q, want node3", n)
	}
	// The spec is clean again, and removing the pin restarted nothing.
	if c := s.Docker(t, 1, "service", "inspect", "heavy", "--format", "{{json .Spec.TaskTemplate.Placement.Constraints}} {{json .Spec.Labels}} {{.Spec.UpdateConfig.Order}}"); strings.Contains(c, "node.hostname") || strings.Contains(c, "baton.") || !strings.HasSuffix(strings.TrimSpace(c), " stop-first") {
		t.Errorf("heavy's spec is not as it was (no constraint, no baton label, its own update order stop-first): %s", c)
	}
	if hist := strings.Fields(s.Docker(t, 1, "service", "ps", "heavy", "--format", "{{.Node}}")); len(hist) != 2 {
		t.Errorf("heavy has %d tasks in its history, want 2 (the one moved, the one on node3): %v", len(hist), hist)
	}
	// The next pass is a no-op, quiet in table form.
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "rebalance"); code != 0 || out != "" {
		t.Errorf("the next pass was not a no-op: exit %d\n%s%s", code, out, errOut)
	}

	// A pass that ends before its move arrives (here wait: 0s; a killed
	// pass is the same) leaves the pin; a later pass removes it once the
	// tasks run on the new node.
	// (Placed on node2 by a constraint removed once it runs: draining the
	// other nodes now would push heavy back to node2.)
	s.Docker(t, 1, "node", "update", "--label-add", "start=here", "node2")
	s.Docker(t, 1, "service", "create", "--detach", "--name", "heavy2", "--no-resolve-image", "--reserve-memory", "1400m", "--constraint", "node.labels.start==here", "baton-test:v1")
	if !waitTaskOn(t, s, "heavy2", "node2", 30*time.Second) {
		t.Fatal("heavy2 did not start on node2")
	}
	s.Docker(t, 1, "service", "update", "--detach", "--constraint-rm", "node.labels.start==here", "heavy2")
	if err := os.WriteFile(specPath, []byte(strings.Replace(y, "wait: 60s", "wait: 0s", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cut, code := run("rebalance")
	if code != 3 || len(cut.Actions) != 1 || cut.Actions[0].Service != "heavy2" || cut.Actions[0].Arrived {
		t.Fatalf("a pass that does not wait: exit %d %+v, want 3 with heavy2 moving", code, cut.Actions)
	}
	to := cut.Actions[0].To
	if pin := s.Docker(t, 1, "service", "inspect", "heavy2", "--format", "{{index .Spec.Labels \"baton.rebalance.pin\"}}"); strings.TrimSpace(pin) != "node.hostname=="+to {
		t.Fatalf("heavy2's pin: %q", pin)
	}
	if !waitTaskOn(t, s, "heavy2", to, 30*time.Second) {
		t.Fatalf("heavy2 did not move to %s", to)
	}
	if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	later, code := run("rebalance")
	if code != 0 || len(later.Actions) != 1 || later.Actions[0].Action != "unpin" || later.Actions[0].Service != "heavy2" {
		t.Fatalf("the later pass: exit %d %+v, want heavy2 unpinned", code, later.Actions)
	}
	if c := s.Docker(t, 1, "service", "inspect", "heavy2", "--format", "{{json .Spec.TaskTemplate.Placement.Constraints}} {{json .Spec.Labels}} {{.Spec.UpdateConfig.Order}}"); strings.Contains(c, "node.hostname") || strings.Contains(c, "baton.") || !strings.HasSuffix(strings.TrimSpace(c), " stop-first") {
		t.Errorf("heavy2's spec is not as it was: %s", c)
	}
	if n := taskNode(t, s, "heavy2"); n != to {
		t.Errorf("removing the pin moved heavy2 again: on %q, want %s", n, to)
	}
}

// swarmAppSpec writes a spec whose app web runs as a Swarm service behind
// the test's nginx.
func swarmAppSpec(t *testing.T, path string, n *testenv.Nginx, replicas int, image ...string) {
	t.Helper()
	q := func(argv []string) string {
		b, _ := json.Marshal(argv)
		return string(b)
	}
	img := "baton-test:v1"
	if len(image) > 0 {
		img = image[0]
	}
	y := fmt.Sprintf(`project: sw
nginx:
  config: %s
  test: %s
  reload: %s
  listen: %s
apps:
  - name: web
    engine: swarm
    image: %s
    port: 8080
    replicas: %d
    stop_grace: 2s
    lb: {path: /}
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 40s}
swarm:
  rebalance: {threshold: 95%%}
gc: {keep_images: 1}
`, n.Conf(), q(n.Test()), q(n.Reload()), n.Listen, img, replicas)
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
}

type scaleRun struct {
	Actions []struct {
		App    string `json:"app"`
		Action string `json:"action"`
		Target string `json:"target"`
		Reason string `json:"reason"`
		Done   bool   `json:"done"`
		Error  string `json:"error"`
	} `json:"actions"`
}

// upstreams returns the servers of the balancer config baton wrote.
func upstreams(t *testing.T, n *testenv.Nginx) []string {
	t.Helper()
	b, err := os.ReadFile(n.Conf())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) >= 2 && f[0] == "server" && strings.Contains(f[1], ":") {
			out = append(out, strings.TrimSuffix(f[1], ";"))
		}
	}
	return out
}

// TestSwarmAppsOnARealSwarm: an app with engine: swarm becomes a service
// whose tasks publish in host mode; lb render routes to each task at its
// node's address; a second pass is a no-op. Two scale processes with
// different targets race on the same service: the one whose update Swarm
// refuses (its version is stale) re-reads and re-decides — no lost
// update. With a node killed, every subcommand completes, names the node
// and exits 3.
func TestSwarmAppsOnARealSwarm(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	s := testenv.StartSwarm(t, 3)
	loadImage(t, s, "baton-test:v1")
	ngx := testenv.StartNginx(t)
	dir := t.TempDir()
	specA, stateA := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "a.json")
	specB, stateB := filepath.Join(dir, "b.yaml"), filepath.Join(dir, "b.json")
	swarmAppSpec(t, specA, ngx, 2)

	out, errOut, code := swarmBaton(t, s, specA, stateA, "-n", "scale")
	if code != 0 || !strings.Contains(out, "create service") || !strings.Contains(out, "sw-web") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := swarmBaton(t, s, specA, stateA, "scale"); code != 0 {
		t.Fatalf("scale: exit %d\n%s", code, errOut)
	}
	ups := upstreams(t, ngx)
	if len(ups) != 2 {
		t.Fatalf("upstreams after scale: %v, want 2 tasks", ups)
	}
	for _, u := range ups {
		if !strings.HasPrefix(u, s.Net+".1") {
			t.Errorf("upstream %s is not at a node's address", u)
		}
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://" + ngx.Listen + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET through nginx to the swarm tasks: %d", resp.StatusCode)
	}
	for _, cmd := range [][]string{{"scale"}, {"lb", "render"}} {
		if out, errOut, code := swarmBaton(t, s, specA, stateA, cmd...); code != 0 || out != "" {
			t.Errorf("%v right after: not a no-op: exit %d\n%s%s", cmd, code, out, errOut)
		}
	}

	// The race: B reads the service (2 replicas) and decides 5; its update
	// is held at the proxy while A scales to 3; then B's update, carrying
	// the version it read, reaches Swarm.
	swarmAppSpec(t, specA, ngx, 3)
	swarmAppSpec(t, specB, ngx, 5)
	proxy := testenv.StartDockerProxyTo(t, s.Host(1))
	atUpdate, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	proxy.Before(func(route string) {
		if route == "POST /services/{id}/update" {
			once.Do(func() {
				close(atUpdate)
				<-release
			})
		}
	})
	b := exec.Command(testenv.Baton(t), "--spec", specB, "--state", stateB, "--docker-host", proxy.Host, "-o", "json", "scale")
	var bOut, bErr strings.Builder
	b.Stdout, b.Stderr = &bOut, &bErr
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-atUpdate:
	case <-time.After(60 * time.Second):
		t.Fatal("process B never sent its update")
	}
	aOut, errOut, code := swarmBaton(t, s, specA, stateA, "-o", "json", "scale")
	close(release)
	bWait := b.Wait()
	if code != 0 || bWait != nil {
		t.Fatalf("A: exit %d %s\nB: %v %s%s", code, errOut, bWait, bOut.String(), bErr.String())
	}
	var ra, rb scaleRun
	if err := json.Unmarshal([]byte(aOut), &ra); err != nil {
		t.Fatal(err, aOut)
	}
	if err := json.Unmarshal([]byte(bOut.String()), &rb); err != nil {
		t.Fatal(err, bOut.String())
	}
	if len(ra.Actions) != 1 || !strings.Contains(ra.Actions[0].Reason, "2 → 3") {
		t.Errorf("A: %+v, want one action 2 → 3", ra.Actions)
	}
	if len(rb.Actions) != 1 || !strings.Contains(rb.Actions[0].Reason, "3 → 5") || !strings.Contains(rb.Actions[0].Reason, "re-read and re-decided") {
		t.Errorf("B: %+v, want one action that re-read A's 3 and set 5", rb.Actions)
	}
	if got := strings.TrimSpace(s.Docker(t, 1, "service", "inspect", "sw-web", "--format", "{{.Spec.Mode.Replicated.Replicas}} {{.PreviousSpec.Mode.Replicated.Replicas}}")); got != "5 3" {
		t.Errorf("replicas now/before: %q, want \"5 3\" (B's update follows A's: none was lost)", got)
	}

	// gc on the manager keeps an image that only a service names (its
	// tasks run elsewhere) and removes one nobody names.
	testenv.Image(t, "baton-test:v2")
	testenv.Image(t, "baton-test:hc")
	loadImage(t, s, "baton-test:v2")
	loadImage(t, s, "baton-test:hc")
	s.Docker(t, 1, "service", "create", "--detach", "--name", "other", "--no-resolve-image", "--constraint", "node.hostname==node2", "baton-test:v2")
	if out, errOut, code := swarmBaton(t, s, specA, stateA, "gc"); code != 0 {
		t.Fatalf("gc: exit %d\n%s%s", code, out, errOut)
	}
	images := s.Docker(t, 1, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
	if !strings.Contains(images, "baton-test:v2") || strings.Contains(images, "baton-test:hc") || !strings.Contains(images, "baton-test:v1") {
		t.Errorf("images on the manager after gc: %q; want v1 (in use) and v2 (named by a service) kept, hc removed", images)
	}

	// A new image: Swarm rolls the tasks start-first; the pass waits for
	// them and leaves only new tasks in the balancer.
	swarmAppSpec(t, specA, ngx, 5, "baton-test:v2")
	out, errOut, code = swarmBaton(t, s, specA, stateA, "scale")
	if code != 0 || !strings.Contains(out, "roll service") {
		t.Fatalf("roll: exit %d\n%s%s", code, out, errOut)
	}
	if ups := upstreams(t, ngx); len(ups) != 5 {
		t.Errorf("upstreams after the roll: %v, want 5", ups)
	}
	for i := 0; i < 10; i++ {
		resp, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://" + ngx.Listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "(v2)") {
			t.Fatalf("after the roll the balancer still reaches an old task: %d %s", resp.StatusCode, body)
		}
	}
	if out, errOut, code := swarmBaton(t, s, specA, stateA, "scale"); code != 0 || out != "" {
		t.Errorf("the pass after the roll was not a no-op: exit %d\n%s%s", code, out, errOut)
	}

	// Autoscaling applies to a swarm app: 200 requests/s over 5 ready
	// tasks against a target of 10 per task doubles the count at most
	// (scale_up: 100%), to 10, capped at max 8.
	raw, err := os.ReadFile(specA)
	if err != nil {
		t.Fatal(err)
	}
	withAS := strings.Replace(string(raw), "    replicas: 5\n", "    replicas: 5\n    autoscale: {min: 1, max: 8, targets: {rps: 10}}\n", 1)
	if err := os.WriteFile(specA, []byte(withAS), 0o644); err != nil {
		t.Fatal(err)
	}
	metricsPath := filepath.Join(dir, "metrics.json")
	if err := os.WriteFile(metricsPath, []byte(`{"apps": {"web": {"rps": 200}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = swarmBaton(t, s, specA, stateA, "-o", "json", "scale", "--metrics", metricsPath)
	var rs scaleRun
	if err := json.Unmarshal([]byte(out), &rs); err != nil || code != 0 {
		t.Fatalf("autoscale: exit %d %v\n%s%s", code, err, out, errOut)
	}
	if len(rs.Actions) != 1 || !strings.Contains(rs.Actions[0].Reason, "5 → 8") {
		t.Errorf("autoscale: %+v, want the service scaled 5 → 8", rs.Actions)
	}
	if ups := upstreams(t, ngx); len(ups) != 8 {
		t.Errorf("upstreams after autoscaling: %d, want 8", len(ups))
	}
	swarmAppSpec(t, specA, ngx, 8, "baton-test:v2")

	// A swarm app whose tasks never answer: the pass waits ready_timeout,
	// reports them and exits 3, as for a local replica that never answers.
	slowSpec := filepath.Join(dir, "slow.yaml")
	if err := os.WriteFile(slowSpec, []byte(`project: slow
apps:
  - name: slow
    engine: swarm
    image: baton-test:v2
    port: 8080
    env: {HEALTH_DELAY: 1h}
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 3s}
    lb: {path: /}
nginx:
  config: `+filepath.Join(dir, "slow.conf")+`
  test: [true]
  reload: [true]
  listen: 127.0.0.1:1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = swarmBaton(t, s, slowSpec, filepath.Join(dir, "slow.json"), "scale")
	if code != 3 || !strings.Contains(out, "0 of 1 task(s) answer their readiness check") {
		t.Errorf("a swarm app that never gets ready: exit %d, want 3 with a finding\n%s%s", code, out, errOut)
	}

	// A node dies. Every subcommand still completes, names it and exits 3.
	s.KillNode(t, 3)
	for _, cmd := range [][]string{{"scale"}, {"heal"}, {"rebalance"}, {"labels", "sync"}, {"lb", "render"}, {"gc"}, {"mods", "refresh"}} {
		out, errOut, code := swarmBaton(t, s, specA, stateA, cmd...)
		if code != 3 || !strings.Contains(out+errOut, "node node3 is down") {
			t.Errorf("%v with node3 down: exit %d, want 3 naming node3\n%s%s", cmd, code, out, errOut)
		}
	}
	// status shows the node, and is read-only: exit 0.
	if out, errOut, code := swarmBaton(t, s, specA, stateA, "status"); code != 0 || !regexp.MustCompile(`node3\s+down`).MatchString(out) {
		t.Errorf("status with node3 down: exit %d\n%s%s", code, out, errOut)
	}
	for _, u := range upstreams(t, ngx) {
		if strings.HasPrefix(u, s.Addr(3)+":") {
			t.Errorf("the balancer still routes to a task on the dead node: %s", u)
		}
	}
}

// TestRebalanceByRealUsage: with usage: docker, pressure is the real
// memory of the tasks' containers, read at each node's own engine — here
// no service reserves anything, so reservations alone would see no
// pressure at all.
func TestRebalanceByRealUsage(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	s := testenv.StartSwarmSized(t, []int{1024, 256, 1024})
	loadImage(t, s, "baton-test:v1")
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	y := "swarm:\n  nodes:\n"
	for k := 1; k <= 3; k++ {
		y += fmt.Sprintf("    node%d: {docker: %q}\n", k, s.Host(k))
	}
	y += "  rebalance: {threshold: 50%, target: 40%, usage: docker, cooldown: 0s}\n"
	if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Docker(t, 1, "node", "update", "--availability", "drain", "node1")
	s.Docker(t, 1, "node", "update", "--availability", "drain", "node3")
	s.Docker(t, 1, "service", "create", "--detach", "--name", "heavy", "--no-resolve-image", "--env", "BALLAST_MB=150", "baton-test:v1")
	s.Docker(t, 1, "service", "create", "--detach", "--name", "light", "--no-resolve-image", "baton-test:v1")
	for _, name := range []string{"heavy", "light"} {
		if !waitTaskOn(t, s, name, "node2", 30*time.Second) {
			t.Fatalf("%s did not start on node2", name)
		}
	}
	s.Docker(t, 1, "node", "update", "--availability", "active", "node1")
	s.Docker(t, 1, "node", "update", "--availability", "active", "node3")

	run := func(args ...string) rebalanceRun {
		t.Helper()
		out, errOut, code := swarmBaton(t, s, specPath, statePath, append([]string{"-o", "json"}, args...)...)
		var r rebalanceRun
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
			t.Fatalf("rebalance %v: exit %d: %v\n%s%s", args, code, err, out, errOut)
		}
		return r
	}
	where := func(r rebalanceRun) string {
		var out []string
		for _, a := range r.Actions {
			out = append(out, a.Action+" "+a.Service+" "+a.From+">"+a.To)
		}
		return strings.Join(out, "; ")
	}
	dry := run("-n", "rebalance")
	if where(dry) != "move heavy node2>node1" || dry.Actions[0].Bytes < 150<<20 {
		t.Fatalf("dry run plans %q (%+v), want heavy (≥150 MiB measured) to node1; findings %v", where(dry), dry.Actions, dry.Findings)
	}
	real := run("rebalance")
	if where(real) != where(dry) || !real.Actions[0].Arrived {
		t.Fatalf("real pass %q %+v; the dry run planned %q", where(real), real.Actions, where(dry))
	}
	if n := taskNode(t, s, "heavy"); n != "node1" {
		t.Errorf("heavy runs on %q, want node1", n)
	}
	if again := run("rebalance"); len(again.Actions) != 0 {
		t.Errorf("the next pass was not a no-op: %+v", again.Actions)
	}
}

// loadLoop GETs through nginx until stop is closed (at most max requests,
// at most 3 minutes) and counts the answers that were not 200.
func loadLoop(url string, max int, stop <-chan struct{}) (total, failed int, firstErr string) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(3 * time.Minute)
	for total < max && time.Now().Before(deadline) {
		select {
		case <-stop:
			return
		default:
		}
		total++
		resp, err := client.Get(url)
		if err != nil {
			failed++
			if firstErr == "" {
				firstErr = err.Error()
			}
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			failed++
			if firstErr == "" {
				firstErr = resp.Status
			}
		}
	}
	return
}

// TestSwarmAppRollAndScaleInUnderLoad: Swarm, not baton, chooses which
// task to stop on a rolling update or a scale-in, and nginx may still
// route to it for a moment. Requests through nginx still all succeed: the
// rollout is start-first and nginx passes a request whose connection to a
// stopped task fails to the next task (proxy_next_upstream). A bounded
// load loop runs through a roll v1 → v2 and a scale-in 3 → 1.
func TestSwarmAppRollAndScaleInUnderLoad(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	testenv.Image(t, "baton-test:v2")
	s := testenv.StartSwarm(t, 3)
	loadImage(t, s, "baton-test:v1")
	loadImage(t, s, "baton-test:v2")
	ngx := testenv.StartNginx(t)
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	swarmAppSpec(t, specPath, ngx, 3)
	if _, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 {
		t.Fatalf("scale: exit %d\n%s", code, errOut)
	}
	stop := make(chan struct{})
	type result struct {
		total, failed int
		first         string
	}
	done := make(chan result)
	go func() {
		total, failed, first := loadLoop("http://"+ngx.Listen+"/", 50000, stop)
		done <- result{total, failed, first}
	}()
	swarmAppSpec(t, specPath, ngx, 3, "baton-test:v2")
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 {
		t.Errorf("roll: exit %d\n%s%s", code, out, errOut)
	}
	swarmAppSpec(t, specPath, ngx, 1, "baton-test:v2")
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 {
		t.Errorf("scale-in: exit %d\n%s%s", code, out, errOut)
	}
	time.Sleep(3 * time.Second) // Swarm stops the removed tasks after the pass
	close(stop)
	r := <-done
	t.Logf("%d requests through nginx during the roll and the scale-in, %d failed", r.total, r.failed)
	if r.total < 100 || r.failed > 0 {
		t.Errorf("%d of %d requests failed (first: %s)", r.failed, r.total, r.first)
	}
}
