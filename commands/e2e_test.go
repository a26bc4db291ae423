package commands_test

// End-to-end tests: the built baton binary against a real dockerd and a
// real nginx. Each test uses its own project label, so tests never see
// each other's containers, and removes its containers when it ends.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
	"github.com/baton-orchestrator/baton/state"
)

type e2e struct {
	t       *testing.T
	dir     string
	spec    string
	state   string
	project string
	nginx   *testenv.Nginx
	bin     string
	host    string // --docker-host; empty means the default
	// Overrides for writeSpec: the nginx test argv and template path.
	testArgv   []string
	template   string
	health     string // the web app's health mapping, YAML flow style
	nginxExtra string // more lines for the nginx section
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	testenv.Image(t, "baton-test:v2")
	e := &e2e{
		t:       t,
		dir:     t.TempDir(),
		project: e2eProject(t.Name()),
		nginx:   testenv.StartNginx(t),
		bin:     testenv.Baton(t),
	}
	e.spec = filepath.Join(e.dir, "baton.yaml")
	e.state = filepath.Join(e.dir, "state.json")
	t.Cleanup(e.removeContainers)
	return e
}

// e2eProject names a test's project: its name, cut to fit, and a digest of
// the full name and this test process, so two checkouts running the same
// test against one dockerd never share containers.
func e2eProject(name string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", name, os.Getpid())))
	p := "e2e-" + strings.ToLower(strings.ReplaceAll(name, "/", "-"))
	if len(p) > 32 {
		p = p[:32]
	}
	p = strings.TrimRight(strings.ReplaceAll(p, "_", "-"), "-")
	return p + "-" + hex.EncodeToString(sum[:3])
}

func (e *e2e) removeContainers() {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=baton.project="+e.project).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
}

