package commands_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
	"github.com/baton-orchestrator/baton/state"
)

// replicaID returns the ID of the running container of a replica index.
func (e *e2e) replicaID(app string, replica int) string {
	e.t.Helper()
	out, err := exec.Command("docker", "ps", "-q", "--no-trunc", "--filter", "label=baton.project="+e.project,
		"--filter", "label=baton.app="+app, "--filter", "label=baton.replica="+strconv.Itoa(replica)).Output()
	if err != nil {
		e.t.Fatal(err)
	}
	ids := strings.Fields(string(out))
	if len(ids) != 1 {
		return ""
	}
	return ids[0]
}

// hostAddr is where a container's port 8080 is published.
func hostAddr(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("docker", "port", id, "8080/tcp").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[0]
}

func get(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func (e *e2e) events(args ...string) []state.Event {
	e.t.Helper()
	var out struct{ Events []state.Event }
	if err := json.Unmarshal([]byte(e.mustBaton(0, append([]string{"-o", "json", "events"}, args...)...)), &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Events
}

func TestHealReplacesAfterExactlyItsThresholdWithNoFailedRequest(t *testing.T) {
	e := newE2E(t)
	wrk := testenv.Tool(t, "wrk")
	e.health = "{type: http, path: /healthz, timeout: 1s, ready_timeout: 20s, failure_threshold: 3, backoff: 0s}"
	e.writeSpec(2, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	sick := e.replicaID("web", 0)
	get(t, "http://"+hostAddr(t, sick)+"/control/health?status=500")

	load := exec.Command(wrk, "-t1", "-c4", "-d20s", "-H", "Connection: close", "http://"+e.nginx.Listen+"/")
	var loadOut strings.Builder
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = load.Process.Kill() }()
	time.Sleep(time.Second)

	for pass := 1; pass <= 3; pass++ {
		out := e.mustBaton(0, "heal")
		id := e.replicaID("web", 0)
		if pass < 3 {
			if id != sick {
				t.Fatalf("replaced after %d failing passes, threshold is 3", pass)
			}
			// The count survives between processes, in the state file.
			b, _ := os.ReadFile(e.state)
			st, err := state.Decode(e.state, b)
			if err != nil || st.Probes[sick] == nil || st.Probes[sick].Failures != pass {
				t.Fatalf("after pass %d the state holds %+v (%v)", pass, st.Probes[sick], err)
			}
			continue
		}
		if id == sick || id == "" {
			t.Fatalf("not replaced after 3 failing passes (replica 0 is %q)\n%s", id, out)
		}
		if !strings.Contains(out, "failed its health check 3 times in a row") {
			t.Errorf("output lacks the reason:\n%s", out)
		}
	}
	if load.ProcessState != nil {
		t.Fatal("wrk ended before the replacement did")
	}
	if err := load.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s", err, loadOut.String())
	}
	if strings.Contains(loadOut.String(), "Non-2xx") || strings.Contains(loadOut.String(), "Socket errors") {
		t.Errorf("requests failed during the replacement:\n%s", loadOut.String())
	}
	if !strings.Contains(loadOut.String(), "requests in") {
		t.Errorf("no wrk summary:\n%s", loadOut.String())
	}
	// With one of two replicas failing, the balancer routed to both
	// (panic); the pass after the replacement reports that this is over,
	// and nothing else. The one after that is quiet.
	if out := e.mustBaton(0, "heal"); out != "" && (!strings.Contains(out, "over (since") || strings.Count(out, "\n") > 2) {
		t.Errorf("the pass after the replacement did more than end the panic routing:\n%s", out)
	}
	if out := e.mustBaton(0, "heal"); out != "" {
		t.Errorf("the second pass after the replacement was not quiet:\n%s", out)
	}
}

func TestHealReplacesKilledAndOOMKilledReplicas(t *testing.T) {
	e := newE2E(t)
	e.health = "{type: http, path: /healthz, timeout: 1s, ready_timeout: 20s, backoff: 0s}"
	e.writeSpec(2, "baton-test:v1", "    resources: {memory: 24m}\n")
	e.mustBaton(0, "scale")

	killed := e.replicaID("web", 0)
	if out, err := exec.Command("docker", "kill", killed).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	type row struct{ App, Action, Target, Reason string }
	parse := func(out string) []row {
		var r struct{ Actions []row }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r.Actions
	}
	dry := parse(e.mustBaton(0, "-n", "-o", "json", "heal"))
	if e.replicaID("web", 0) != "" {
		t.Fatal("the dry run started a container")
	}
	real := parse(e.mustBaton(0, "-o", "json", "heal"))
	if len(dry) != 1 || fmt.Sprint(dry) != fmt.Sprint(real) {
		t.Errorf("dry run %+v, real pass %+v", dry, real)
	}
	if id := e.replicaID("web", 0); id == "" || id == killed {
		t.Fatalf("killed replica not replaced by the next pass (replica 0 is %q)", id)
	}

	hog := e.replicaID("web", 1)
	get(t, "http://"+hostAddr(t, hog)+"/control/oom")
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := exec.Command("docker", "inspect", "-f", "{{.State.Status}} {{.State.OOMKilled}}", hog).Output()
		if strings.TrimSpace(string(out)) == "exited true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container was not OOM-killed: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.mustBaton(0, "heal")
	if id := e.replicaID("web", 1); id == "" || id == hog {
		t.Fatalf("OOM-killed replica not replaced")
	}
	var reasons []string
	for _, ev := range e.events("--type", "start") {
		reasons = append(reasons, ev.Reason)
	}
	all := strings.Join(reasons, "\n")
	if !strings.Contains(all, "replica 0 exited with code 137") || !strings.Contains(all, "replica 1 exited with code 137 (OOM killed)") {
		t.Errorf("events do not name the kill and the OOM kill:\n%s", all)
	}
	if seen := e.responders(6); len(seen) != 2 {
		t.Errorf("nginx routes to %d replicas after healing, want 2: %v", len(seen), seen)
	}
}

func TestCrashLoopBacksOffAndLeavesOtherAppsAlone(t *testing.T) {
	e := newE2E(t)
	crash := `  - name: crash
    image: baton-test:v1
    pull: never
    port: 8080
    env: {EXIT_AFTER: 0s}
    health: {type: http, path: /healthz, ready_timeout: 10s, backoff: 500ms, backoff_max: 2s, crashloop_attempts: 3, crashloop_window: 1m}
`
	e.writeSpec(1, "baton-test:v1", crash)
	_, errOut, code := e.baton("scale")
	if code != 3 || !strings.Contains(errOut, "1 of 2 actions failed") {
		t.Fatalf("first scale: exit %d, want 3 (web started, crash failed):\n%s", code, errOut)
	}
	web := e.replicaID("web", 0)
	if web == "" {
		t.Fatal("web did not start")
	}
	_, errOut, code = e.baton("heal", "--for", "8s", "--every", "250ms")
	if code != 3 || !strings.Contains(errOut, `app "crash" is crash-looping`) {
		t.Fatalf("heal: exit %d, want 3 naming the crash loop:\n%s", code, errOut)
	}
	attempts := 1 // the failed scale
	for _, ev := range e.events("--app", "crash", "--type", "start") {
		if ev.Command == "heal" {
			attempts++
		}
	}
	if attempts > 3 {
		t.Errorf("%d attempts in the window, the limit is 3", attempts)
	}
	if len(e.events("--app", "crash", "--type", "crashloop")) == 0 {
		t.Error("no crashloop event")
	}
	if id := e.replicaID("web", 0); id != web {
		t.Errorf("the healthy app was touched: %s → %s", web, id)
	}
	// Scale respects the same limit: no new attempt, exit 3. The crash
	// loop is an incident heal already reported: scale says it again only
	// when asked (--verbose); its exit code says it anyway.
	before := e.all()
	if out, errOut, code := e.baton("scale"); code != 3 || out != "" || errOut != "" {
		t.Errorf("scale during a known crash loop: exit %d, want 3 and nothing printed:\n%s%s", code, out, errOut)
	}
	_, errOut, code = e.baton("--verbose", "scale")
	if code != 3 || !strings.Contains(errOut, "crash-looping") || e.all() != before {
		t.Errorf("scale during the crash loop: exit %d, containers %d → %d:\n%s", code, before, e.all(), errOut)
	}
	// The crashed containers were kept for `docker logs`.
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=baton.project="+e.project, "--filter", "label=baton.app=crash").Output()
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		t.Fatal("no crashed container kept")
	}
	logs, _ := exec.Command("docker", "logs", ids[0]).CombinedOutput()
	if !strings.Contains(string(logs), "EXIT_AFTER") {
		t.Errorf("logs of the crashed container: %q", logs)
	}
}

