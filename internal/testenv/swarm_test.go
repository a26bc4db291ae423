package testenv

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSwarmHarness brings up the 3-node swarm, checks it is one swarm of
// three distinct Ready engines whose host-mode published ports the host
// reaches, tears it down and checks that nothing is left behind.
func TestSwarmHarness(t *testing.T) {
	Docker(t)
	Image(t, "baton-test:v1")
	s := StartSwarm(t, 3)
	// The time is a figure for docs/BENCHMARKS.md, not an assertion; the
	// harness's own waits are bounded.
	t.Logf("3-node swarm up in %s", s.Up.Round(10*time.Millisecond))
	nodes := strings.Fields(s.Docker(t, 1, "node", "ls", "--format", "{{.Hostname}}:{{.Status}}"))
	if len(nodes) != 3 {
		t.Fatalf("nodes: %v", nodes)
	}
	ids := map[string]bool{}
	for k := 1; k <= 3; k++ {
		ids[s.Docker(t, k, "info", "--format", "{{.ID}}")] = true
	}
	if len(ids) != 3 {
		t.Errorf("the nodes share an engine ID: %v", ids)
	}
	// An image, loaded on every node (no registry), and a global service
	// published in host mode.
	img, err := exec.Command("docker", "save", "baton-test:v1").Output()
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 3; k++ {
		load := exec.Command("docker", "-H", s.Host(k), "load")
		load.Stdin = strings.NewReader(string(img))
		if out, err := load.CombinedOutput(); err != nil {
			t.Fatalf("load on node%d: %v %s", k, err, out)
		}
	}
	s.Docker(t, 1, "service", "create", "--detach", "--name", "probe", "--mode", "global", "--no-resolve-image",
		"--publish", "mode=host,target=8080,published=18500", "baton-test:v1")
	for k := 1; k <= 3; k++ {
		url := "http://" + s.Addr(k) + ":18500/"
		var body string
		for i := 0; i < 150; i++ {
			if resp, err := http.Get(url); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(body, "hello from") {
			t.Errorf("node%d's published port does not answer: %q", k, body)
		}
	}
	StopSwarm(t, s)
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "baton-sw-") {
		t.Errorf("network namespaces left: %s", out)
	}
	if out, _ := exec.Command("ip", "link", "show", "baton-sw-host").CombinedOutput(); !strings.Contains(string(out), "does not exist") {
		t.Errorf("host link left: %s", out)
	}
	if out, _ := exec.Command("pgrep", "-f", "dockerd --config-file "+s.Dir).Output(); len(out) > 0 {
		t.Errorf("node processes left: %s", out)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("%s left", s.Dir)
	}
}
