package commands_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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

// running watches a service's running tasks (polling the manager) until
// stop is called, which returns the fewest it saw; it ignores the first
// polls until the service first reaches want.
type running struct {
	stop chan struct{}
	done chan int
}

func watchRunning(t *testing.T, s *testenv.Swarm, service string, want int) *running {
	t.Helper()
	r := &running{stop: make(chan struct{}), done: make(chan int, 1)}
	go func() {
		least, reached := -1, false
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			select {
			case <-r.stop:
				r.done <- least
				return
			default:
			}
			out, err := exec.Command("docker", "-H", s.Host(1), "service", "ps", service, "--filter", "desired-state=running", "--format", "{{.CurrentState}}").Output()
			if err == nil {
				n := strings.Count(string(out), "Running")
				reached = reached || n >= want
				if reached && (least < 0 || n < least) {
					least = n
				}
			}
			time.Sleep(150 * time.Millisecond)
		}
		r.done <- least
	}()
	return r
}

func (r *running) least() int { close(r.stop); return <-r.done }

// rejected lists the tasks of a service that Swarm stopped because their
// node no longer met the constraints (the constraint enforcer's mark).
func rejected(t *testing.T, s *testenv.Swarm, service string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(s.Docker(t, 1, "service", "ps", service, "--no-trunc", "--format", "{{.Node}} {{.CurrentState}} {{.Error}}"), "\n") {
		if strings.Contains(line, "Rejected") || strings.Contains(strings.ToLower(line), "constraint") {
			out = append(out, line)
		}
	}
	return out
}

// waitTasksOn waits until every running task of the service runs on node
// and there are n of them.
func waitTasksOn(t *testing.T, s *testenv.Swarm, service, node string, n int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		out := s.Docker(t, 1, "service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}")
		on := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "Running") && strings.Fields(line)[0] == node {
				on++
			}
		}
		if on == n && strings.Count(out, "Running") == n {
			return true
		}
		time.Sleep(250 * time.Millisecond)
	}
	return false
}