// writeSpec writes a one-app spec; extra is appended to the app.
func (e *e2e) writeSpec(replicas int, image, extra string) {
	e.t.Helper()
	q := func(argv []string) string {
		b, _ := json.Marshal(argv)
		return string(b)
	}
	test := e.nginx.Test()
	if e.testArgv != nil {
		test = e.testArgv
	}
	health := "{type: http, path: /healthz, timeout: 1s, ready_timeout: 20s}"
	if e.health != "" {
		health = e.health
	}
	tmpl := ""
	if e.template != "" {
		tmpl = "  template: " + e.template + "\n"
	}
	s := fmt.Sprintf(`project: %s
nginx:
%s  config: %s
  test: %s
  reload: %s
  listen: %s
%sapps:
  - name: web
    image: %s
    pull: never
    port: 8080
    replicas: %d
    stop_grace: 2s
    drain: 200ms
    lb: {path: /}
    health: %s
%s`, e.project, tmpl, e.nginx.Conf(), q(test), q(e.nginx.Reload()), e.nginx.Listen, e.nginxExtra, image, replicas, health, extra)
	if err := os.WriteFile(e.spec, []byte(s), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *e2e) baton(args ...string) (string, string, int) {
	e.t.Helper()
	argv := []string{e.bin, "--spec", e.spec, "--state", e.state}
	if e.host != "" {
		argv = append(argv, "--docker-host", e.host)
	}
	return testenv.Run(e.t, e.dir, append(argv, args...)...)
}

// mustBaton runs baton and fails the test unless it exits with code.
func (e *e2e) mustBaton(code int, args ...string) string {
	e.t.Helper()
	out, errOut, got := e.baton(args...)
	if got != code {
		e.t.Fatalf("baton %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, got, code, out, errOut)
	}
	return out
}

// running returns the images of the project's running containers.
func (e *e2e) running() []string {
	e.t.Helper()
	out, err := exec.Command("docker", "ps", "--filter", "label=baton.project="+e.project, "--format", "{{.Image}}").Output()
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Fields(string(out))
}

func (e *e2e) all() int {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=baton.project="+e.project).Output()
	return len(strings.Fields(string(out)))
}

// responders GETs n times through nginx and returns the distinct bodies.
func (e *e2e) responders(n int) map[string]int {
	e.t.Helper()
	seen := map[string]int{}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < n; i++ {
		resp, err := client.Get("http://" + e.nginx.Listen + "/")
		if err != nil {
			e.t.Fatalf("GET through nginx: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			e.t.Fatalf("GET through nginx: %d %s", resp.StatusCode, b)
		}
		seen[strings.TrimSpace(string(b))]++
	}
	return seen
}

func TestScaleConvergesInOnePassAndThenDoesNothing(t *testing.T) {
	e := newE2E(t)
	for _, step := range []struct {
		replicas int
		image    string
	}{{3, "baton-test:v1"}, {1, "baton-test:v1"}, {4, "baton-test:v1"}, {4, "baton-test:v2"}} {
		e.writeSpec(step.replicas, step.image, "")
		e.mustBaton(0, "scale")
		imgs := e.running()
		if len(imgs) != step.replicas {
			t.Fatalf("after scale to %d: %d running", step.replicas, len(imgs))
		}
		for _, img := range imgs {
			if img != step.image {
				t.Fatalf("after rollout to %s: a replica runs %s", step.image, img)
			}
		}
		if n := e.all(); n != step.replicas {
			t.Fatalf("scale left %d containers in all, want %d", n, step.replicas)
		}
		// Every replica is behind nginx, with the right version.
		seen := e.responders(step.replicas * 3)
		if len(seen) != step.replicas {
			t.Errorf("nginx routes to %d replicas, want %d: %v", len(seen), step.replicas, seen)
		}
		version := step.image[strings.LastIndex(step.image, ":")+1:]
		for body := range seen {
			if !strings.HasSuffix(body, "("+version+")") {
				t.Errorf("reply %q is not from %s", body, version)
			}
		}
		// The next pass is a no-op: exit 0, no output.
		if out := e.mustBaton(0, "scale"); out != "" {
			t.Errorf("second pass printed:\n%s", out)
		}
		if out := e.mustBaton(0, "lb", "render"); out != "" {
			t.Errorf("lb render after scale printed:\n%s", out)
		}
	}
	var st map[string]any
	b, _ := os.ReadFile(e.state)
	if err := json.Unmarshal(b, &st); err != nil || st["version"] != float64(1) {
		t.Errorf("state file: %v %s", err, b)
	}
}

func TestDryRunPrintsExactlyWhatTheRealPassDoes(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(2, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	e.writeSpec(3, "baton-test:v2", "")
	type row struct{ App, Action, Target, Reason string }
	type report struct{ Actions []row }
	parse := func(s string) []row {
		var r report
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
		return r.Actions
	}
	before, _ := os.ReadFile(e.state)
	dry := parse(e.mustBaton(0, "--dry-run", "-o", "json", "scale"))
	after, _ := os.ReadFile(e.state)
	if imgs := e.running(); len(imgs) != 2 || imgs[0] != "baton-test:v1" || !bytes.Equal(before, after) {
		t.Fatalf("dry run changed something: %v", imgs)
	}
	if len(dry) != 3 {
		t.Fatalf("dry run planned %d actions, want 3 (1 start, 2 replaces): %+v", len(dry), dry)
	}
	real := parse(e.mustBaton(0, "-o", "json", "scale"))
	if fmt.Sprint(dry) != fmt.Sprint(real) {
		t.Errorf("dry run:\n%+v\nreal pass:\n%+v", dry, real)
	}
}

func TestConcurrentScaleRunsEndExact(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(3, "baton-test:v1", "")
	var wg sync.WaitGroup
	codes := make([]int, 20)
	errs := make([]string, 20)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			timeout := "3m"
			if i%2 == 1 {
				timeout = "0s" // these may find the lock held and exit 75
			}
			_, errs[i], codes[i] = e.baton("--lock-timeout", timeout, "scale")
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 && c != 75 {
			t.Errorf("run %d: exit %d: %s", i, c, errs[i])
		}
		if c == 75 && !strings.Contains(errs[i], e.state+".lock") {
			t.Errorf("run %d: exit 75 without naming the lock file: %s", i, errs[i])
		}
		if i%2 == 0 && c != 0 {
			t.Errorf("run %d waited for the lock but exited %d", i, c)
		}
	}
	if n := len(e.running()); n != 3 {
		t.Errorf("%d running after 20 concurrent passes, want 3", n)
	}
	if n := e.all(); n != 3 {
		t.Errorf("%d containers in all, want 3", n)
	}
	b, err := os.ReadFile(e.state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.Decode(e.state, b); err != nil {
		t.Errorf("state file invalid after concurrent runs: %v", err)
	}
	if out := e.mustBaton(0, "scale"); out != "" {
		t.Errorf("pass after the concurrent runs was not a no-op:\n%s", out)
	}
}

func TestBrokenTemplateKeepsConfigAndNginxServing(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(2, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	good, err := os.ReadFile(e.nginx.Conf())
	if err != nil {
		t.Fatal(err)
	}
	// A template that renders invalid nginx syntax.
	tmpl := filepath.Join(e.dir, "broken.tmpl")
	if err := os.WriteFile(tmpl, []byte("upstream broken {\n{{range .Upstreams}}# {{.Name}}\n{{end}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.template = tmpl
	e.writeSpec(2, "baton-test:v1", "")
	_, errOut, code := e.baton("lb", "render")
	if code != 1 || !strings.Contains(errOut, "[emerg]") {
		t.Errorf("want exit 1 with nginx's [emerg] message, got %d:\n%s", code, errOut)
	}
	if now, _ := os.ReadFile(e.nginx.Conf()); !bytes.Equal(now, good) {
		t.Errorf("config changed:\n%s", now)
	}
	if seen := e.responders(4); len(seen) != 2 {
		t.Errorf("nginx no longer serves both replicas: %v", seen)
	}
	// A failing test command during a scale-out: same guarantees, and the
	// running replicas keep serving.
	e.template = ""
	e.testArgv = []string{"false"}
	e.writeSpec(3, "baton-test:v1", "")
	_, errOut, code = e.baton("scale")
	if code != 1 || !strings.Contains(errOut, `test command "false" failed`) {
		t.Errorf("want exit 1 naming the test command, got %d:\n%s", code, errOut)
	}
	if now, _ := os.ReadFile(e.nginx.Conf()); !bytes.Equal(now, good) {
		t.Errorf("config changed by a pass whose test failed:\n%s", now)
	}
	if seen := e.responders(4); len(seen) != 2 {
		t.Errorf("nginx no longer serves the old replicas: %v", seen)
	}
}

func TestOneListCallPerPass(t *testing.T) {
	e := newE2E(t)
	proxy := testenv.StartDockerProxy(t)
	e.host = proxy.Host
	e.writeSpec(12, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	proxy.Calls()
	for _, cmd := range [][]string{{"lb", "render"}, {"scale"}, {"status"}} {
		e.mustBaton(0, cmd...)
		calls := proxy.Calls()
		delete(calls, "GET /_ping")
		delete(calls, "HEAD /_ping")
		if len(calls) != 1 || calls["GET /containers/json"] != 1 {
			t.Errorf("%v at 12 containers made %v, want exactly one GET /containers/json", cmd, calls)
		}
	}
}

func TestUnreachableDaemonChangesNothing(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(1, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	st, _ := os.ReadFile(e.state)
	conf, _ := os.ReadFile(e.nginx.Conf())
	e.host = "unix://" + filepath.Join(e.dir, "no-such-docker.sock")
	for _, cmd := range [][]string{{"scale"}, {"heal"}, {"lb", "render"}, {"status"}} {
		_, errOut, code := e.baton(cmd...)
		if code != 1 || !strings.Contains(errOut, "no-such-docker.sock") {
			t.Errorf("%v: want exit 1 naming the socket, got %d: %s", cmd, code, errOut)
		}
	}
	st2, _ := os.ReadFile(e.state)
	conf2, _ := os.ReadFile(e.nginx.Conf())
	if !bytes.Equal(st, st2) || !bytes.Equal(conf, conf2) {
		t.Error("state or nginx config changed while the daemon was unreachable")
	}
}

func TestBadSpecChangesNothing(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(2, "baton-test:v1", "    colour: blue\n")
	b, _ := os.ReadFile(e.spec)
	line := strings.Count(string(b[:bytes.Index(b, []byte("colour"))]), "\n") + 1
	_, errOut, code := e.baton("scale")
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("%s:%d:5: apps[0].colour: unknown field", e.spec, line)) {
		t.Errorf("want exit 1 with file:line:column, got %d:\n%s", code, errOut)
	}
	if n := e.all(); n != 0 {
		t.Errorf("a bad spec started %d containers", n)
	}
	if _, err := os.Stat(e.state); !os.IsNotExist(err) {
		t.Error("a bad spec wrote the state file")
	}
}

func TestHeldLockExits75(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(1, "baton-test:v1", "")
	f, err := state.Open(context.Background(), e.state, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, errOut, code := e.baton("--lock-timeout", "300ms", "scale")
	if code != 75 || !strings.Contains(errOut, e.state+".lock") || !strings.Contains(errOut, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("want exit 75 naming the lock file and holder, got %d: %s", code, errOut)
	}
	if n := e.all(); n != 0 {
		t.Errorf("a pass without the lock started %d containers", n)
	}
}

func TestAppWithNoReadyReplicaGets503(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(0, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	resp, err := http.Get("http://" + e.nginx.Listen + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "no ready replica of web") {
		t.Errorf("got %d %q, want a clean 503", resp.StatusCode, b)
	}
}

// TestUserNetworkAddressing: with docker.network set, containers join that
// network, nothing is published on the host, and the balancer reaches them
// at their IP on it.
func TestUserNetworkAddressing(t *testing.T) {
	e := newE2E(t)
	netName := e.project + "-net"
	if out, err := exec.Command("docker", "network", "create", netName).CombinedOutput(); err != nil {
		t.Fatalf("create network: %v %s", err, out)
	}
	t.Cleanup(func() {
		e.removeContainers()
		_ = exec.Command("docker", "network", "rm", netName).Run()
	})
	e.writeSpec(2, "baton-test:v1", "")
	spec, _ := os.ReadFile(e.spec)
	withNet := strings.Replace(string(spec), "nginx:\n", "docker:\n  network: "+netName+"\nnginx:\n", 1)
	if err := os.WriteFile(e.spec, []byte(withNet), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustBaton(0, "scale")
	out, _ := exec.Command("docker", "network", "inspect", netName, "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}").Output()
	subnet := strings.TrimSpace(string(out))
	prefix := subnet[:strings.LastIndex(subnet, ".")] // a /16 or /24 on a.b.c.0
	var st struct {
		Apps []struct{ Addresses []string }
	}
	if err := json.Unmarshal([]byte(e.mustBaton(0, "-o", "json", "status")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Apps) != 1 || len(st.Apps[0].Addresses) != 2 {
		t.Fatalf("status: %+v", st)
	}
	for _, a := range st.Apps[0].Addresses {
		if !strings.HasPrefix(a, strings.Split(prefix, ".")[0]+".") || !strings.HasSuffix(a, ":8080") {
			t.Errorf("address %s is not on %s at the container port", a, subnet)
		}
	}
	pub, _ := exec.Command("docker", "ps", "--filter", "label=baton.project="+e.project, "--format", "{{.Ports}}").Output()
	if strings.Contains(string(pub), "->") {
		t.Errorf("ports were published on the host: %s", pub)
	}
	if seen := e.responders(6); len(seen) != 2 {
		t.Errorf("nginx routes to %d replicas over the network, want 2: %v", len(seen), seen)
	}
}
