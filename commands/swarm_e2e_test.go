package commands_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