// waitUpdated waits until Swarm is done updating the service (its update
// state is not updating or rollback_started).
func waitUpdated(t *testing.T, s *testenv.Swarm, service string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		st := s.Docker(t, 1, "service", "inspect", service, "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}")
		if st != "updating" && st != "rollback_started" {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("Swarm was still updating %s after %s", service, within)
}

// TestLabelsSyncOnARealSwarm: static labels are applied and only baton's
// removed; a dependent joins its anchor, and follows it to another node in
// one pass, start-first, never below its running replicas; removing the
// anchors from the spec drops the constraint before the labels, so the
// dependent keeps running; two projects with anchors on one swarm run 10
// alternating passes with no task rejected; a node that dies makes the
// pass exit 3.
func TestLabelsSyncOnARealSwarm(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	s := testenv.StartSwarm(t, 3)
	loadImage(t, s, "baton-test:v1")
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	write := func(static string, anchors bool) {
		y := "project: p1\nswarm:\n  nodes:\n" + static + "  restart_cooldown: 0s\n"
		if anchors {
			y += "  anchors:\n    - {service: app, anchor: db}\n"
		}
		if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("    node2: {labels: {zone: b}}\n    node3: {labels: {tier: edge}}\n", true)
	s.Docker(t, 1, "node", "update", "--label-add", "owner=ops", "node3") // the operator's own label
	s.Docker(t, 1, "service", "create", "--detach", "--name", "db", "--no-resolve-image", "--constraint", "node.hostname==node1", "baton-test:v1")
	s.Docker(t, 1, "service", "create", "--detach", "--name", "app", "--no-resolve-image", "--replicas", "2", "baton-test:v1")
	if !waitTaskOn(t, s, "db", "node1", 30*time.Second) {
		t.Fatal("db did not start on node1")
	}

	out, errOut, code := swarmBaton(t, s, specPath, statePath, "-n", "labels", "sync")
	if code != 0 || !strings.Contains(out, "+zone=b") || !strings.Contains(out, "+baton.anchors.p1.db=true") || !strings.Contains(out, "+constraint node.labels.baton.anchors.p1.db==true") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if l := nodeLabels(t, s, "node2"); l["zone"] != "" {
		t.Fatal("the dry run changed a label")
	}
	if _, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync"); code != 0 {
		t.Fatalf("labels sync: exit %d\n%s", code, errOut)
	}
	if l := nodeLabels(t, s, "node2"); l["zone"] != "b" || l["baton.owned.p1"] != "zone" {
		t.Errorf("node2 labels: %v", l)
	}
	if l := nodeLabels(t, s, "node1"); l["baton.anchors.p1.db"] != "true" {
		t.Errorf("node1 labels: %v", l)
	}
	if !waitTasksOn(t, s, "app", "node1", 2, 60*time.Second) {
		t.Fatalf("app did not join db on node1:\n%s", s.Docker(t, 1, "service", "ps", "app"))
	}
	waitUpdated(t, s, "app", 60*time.Second)

	// The anchor moves: the dependent follows in one pass, start-first.
	s.Docker(t, 1, "service", "update", "--detach", "--constraint-rm", "node.hostname==node1", "--constraint-add", "node.hostname==node3", "db")
	if !waitTaskOn(t, s, "db", "node3", 30*time.Second) {
		t.Fatal("db did not move to node3")
	}
	watch := watchRunning(t, s, "app", 2)
	out, errOut, code = swarmBaton(t, s, specPath, statePath, "labels", "sync")
	if code != 0 || !strings.Contains(out, "+constraint node.hostname!=node1 start-first") {
		t.Fatalf("the follow: exit %d\n%s%s", code, out, errOut)
	}
	if least := watch.least(); least < 2 {
		t.Errorf("app fell to %d running task(s) while it followed db", least)
	}
	if !waitTasksOn(t, s, "app", "node3", 2, 5*time.Second) {
		t.Errorf("app did not follow db to node3 in one pass:\n%s", s.Docker(t, 1, "service", "ps", "app"))
	}
	if l := nodeLabels(t, s, "node1"); l["baton.anchors.p1.db"] != "" {
		t.Errorf("node1 keeps the anchor label after db and app left: %v", l)
	}
	if c := s.Docker(t, 1, "service", "inspect", "app", "--format", "{{json .Spec.TaskTemplate.Placement.Constraints}}"); strings.Contains(c, "node.hostname") {
		t.Errorf("app keeps the leave constraint: %s", c)
	}
	swarmBaton(t, s, specPath, statePath, "labels", "sync") // restores app's update order
	if o := s.Docker(t, 1, "service", "inspect", "app", "--format", "{{.Spec.UpdateConfig.Order}}"); o != "stop-first" {
		t.Errorf("app's update order after the move: %q, want its own stop-first back", o)
	}

	// A static label leaves the spec: baton removes its own, never the operator's.
	write("    node2: {labels: {zone: b}}\n", true)
	if _, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync"); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	l3 := nodeLabels(t, s, "node3")
	if l3["tier"] != "" || l3["owner"] != "ops" || l3["baton.anchors.p1.db"] != "true" {
		t.Errorf("node3 labels: %v (want tier removed, owner kept, the anchor label set)", l3)
	}
	// Converged: the next pass does nothing.
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync"); code != 0 || out != "" {
		t.Errorf("the next pass was not a no-op: exit %d\n%s%s", code, out, errOut)
	}

	// The anchors leave the spec: the dependent loses baton's constraint
	// first, then the label goes; app keeps running where it runs.
	write("    node2: {labels: {zone: b}}\n", false)
	watch = watchRunning(t, s, "app", 2)
	out, errOut, code = swarmBaton(t, s, specPath, statePath, "labels", "sync")
	if least := watch.least(); code != 0 || least < 2 {
		t.Fatalf("removing the anchors: exit %d, app at %d running at least\n%s%s", code, least, out, errOut)
	}
	if !strings.Contains(out, "the spec no longer anchors db") || !strings.Contains(out, "-constraint node.labels.baton.anchors.p1.db==true") {
		t.Errorf("the reasons:\n%s", out)
	}
	if l := nodeLabels(t, s, "node3"); l["baton.anchors.p1.db"] != "" {
		t.Errorf("node3 keeps the label: %v", l)
	}
	if r := rejected(t, s, "app"); len(r) > 0 {
		t.Errorf("app's tasks rejected by a label change: %v", r)
	}

	// Two projects on one swarm, both with anchors and prune_unknown_labels:
	// 10 alternating passes, nothing rejected, both converged.
	s.Docker(t, 1, "service", "create", "--detach", "--name", "cache", "--no-resolve-image", "--constraint", "node.hostname==node2", "baton-test:v1")
	s.Docker(t, 1, "service", "create", "--detach", "--name", "web", "--no-resolve-image", "--replicas", "2", "baton-test:v1")
	if !waitTaskOn(t, s, "cache", "node2", 30*time.Second) {
		t.Fatal("cache did not start on node2")
	}
	p2Spec, p2State := filepath.Join(dir, "p2.yaml"), filepath.Join(dir, "p2.json")
	if err := os.WriteFile(p2Spec, []byte("project: p2\nswarm:\n  nodes:\n    node1: {labels: {rack: r1}}\n  anchors:\n    - {service: web, anchor: cache}\n  prune_unknown_labels: true\n  restart_cooldown: 0s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specPath, []byte("project: p1\nswarm:\n  nodes:\n    node2: {labels: {zone: b}}\n  anchors:\n    - {service: app, anchor: db}\n  prune_unknown_labels: true\n  restart_cooldown: 0s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for pass := 0; pass < 10; pass++ {
		sp, st := specPath, statePath
		if pass%2 == 1 {
			sp, st = p2Spec, p2State
		}
		if out, errOut, code := swarmBaton(t, s, sp, st, "labels", "sync"); code != 0 {
			t.Fatalf("alternating pass %d: exit %d\n%s%s", pass, code, out, errOut)
		}
	}
	for _, svc := range []string{"app", "web", "db", "cache"} {
		if r := rejected(t, s, svc); len(r) > 0 {
			t.Errorf("%s's tasks rejected over the alternating passes: %v", svc, r)
		}
	}
	if !waitTasksOn(t, s, "web", "node2", 2, 30*time.Second) || !waitTasksOn(t, s, "app", "node3", 2, 5*time.Second) {
		t.Errorf("the dependents do not run with their anchors:\n%s\n%s", s.Docker(t, 1, "service", "ps", "web"), s.Docker(t, 1, "service", "ps", "app"))
	}
	l1, l2 := nodeLabels(t, s, "node1"), nodeLabels(t, s, "node2")
	if l1["rack"] != "r1" || l2["zone"] != "b" || l2["baton.anchors.p2.cache"] != "true" || nodeLabels(t, s, "node3")["baton.anchors.p1.db"] != "true" || l3["owner"] != "ops" {
		t.Errorf("labels after the alternating passes: node1 %v, node2 %v", l1, l2)
	}
	for _, sp := range [][2]string{{specPath, statePath}, {p2Spec, p2State}} {
		if out, errOut, code := swarmBaton(t, s, sp[0], sp[1], "labels", "sync"); code != 0 || out != "" {
			t.Errorf("%s not converged: exit %d\n%s%s", sp[0], code, out, errOut)
		}
	}

	// Two managers' passes race on one node: B's update is held at a proxy
	// after B read node2, while A updates node2; Swarm refuses B's stale
	// version, B reads node2 again and applies its change again. Both
	// projects' labels are there, nothing failed.
	p3Spec, p3State := filepath.Join(dir, "p3.yaml"), filepath.Join(dir, "p3.json")
	if err := os.WriteFile(p3Spec, []byte("project: p3\nswarm:\n  nodes:\n    node2: {labels: {row: r7}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specPath, []byte("project: p1\nswarm:\n  nodes:\n    node2: {labels: {zone: c}}\n  anchors:\n    - {service: app, anchor: db}\n  prune_unknown_labels: true\n  restart_cooldown: 0s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := testenv.StartDockerProxyTo(t, s.Host(1))
	atUpdate, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	proxy.Before(func(route string) {
		if route == "POST /nodes/{id}/update" {
			once.Do(func() {
				close(atUpdate)
				<-release
			})
		}
	})
	b := exec.Command(testenv.Baton(t), "--spec", p3Spec, "--state", p3State, "--docker-host", proxy.Host, "labels", "sync")
	var bOut strings.Builder
	b.Stdout, b.Stderr = &bOut, &bOut
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-atUpdate:
	case <-time.After(60 * time.Second):
		t.Fatal("process B never sent its update")
	}
	aOut, aErr, aCode := swarmBaton(t, s, specPath, statePath, "labels", "sync")
	close(release)
	if err := b.Wait(); err != nil || aCode != 0 {
		t.Fatalf("the race: A exit %d %s%s; B %v %s", aCode, aOut, aErr, err, bOut.String())
	}
	if l := nodeLabels(t, s, "node2"); l["zone"] != "c" || l["row"] != "r7" || l["baton.owned.p3"] != "row" || l["baton.anchors.p2.cache"] != "true" {
		t.Errorf("node2 after two managers raced (A's zone, B's row, p2's anchor): %v", l)
	}

	// A node dies: the pass still completes, reports the node and exits 3.
	s.KillNode(t, 2)
	write("    node1: {labels: {zone: c}}\n    node3: {labels: {tier: core}}\n", true)
	out, errOut, code = swarmBaton(t, s, specPath, statePath, "labels", "sync")
	if code != 3 || !strings.Contains(out, "node node2 is down: skipped") || !strings.Contains(errOut, "swarm: node node2 is down: skipped; the rest of the pass was done") {
		t.Errorf("with node2 down: exit %d, want 3 naming the node\n%s%s", code, out, errOut)
	}
	if l := nodeLabels(t, s, "node3"); l["tier"] != "core" {
		t.Errorf("the live nodes were not synced: node3 %v", l)
	}
}
