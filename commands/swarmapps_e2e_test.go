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
		b, _ := os.ReadFile(ngx.Conf())
		e, _ := os.ReadFile(filepath.Join(ngx.Dir, "logs", "error.log"))
		ps, _ := exec.Command("sh", "-c", "ps aux | grep nginx | grep -v grep").CombinedOutput()
		t.Fatalf("GET through nginx: %v\nthe config:\n%s\nnginx's error log:\n%s\nnginx processes:\n%s", err, b, e, ps)
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
		// The first pass reports the incident; the others only exit 3
		// unless asked (--verbose).
		out, errOut, code := swarmBaton(t, s, specA, stateA, append([]string{"--verbose"}, cmd...)...)
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
