package commands_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// TestSwarmAppAutoscalesOnCPUAndMemory: on a real 3-node swarm, a swarm
// app's tasks are read at their nodes' own engines (swarm.nodes.<host>.
// docker). Requests that burn CPU scale the service up on cpu, and it
// comes back to 1 after the load; requests that make the tasks hold
// memory scale it up on memory, and the idle CPU brings it back. Without
// node endpoints, validate refuses the policy and says what to add.
func TestSwarmAppAutoscalesOnCPUAndMemory(t *testing.T) {
	testenv.Docker(t)
	img := loadTestImage(t)
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	ngx := testenv.StartNginx(t)
	q := func(argv []string) string {
		b, _ := json.Marshal(argv)
		return string(b)
	}
	write := func(nodes string) {
		y := fmt.Sprintf(`project: swas
nginx: {config: %s, test: %s, reload: %s, listen: %q}
apps:
  - name: web
    engine: swarm
    image: %s
    port: 8080
    replicas: 1
    stop_grace: 2s
    lb: {path: /}
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 40s}
    resources: {cpu: 100m, memory: 64m}
    autoscale: {min: 1, max: 3, targets: {cpu: 50%%, memory: 30%%}, scale_down: {stabilization: 6s}}
%s`, ngx.Conf(), q(ngx.Test()), q(ngx.Reload()), ngx.Listen, img, nodes)
		if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Without endpoints: refused before anything runs, with the hint.
	write("")
	out, errOut, code := testenv.Run(t, dir, testenv.Baton(t), "--spec", specPath, "validate")
	if code != 1 || !strings.Contains(out+errOut, "cpu and memory of a swarm app's tasks are read at each task's node") ||
		!strings.Contains(out+errOut, "swarm.nodes.<hostname>.docker") {
		t.Fatalf("validate without node endpoints: exit %d\n%s%s", code, out, errOut)
	}

	s := testenv.StartSwarm(t, 3)
	loadImage(t, s, img)
	nodes := "swarm:\n  nodes:\n"
	for k := 1; k <= s.Nodes; k++ {
		nodes += fmt.Sprintf("    node%d: {docker: %q}\n", k, s.Host(k))
	}
	write(nodes)
	replicas := func() int {
		n, err := strconv.Atoi(strings.TrimSpace(s.Docker(t, 1, "service", "inspect", "swas-web", "--format", "{{.Spec.Mode.Replicated.Replicas}}")))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	pass := func() (string, string, int) {
		out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale", "--explain") // a dry run
		if code != 0 {
			t.Fatalf("scale --explain: exit %d\n%s%s", code, out, errOut)
		}
		o, e, c := swarmBaton(t, s, specPath, statePath, "-o", "json", "scale")
		if c != 0 {
			t.Fatalf("scale: exit %d\n%s%s", c, o, e)
		}
		for _, msg := range []string{errOut, e} {
			if strings.Contains(msg, "usage unreadable") || strings.Contains(msg, "no docker endpoint") {
				t.Errorf("a node's usage was not read:\n%s", msg)
			}
		}
		return out, autoscaleReason(t, o), replicas()
	}
	pass() // creates the service with 1 task
	// Only the nodes the app's tasks run on are read: the others need no
	// endpoint, and no warning names them.
	host := taskNode(t, s, "swas-web")
	write(fmt.Sprintf("swarm:\n  nodes:\n    %s: {docker: %q}\n", host, s.Host(int(host[len(host)-1]-'0'))))
	if _, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 || errOut != "" {
		t.Errorf("with an endpoint only for the task's node (%s): exit %d\n%s", host, code, errOut)
	}
	write(nodes)
	pass() // the first CPU counters, read at the task's node
	if out, _, _ := pass(); !strings.Contains(out, "cpu ") || strings.Contains(out, "missing") {
		t.Fatalf("an idle swarm app's cpu and memory are not read:\n%s", out)
	}

	start := time.Now()
	l := startLoader("http://"+ngx.Listen+"/load/cpu?ms=300", 4, 0, 60*time.Second, 3000)
	r := scaleUnderLoad(t, l, pass, 2, 10, 12)
	r.check(t, "cpu", []string{`(?m)^\s+cpu\s+[0-9.]+\s+0\.5\s+[0-9.]+\s+[2-9]`}, []string{`(?m)^\s+cpu\s+0(\.0[0-9]*)?\s+0\.5\s`})

	l = startLoader("http://"+ngx.Listen+"/load/memory?mb=24&for=3s", 1, 100*time.Millisecond, 60*time.Second, 600)
	r = scaleUnderLoad(t, l, pass, 2, 10, 12)
	r.check(t, "memory", []string{`(?m)^\s+memory\s+0\.[3-9][0-9]*\s+0\.3\s`}, []string{`(?m)^\s+memory\s+0\.[0-2][0-9]*\s+0\.3\s`})
	t.Logf("both phases in %s", time.Since(start).Round(time.Second))
}
