package commands_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

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

// moves lists the actions with their sizes; where without them (a
// measured size changes between two reads).
func (r rebalanceRun) moves() string { return r.list(true) }
func (r rebalanceRun) where() string { return r.list(false) }

func (r rebalanceRun) list(bytes bool) string {
	var out []string
	for _, a := range r.Actions {
		s := fmt.Sprintf("%s %s %s>%s", a.Action, a.Service, a.From, a.To)
		if bytes {
			s += fmt.Sprintf(" %d", a.Bytes)
		}
		out = append(out, s)
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
	if c := s.Docker(t, 1, "service", "inspect", "heavy", "--format", "{{json .Spec.TaskTemplate.Placement.Constraints}} {{json .Spec.Labels}} {{.Spec.UpdateConfig.Order}}"); strings.Contains(c, "node.hostname") || strings.Contains(strings.ReplaceAll(c, "baton.rebalance.moved", ""), "baton.") || !strings.HasSuffix(strings.TrimSpace(c), " stop-first") {
		t.Errorf("heavy's spec is not as it was (no constraint, no baton label but the move's time, its own update order stop-first): %s", c)
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
	if c := s.Docker(t, 1, "service", "inspect", "heavy2", "--format", "{{json .Spec.TaskTemplate.Placement.Constraints}} {{json .Spec.Labels}} {{.Spec.UpdateConfig.Order}}"); strings.Contains(c, "node.hostname") || strings.Contains(strings.ReplaceAll(c, "baton.rebalance.moved", ""), "baton.") || !strings.HasSuffix(strings.TrimSpace(c), " stop-first") {
		t.Errorf("heavy2's spec is not as it was: %s", c)
	}
	if n := taskNode(t, s, "heavy2"); n != to {
		t.Errorf("removing the pin moved heavy2 again: on %q, want %s", n, to)
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
	dry := run("-n", "rebalance")
	if dry.where() != "move heavy node2>node1" || dry.Actions[0].Bytes < 150<<20 {
		t.Fatalf("dry run plans %q (%+v), want heavy (≥150 MiB measured) to node1; findings %v", dry.where(), dry.Actions, dry.Findings)
	}
	real := run("rebalance")
	if real.where() != dry.where() || !real.Actions[0].Arrived {
		t.Fatalf("real pass %q %+v; the dry run planned %q", real.where(), real.Actions, dry.where())
	}
	if n := taskNode(t, s, "heavy"); n != "node1" {
		t.Errorf("heavy runs on %q, want node1", n)
	}
	if again := run("rebalance"); len(again.Actions) != 0 {
		t.Errorf("the next pass was not a no-op: %+v", again.Actions)
	}
}

// loadImageOn loads an image onto some nodes only.
func loadImageOn(t *testing.T, s *testenv.Swarm, ref string, nodes ...int) {
	t.Helper()
	img, err := exec.Command("docker", "save", ref).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range nodes {
		load := exec.Command("docker", "-H", s.Host(k), "load")
		load.Stdin = bytes.NewReader(img)
		if out, err := load.CombinedOutput(); err != nil {
			t.Fatalf("load on node%d: %v %s", k, err, out)
		}
	}
}

// TestRebalanceAMoveSwarmGivesUp: a move to a node that cannot run the
// image (it is not there, and nothing can be pulled) is undone at once —
// Swarm pauses the update, baton removes the pin — with the service
// running all along; the pass exits 3 saying why. A second manager, with a
// state file of its own, keeps the cooldowns the first one's move started
// (they are on the service): it moves nothing, and its labels sync does
// not move a dependent the first manager just moved.
func TestRebalanceAMoveSwarmGivesUp(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	s := testenv.StartSwarmSized(t, []int{4096, 2048, 8192})
	loadImage(t, s, "baton-test:v1")
	if out, err := exec.Command("docker", "tag", "baton-test:v1", "baton-test:only12").CombinedOutput(); err != nil {
		t.Fatalf("tag: %v %s", err, out)
	}
	loadImageOn(t, s, "baton-test:only12", 1, 2)
	s.Docker(t, 1, "node", "promote", "node2") // a second manager
	dir := t.TempDir()
	specPath := filepath.Join(dir, "baton.yaml")
	state1, state2 := filepath.Join(dir, "m1.json"), filepath.Join(dir, "m2.json")
	y := "swarm:\n  anchors:\n    - {service: app, anchor: db}\n  restart_cooldown: 1h\n" +
		"  rebalance: {threshold: 60%, target: 50%, cooldown: 10m, service_cooldown: 1h, wait: 60s}\n"
	if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Docker(t, 1, "node", "update", "--availability", "drain", "node1")
	s.Docker(t, 1, "node", "update", "--availability", "drain", "node3")
	s.Docker(t, 1, "service", "create", "--detach", "--name", "stuck", "--no-resolve-image", "--reserve-memory", "1400m", "baton-test:only12")
	if !waitTaskOn(t, s, "stuck", "node2", 30*time.Second) {
		t.Fatal("stuck did not start on node2")
	}
	s.Docker(t, 1, "node", "update", "--availability", "active", "node1")
	s.Docker(t, 1, "node", "update", "--availability", "active", "node3")

	watch := watchRunning(t, s, "stuck", 1)
	out, errOut, code := testenv.Run(t, dir, testenv.Baton(t), "--spec", specPath, "--state", state1, "--docker-host", s.Host(1), "-o", "json", "rebalance")
	least := watch.least()
	var r rebalanceRun
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("rebalance: exit %d: %v\n%s%s", code, err, out, errOut)
	}
	if code != 3 || r.moves() != "move stuck node2>node3 1468006400" || r.Actions[0].Done || !strings.Contains(out, "the move to node3 failed (Swarm's update is paused") {
		t.Fatalf("the move Swarm gives up: exit %d, %s\n%s%s", code, r.moves(), out, errOut)
	}
	if least < 1 {
		t.Errorf("stuck fell to %d running tasks during the move", least)
	}
	if n := taskNode(t, s, "stuck"); n != "node2" {
		t.Errorf("stuck runs on %q, want node2 still", n)
	}
	if c := s.Docker(t, 1, "service", "inspect", "stuck", "--format", "{{json .Spec.TaskTemplate.Placement.Constraints}} {{index .Spec.Labels \"baton.rebalance.pin\"}} {{index .Spec.Labels \"baton.rebalance.moved\"}}"); strings.Contains(c, "node.hostname") || !strings.Contains(c, "T") {
		t.Errorf("stuck after the failed move: %s (want no pin, the move's time kept)", c)
	}
	// The next pass of the same manager: nothing moves (cooldowns).
	if out, errOut, code := testenv.Run(t, dir, testenv.Baton(t), "--spec", specPath, "--state", state1, "--docker-host", s.Host(1), "rebalance"); code != 0 || strings.Contains(out, "move") && !strings.Contains(out, "cooldown") {
		t.Errorf("the next pass: exit %d\n%s%s", code, out, errOut)
	}
	// The second manager, its own state file: the cooldowns hold.
	out, errOut, code = testenv.Run(t, dir, testenv.Baton(t), "--spec", specPath, "--state", state2, "--docker-host", s.Host(2), "-o", "json", "rebalance")
	var r2 rebalanceRun
	if err := json.Unmarshal([]byte(out), &r2); err != nil || code != 0 || len(r2.Actions) != 0 || !strings.Contains(strings.Join(r2.Findings, "\n"), "in the global cooldown") {
		t.Errorf("the second manager within the cooldown: exit %d %v\n%s%s", code, err, out, errOut)
	}
	if n := taskNode(t, s, "stuck"); n != "node2" {
		t.Errorf("stuck moved: on %q", n)
	}

	// labels sync: the first manager moves app to db; db moves again; the
	// second manager, within restart_cooldown, does not move app again.
	s.Docker(t, 1, "service", "create", "--detach", "--name", "db", "--no-resolve-image", "--constraint", "node.hostname==node1", "baton-test:v1")
	s.Docker(t, 1, "service", "create", "--detach", "--name", "app", "--no-resolve-image", "--constraint", "node.hostname!=node1", "baton-test:v1")
	if !waitTaskOn(t, s, "db", "node1", 30*time.Second) || taskNode(t, s, "app") == "" {
		t.Fatal("db or app did not start")
	}
	s.Docker(t, 1, "service", "update", "--detach", "--constraint-rm", "node.hostname!=node1", "app")
	waitUpdated(t, s, "app", 60*time.Second)
	if out, errOut, code := testenv.Run(t, dir, testenv.Baton(t), "--spec", specPath, "--state", state1, "--docker-host", s.Host(1), "labels", "sync"); code != 0 {
		t.Fatalf("labels sync on manager 1: exit %d\n%s%s", code, out, errOut)
	}
	if !waitTaskOn(t, s, "app", "node1", 60*time.Second) {
		t.Fatalf("app did not join db:\n%s", s.Docker(t, 1, "service", "ps", "app"))
	}
	waitUpdated(t, s, "app", 60*time.Second)
	s.Docker(t, 1, "service", "update", "--detach", "--constraint-rm", "node.hostname==node1", "--constraint-add", "node.hostname==node3", "db")
	if !waitTaskOn(t, s, "db", "node3", 30*time.Second) {
		t.Fatal("db did not move to node3")
	}
	out, errOut, code = testenv.Run(t, dir, testenv.Baton(t), "--spec", specPath, "--state", state2, "--docker-host", s.Host(2), "labels", "sync")
	if code != 0 || !strings.Contains(out, "restart_cooldown 1h0m0s") || strings.Contains(out, "node.hostname!=node1") {
		t.Errorf("the second manager's labels sync within the cooldown: exit %d\n%s%s", code, out, errOut)
	}
	if n := taskNode(t, s, "app"); n != "node1" {
		t.Errorf("app moved again: on %q", n)
	}
}
