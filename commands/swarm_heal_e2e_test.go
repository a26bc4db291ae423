package commands_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// TestSwarmHealReplacesAFailingTask: one of three tasks behind nginx
// starts answering 500 on its check; heal takes it out of the balancer,
// and at the threshold replaces it through Swarm start-first (one more
// task, which answers, then the failing one stops at its node's engine
// and the count goes back) while the others keep serving: a GET loop with
// Connection: close clients sees no failed request.
func TestSwarmHealReplacesAFailingTask(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	s := testenv.StartSwarm(t, 3)
	loadImage(t, s, "baton-test:v1")
	ngx := testenv.StartNginx(t)
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	nodes := ""
	for k := 1; k <= s.Nodes; k++ {
		nodes += fmt.Sprintf("    node%d: {docker: %q}\n", k, s.Host(k))
	}
	y := fmt.Sprintf(`project: hl
nginx:
  config: %s
  test: %s
  reload: %s
  listen: %s
apps:
  - name: web
    engine: swarm
    image: baton-test:v1
    port: 8080
    replicas: 3
    stop_grace: 2s
    drain: 1s
    lb: {path: /}
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 60s, failure_threshold: 2, stable_after: 1s}
swarm:
  nodes:
%s`, ngx.Conf(), jsonArgv(ngx.Test()), jsonArgv(ngx.Reload()), ngx.Listen, nodes)
	if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 {
		t.Fatalf("scale: exit %d\n%s%s", code, out, errOut)
	}
	urls := taskURLs(t, s, "hl-web")
	if len(urls) != 3 {
		t.Fatalf("tasks: %v", urls)
	}
	sick := urls[0]
	sickID := containerAt(t, s, sick)
	if got := getBody(t, sick+"/control/health?status=500"); !strings.Contains(got, "500") {
		t.Fatalf("turning a task unhealthy: %q", got)
	}

	stop := make(chan struct{})
	done := make(chan [3]any)
	go func() {
		total, failed, first := loadLoop("http://"+ngx.Listen+"/", 50000, stop)
		done <- [3]any{total, failed, first}
	}()
	out, errOut, code := swarmBaton(t, s, specPath, statePath, "heal")
	if code != 0 || !strings.Contains(out, "unhealthy") || strings.Contains(out, "replace task") {
		t.Errorf("heal, first failure: exit %d\n%s%s", code, out, errOut)
	}
	for _, u := range upstreams(t, ngx) {
		if "http://"+u == sick {
			t.Errorf("the failing task is still routed after heal saw it fail: %v", upstreams(t, ngx))
		}
	}
	out, errOut, code = swarmBaton(t, s, specPath, statePath, "heal")
	if code != 0 || !strings.Contains(out, "replace task") {
		t.Errorf("heal at the threshold: exit %d\n%s%s", code, out, errOut)
	}
	time.Sleep(2 * time.Second) // the loop keeps going a moment after
	close(stop)
	r := <-done
	t.Logf("%d requests through nginx while heal replaced the task, %d failed\n%s", r[0], r[1], out)
	if r[0].(int) < 100 || r[1].(int) > 0 {
		t.Errorf("%d of %d requests failed (first: %v)", r[1], r[0], r[2])
	}
	if n := s.Docker(t, 1, "service", "inspect", "hl-web", "--format", "{{.Spec.Mode.Replicated.Replicas}}"); n != "3" {
		t.Errorf("the service's count after the replacement: %s, want 3", n)
	}
	after := taskURLs(t, s, "hl-web")
	for deadline := time.Now().Add(30 * time.Second); len(after) != 3 && time.Now().Before(deadline); after = taskURLs(t, s, "hl-web") {
		time.Sleep(250 * time.Millisecond)
	}
	if len(after) != 3 {
		t.Fatalf("tasks after: %v", after)
	}
	for _, u := range after {
		if containerAt(t, s, u) == sickID {
			t.Errorf("the failing task still runs: %v", after)
		}
	}
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "heal"); code != 0 || strings.Contains(out, "replace") {
		t.Errorf("the pass after: exit %d\n%s%s", code, out, errOut)
	}
}

// containerAt is the ID of the container that publishes a task URL.
func containerAt(t *testing.T, s *testenv.Swarm, url string) string {
	t.Helper()
	for k := 1; k <= s.Nodes; k++ {
		if !strings.Contains(url, "//"+s.Addr(k)+":") {
			continue
		}
		port := url[strings.LastIndex(url, ":")+1:]
		out, err := dockerOn(s, k, "ps", "--format", "{{.ID}} {{.Ports}}")
		if err != nil {
			return ""
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, ":"+port+"->") {
				return strings.Fields(line)[0]
			}
		}
	}
	return ""
}