// TestExecAndDockerHealthChecks runs heal with an exec check (a command in
// the container) and with the image's own Docker HEALTHCHECK: each counts
// a failure once the replica's /healthz answers 500.
func TestExecAndDockerHealthChecks(t *testing.T) {
	for _, c := range []struct{ name, image, health string }{
		{"exec", "baton-test:v1", "{type: exec, command: [/app, check], timeout: 3s, ready_timeout: 20s, failure_threshold: 5}"},
		{"docker", "baton-test:hc", "{type: docker, ready_timeout: 20s, failure_threshold: 5}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newE2E(t)
			testenv.Image(t, c.image)
			e.health = c.health
			e.writeSpec(1, c.image, "")
			e.mustBaton(0, "scale")
			if out := e.mustBaton(0, "heal"); out != "" {
				t.Fatalf("a healthy replica made heal print:\n%s", out)
			}
			id := e.replicaID("web", 0)
			get(t, "http://"+hostAddr(t, id)+"/control/health?status=500")
			deadline := time.Now().Add(15 * time.Second)
			for {
				out := e.mustBaton(0, "heal")
				if strings.Contains(out, "unhealthy") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the failing check was never counted; last output:\n%s", out)
				}
				time.Sleep(500 * time.Millisecond)
			}
			b, _ := os.ReadFile(e.state)
			st, err := state.Decode(e.state, b)
			if err != nil || st.Probes[id] == nil || st.Probes[id].Failures < 1 {
				t.Fatalf("no failure counted: %+v %v", st.Probes[id], err)
			}
		})
	}
}
