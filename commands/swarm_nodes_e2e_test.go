package commands_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// tasksByNode counts a service's running tasks per node.
func tasksByNode(t *testing.T, s *testenv.Swarm, service string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, line := range strings.Split(s.Docker(t, 1, "service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}"), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "Running" {
			out[f[0]]++
		}
	}
	return out
}

// whoAnswers GETs / from every task of the service at its node's address
// and published port, and returns the answers, sorted.
func whoAnswers(t *testing.T, s *testenv.Swarm, service string) []string {
	t.Helper()
	var out []string
	client := &http.Client{Timeout: 3 * time.Second}
	for k := 1; k <= s.Nodes; k++ {
		ports, err := dockerOn(s, k, "ps", "--filter", "label=com.docker.swarm.service.name="+service, "--format", "{{.Ports}}")
		if err != nil {
			continue // a dead node
		}
		seen := map[string]bool{}
		for _, p := range strings.Fields(ports) {
			// 0.0.0.0:30001->8080/tcp, :::30001->8080/tcp
			host, _, ok := strings.Cut(p, "->")
			port := host[strings.LastIndex(host, ":")+1:]
			if !ok || seen[port] {
				continue
			}
			seen[port] = true
			resp, err := client.Get("http://" + s.Addr(k) + ":" + port + "/")
			if err != nil {
				t.Fatalf("GET the task on node%d: %v", k, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out = append(out, strings.TrimSpace(string(b)))
		}
	}
	sort.Strings(out)
	return out
}

// TestSwarmPlacementAndNodes: a swarm app's placement constraints and cap
// per node hold on a 3-node swarm; a node the spec drains gets no new task
// even where the constraints allow one; each task answers with its own
// BATON_REPLICA (its slot); roles follow the spec, and a demotion that
// would break the managers' quorum is refused with the counts (exit 3).
func TestSwarmPlacementAndNodes(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	s := testenv.StartSwarm(t, 3)
	loadImage(t, s, "baton-test:v1")
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	write := func(nodes string, replicas int) {
		y := fmt.Sprintf(`project: pl
apps:
  - name: web
    engine: swarm
    image: baton-test:v1
    port: 8080
    replicas: %d
    stop_grace: 2s
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 60s}
    placement:
      constraints: ["node.labels.zone==b"]
      max_replicas_per_node: 2
swarm:
  nodes:
%s`, replicas, nodes)
		if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nodes := "    node1: {labels: {zone: a}}\n    node2: {labels: {zone: b}}\n    node3: {labels: {zone: b}, availability: %s}\n"
	write(fmt.Sprintf(nodes, "drain"), 2)
	out, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync")
	if code != 0 || !strings.Contains(out, "availability=drain") {
		t.Fatalf("labels sync: exit %d\n%s%s", code, out, errOut)
	}
	if a := s.Docker(t, 1, "node", "inspect", "node3", "--format", "{{.Spec.Availability}}"); a != "drain" {
		t.Fatalf("node3 is %q", a)
	}
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 {
		t.Fatalf("scale: exit %d\n%s%s", code, out, errOut)
	}
	if got := tasksByNode(t, s, "pl-web"); fmt.Sprint(got) != "map[node2:2]" {
		t.Errorf("with node3 drained and node1 in zone a, both tasks run on node2: %v", got)
	}
	if got := whoAnswers(t, s, "pl-web"); strings.Join(got, "; ") != "hello from web-1 (v1); hello from web-2 (v1)" {
		t.Errorf("the tasks answer %q, want web-1 and web-2 (BATON_REPLICA is the slot)", got)
	}

	// node3 active again, 4 replicas: two per node in zone b, none on node1.
	write(fmt.Sprintf(nodes, "active"), 4)
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync"); code != 0 {
		t.Fatalf("labels sync: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 {
		t.Fatalf("scale to 4: exit %d\n%s%s", code, out, errOut)
	}
	if got := tasksByNode(t, s, "pl-web"); fmt.Sprint(got) != "map[node2:2 node3:2]" {
		t.Errorf("4 tasks under the zone constraint and max 2 per node: %v", got)
	}
	// The placement is the spec's: a constraint typed on the service by
	// hand is replaced, without restarting a task that still matches.
	s.Docker(t, 1, "service", "update", "--detach", "--constraint-add", "node.role!=nobody", "pl-web")
	waitUpdated(t, s, "pl-web", 60*time.Second)
	before := s.Docker(t, 1, "service", "ps", "pl-web", "-q")
	out, errOut, code = swarmBaton(t, s, specPath, statePath, "scale")
	if code != 0 || !strings.Contains(out, "place service") {
		t.Fatalf("scale after a hand edit: exit %d\n%s%s", code, out, errOut)
	}
	if c := s.Docker(t, 1, "service", "inspect", "pl-web", "--format", "{{json .Spec.TaskTemplate.Placement.Constraints}}"); c != `["node.labels.zone==b"]` {
		t.Errorf("constraints after the pass: %s", c)
	}
	if after := s.Docker(t, 1, "service", "ps", "pl-web", "-q"); after != before {
		t.Errorf("a placement-only change restarted tasks:\n%s\n%s", before, after)
	}

	// Roles: node2 and node3 become managers; with node3 dead, demoting
	// node2 would leave 1 of 2 managers reachable: refused.
	write("    node2: {role: manager}\n    node3: {role: manager}\n", 4)
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "labels", "sync"); code != 0 {
		t.Fatalf("promotions: exit %d\n%s%s", code, out, errOut)
	}
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(s.Docker(t, 1, "node", "ls", "--format", "{{.ManagerStatus}}"), "Reachable")+strings.Count(s.Docker(t, 1, "node", "ls", "--format", "{{.ManagerStatus}}"), "Leader") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the managers did not become reachable:\n%s", s.Docker(t, 1, "node", "ls"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.KillNode(t, 3)
	write("    node2: {role: worker}\n", 4)
	out, errOut, code = swarmBaton(t, s, specPath, statePath, "labels", "sync")
	if code != 3 || !strings.Contains(errOut, "refusing to demote node2: 1 of the 2 manager(s) left would be reachable, a quorum needs 2") {
		t.Errorf("the quorum guard: exit %d\n%s%s", code, out, errOut)
	}
	if r := s.Docker(t, 1, "node", "inspect", "node2", "--format", "{{.Spec.Role}}"); r != "manager" {
		t.Errorf("node2 is %q, want still a manager", r)
	}
}

// dockerOn runs the docker CLI against node k and returns its output, or
// the error (a dead node).
func dockerOn(s *testenv.Swarm, k int, args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"-H", s.Host(k)}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

// taskURLs are the http://addr:port of the service's tasks, at their
// node's address and published port.
func taskURLs(t *testing.T, s *testenv.Swarm, service string) []string {
	t.Helper()
	var out []string
	for k := 1; k <= s.Nodes; k++ {
		ports, err := dockerOn(s, k, "ps", "--filter", "label=com.docker.swarm.service.name="+service, "--format", "{{.Ports}}")
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		for _, p := range strings.Fields(ports) {
			host, _, ok := strings.Cut(p, "->")
			port := host[strings.LastIndex(host, ":")+1:]
			if ok && !seen[port] {
				seen[port] = true
				out = append(out, "http://"+s.Addr(k)+":"+port)
			}
		}
	}
	return out
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// TestSwarmNetworksSecretsConfigs: two swarm apps on an overlay network
// baton made reach each other by name across nodes; one mounts a secret,
// the other a config, both made from files; a changed secret file rolls
// only the app that mounts it, which then reads the new content, and the
// old version is removed.
func TestSwarmNetworksSecretsConfigs(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	s := testenv.StartSwarm(t, 3)
	loadImage(t, s, "baton-test:v1")
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	token, conf := filepath.Join(dir, "token"), filepath.Join(dir, "app.conf")
	if err := os.WriteFile(token, []byte("secret one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("config one"), 0o644); err != nil {
		t.Fatal(err)
	}
	y := `project: st
networks: {backend: {}}
secrets: {token: {file: token}}
configs: {conf: {file: app.conf}}
apps:
  - name: web
    engine: swarm
    image: baton-test:v1
    port: 8080
    env: {DATA_FILE: /run/secrets/token}
    networks: [backend]
    secrets: [token]
    placement: {constraints: ["node.hostname==node1"]}
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 60s}
  - name: api
    engine: swarm
    image: baton-test:v1
    port: 8080
    replicas: 2
    env: {DATA_FILE: /etc/app.conf}
    networks: [backend]
    configs: ["conf:/etc/app.conf"]
    placement: {constraints: ["node.hostname!=node1"]}
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 60s}
`
	if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 {
		t.Fatalf("scale: exit %d\n%s%s", code, out, errOut)
	}
	if d := s.Docker(t, 1, "network", "inspect", "st_backend", "--format", "{{.Driver}} {{.Scope}} {{index .Labels \"baton.project\"}}"); d != "overlay swarm st" {
		t.Errorf("the network: %q", d)
	}
	web := taskURLs(t, s, "st-web")
	if len(web) != 1 {
		t.Fatalf("web's tasks: %v", web)
	}
	if got := getBody(t, web[0]+"/data/read"); got != "secret one" {
		t.Errorf("web reads its secret: %q", got)
	}
	// Across nodes, by name, on the overlay: web (node1) asks api (node2,
	// node3; the name resolves to both tasks).
	if got := getBody(t, web[0]+"/fetch?url=http://api:8080/"); !strings.HasPrefix(got, "hello from api-") {
		t.Errorf("web reaches api by name across nodes: %q", got)
	}
	if got := getBody(t, web[0]+"/fetch?url=http://api:8080/data/read"); got != "config one" {
		t.Errorf("api reads its config: %q", got)
	}
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 || out != "" {
		t.Errorf("the next pass: exit %d\n%s%s", code, out, errOut)
	}

	// Rotation: a new secret, web rolls to it, api is left alone, the old
	// version goes.
	oldSecret := s.Docker(t, 1, "secret", "ls", "--format", "{{.Name}}")
	apiTasks := s.Docker(t, 1, "service", "ps", "st-api", "-q")
	if err := os.WriteFile(token, []byte("secret two"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale")
	if code != 0 || !strings.Contains(out, "roll service") || !strings.Contains(out, "remove swarm file   secret st-token-") {
		t.Fatalf("rotation: exit %d\n%s%s", code, out, errOut)
	}
	// The old task's container stops within its stop grace.
	urls := taskURLs(t, s, "st-web")
	for deadline := time.Now().Add(60 * time.Second); len(urls) != 1 && time.Now().Before(deadline); urls = taskURLs(t, s, "st-web") {
		time.Sleep(250 * time.Millisecond)
	}
	if got := getBody(t, urls[0]+"/data/read"); len(urls) != 1 || got != "secret two" {
		t.Errorf("web after the rotation reads %q", got)
	}
	if now := s.Docker(t, 1, "secret", "ls", "--format", "{{.Name}}"); strings.Contains(now, oldSecret) || !strings.HasPrefix(now, "st-token-") {
		t.Errorf("secrets after the rotation: %q (the old %q must be gone)", now, oldSecret)
	}
	if after := s.Docker(t, 1, "service", "ps", "st-api", "-q"); after != apiTasks {
		t.Errorf("api, which does not mount the secret, was rolled")
	}
}

// TestSwarmJoinBringsAMissingNodeIn: node3 leaves the swarm (its entry
// stays, down); baton swarm join, given node3's engine and address, joins
// it back as the manager the spec says it is and removes the down entry;
// the next pass is a no-op, and a dry run changed nothing.
func TestSwarmJoinBringsAMissingNodeIn(t *testing.T) {
	testenv.Docker(t)
	s := testenv.StartSwarm(t, 3)
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	y := fmt.Sprintf("swarm:\n  nodes:\n    node3: {docker: %q, advertise_addr: %s, role: manager}\n", s.Host(3), s.Addr(3))
	if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "swarm", "join"); code != 0 || out != "" {
		t.Fatalf("with every node in: exit %d\n%s%s", code, out, errOut)
	}
	s.Docker(t, 3, "swarm", "leave", "--force")
	deadline := time.Now().Add(60 * time.Second)
	for s.Docker(t, 1, "node", "inspect", "node3", "--format", "{{.Status.State}}") != "down" {
		if time.Now().After(deadline) {
			t.Fatal("node3 was not reported down after it left")
		}
		time.Sleep(250 * time.Millisecond)
	}
	out, errOut, code := swarmBaton(t, s, specPath, statePath, "-n", "swarm", "join")
	if code != 0 || !strings.Contains(out, "join it as a manager, then remove the 1 down entr(ies)") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if st, _ := dockerOn(s, 3, "info", "--format", "{{.Swarm.LocalNodeState}}"); st != "inactive" {
		t.Fatalf("the dry run joined node3: %s", st)
	}
	out, errOut, code = swarmBaton(t, s, specPath, statePath, "swarm", "join")
	if code != 0 {
		t.Fatalf("swarm join: exit %d\n%s%s", code, out, errOut)
	}
	ls := s.Docker(t, 1, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}")
	if strings.Count(ls, "node3") != 1 || !strings.Contains(ls, "node3 Ready Reachable") {
		t.Errorf("node3 after the join (one entry, ready, a reachable manager):\n%s", ls)
	}
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "swarm", "join"); code != 0 || out != "" {
		t.Errorf("the next pass: exit %d\n%s%s", code, out, errOut)
	}
}
