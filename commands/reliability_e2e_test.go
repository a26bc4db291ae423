package commands_test

// Reliability evidence: baton broken on purpose. Faults injected at the
// Docker socket, kill -9 at random points of passes, and many passes at
// once — each checked against what must hold afterwards.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
	"github.com/baton-orchestrator/baton/internal/balancer"
	"github.com/baton-orchestrator/baton/internal/testenv"
	"github.com/baton-orchestrator/baton/state"
)

// checkFiles asserts that the state file and the nginx config are whole:
// the state decodes (or does not exist yet) and nginx accepts the config.
func (e *e2e) checkFiles(what string) {
	e.t.Helper()
	if b, err := os.ReadFile(e.state); err == nil {
		if _, err := state.Decode(e.state, b); err != nil {
			e.t.Fatalf("%s: state file not whole: %v", what, err)
		}
	}
	if _, err := os.Stat(e.nginx.Conf()); err == nil {
		if _, errOut, code := testenv.Run(e.t, e.nginx.Dir, e.nginx.Test()...); code != 0 {
			b, _ := os.ReadFile(e.nginx.Conf())
			e.t.Fatalf("%s: nginx rejects the config:\n%s\n%s", what, errOut, b)
		}
	}
}

// checkConverged asserts exactly want running replicas of image, and no
// other container of the project in any state: nothing duplicated,
// orphaned or lost.
func (e *e2e) checkConverged(what string, want int, image string) {
	e.t.Helper()
	imgs := e.running()
	if len(imgs) != want {
		e.t.Fatalf("%s: %d running, want %d", what, len(imgs), want)
	}
	for _, i := range imgs {
		if i != image {
			e.t.Fatalf("%s: a replica runs %s, want %s", what, i, image)
		}
	}
	if n := e.all(); n != want {
		out, _ := exec.Command("docker", "ps", "-a", "--filter", "label=baton.project="+e.project, "--format", "{{.Names}} {{.State}}").Output()
		e.t.Fatalf("%s: %d containers in all, want %d:\n%s", what, n, want, out)
	}
}

// checkNoTemps asserts that no temporary file of an interrupted write is
// left beside the state file, the nginx config or its last good copy (the
// next pass took the lock and cleaned up).
func (e *e2e) checkNoTemps(what string) {
	e.t.Helper()
	var matches []string
	for _, p := range []string{e.state, e.nginx.Conf(), balancer.GoodPath(e.nginx.Conf())} {
		entries, _ := os.ReadDir(filepath.Dir(p))
		for _, en := range entries {
			if atomicfile.IsTemp(en.Name(), filepath.Base(p)) {
				matches = append(matches, filepath.Join(filepath.Dir(p), en.Name()))
			}
		}
	}
	if len(matches) > 0 {
		e.t.Fatalf("%s: temporary files left: %v", what, matches)
	}
}

func noPanic(t *testing.T, what, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "DATA RACE") {
		t.Fatalf("%s crashed:\n%s", what, stderr)
	}
}

func TestFaultInjection30Percent(t *testing.T) {
	e := newE2E(t)
	proxy := testenv.StartDockerProxy(t)
	e.host = proxy.Host
	e.health = "{type: http, path: /healthz, timeout: 1s, ready_timeout: 10s, backoff: 0s}"
	e.writeSpec(2, "baton-test:v1", "")
	e.mustBaton(0, "scale")

	proxy.SetFaults(testenv.Faults{Rate: 0.3, Delay: 3 * time.Second, Seed: 42})
	rng := rand.New(rand.NewSource(7))
	codes := map[string]map[int]int{}
	for round := 0; round < 6; round++ {
		for _, cmd := range [][]string{{"scale"}, {"heal"}, {"lb", "render"}, {"gc"}, {"status"}} {
			if cmd[0] == "scale" {
				e.writeSpec(1+rng.Intn(3), []string{"baton-test:v1", "baton-test:v2"}[rng.Intn(2)], "")
			}
			_, errOut, code := e.baton(append([]string{"--docker-timeout", "1s", "--lock-timeout", "30s"}, cmd...)...)
			name := strings.Join(cmd, " ")
			noPanic(t, name, errOut)
			if code != 0 && code != 1 && code != 3 {
				t.Fatalf("%s under faults: exit %d:\n%s", name, code, errOut)
			}
			if code != 0 && !strings.HasPrefix(errOut, "baton: error: ") && !strings.Contains(errOut, "\nbaton: error: ") {
				t.Errorf("%s: exit %d without a clear error:\n%s", name, code, errOut)
			}
			if codes[name] == nil {
				codes[name] = map[int]int{}
			}
			codes[name][code]++
			e.checkFiles(name + " under faults")
		}
	}
	injected := proxy.Injected()
	t.Logf("exit codes under 30%% faults: %v; faults injected: %v", codes, injected)
	if injected["error"] == 0 || injected["delay"] == 0 || injected["drop"] == 0 {
		t.Fatalf("not every kind of fault was injected: %v", injected)
	}
	// The faults stop: one pass converges, the next does nothing.
	proxy.SetFaults(testenv.Faults{})
	e.writeSpec(3, "baton-test:v2", "")
	e.mustBaton(0, "scale")
	e.checkConverged("one pass after the faults", 3, "baton-test:v2")
	if out := e.mustBaton(0, "scale"); out != "" {
		t.Errorf("the pass after converging was not a no-op:\n%s", out)
	}
	if seen := e.responders(9); len(seen) != 3 {
		t.Errorf("nginx routes to %d replicas, want 3", len(seen))
	}
}

// TestCrashSafetyKill9 kills baton with SIGKILL at random points of scale,
// heal and lb render passes (BATON_CRASH_KILLS, default 200, in all).
// After each kill the state file and the nginx config are whole, and the
// next pass converges with nothing duplicated, orphaned or lost.
func TestCrashSafetyKill9(t *testing.T) {
	kills := 200
	if v, err := strconv.Atoi(os.Getenv("BATON_CRASH_KILLS")); err == nil && v > 0 {
		kills = v
	}
	e := newE2E(t)
	e.health = "{type: http, path: /healthz, timeout: 1s, ready_timeout: 10s, failure_threshold: 1, backoff: 0s, crashloop_attempts: 1000}"
	want, image := 2, "baton-test:v1"
	e.writeSpec(want, image, "")
	e.mustBaton(0, "scale")
	rng := rand.New(rand.NewSource(1))
	base := []string{e.bin, "--spec", e.spec, "--state", e.state, "--lock-timeout", "30s"}
	killed := map[string]int{}
	for i := 0; i < kills; i++ {
		var args []string
		var maxDelay time.Duration
		switch r := rng.Intn(10); {
		case r < 6:
			args, maxDelay = []string{"lb", "render"}, 150*time.Millisecond
		case r < 8:
			want, image = 1+rng.Intn(3), []string{"baton-test:v1", "baton-test:v2"}[rng.Intn(2)]
			e.writeSpec(want, image, "")
			args, maxDelay = []string{"scale"}, 1500*time.Millisecond
		default:
			if id := e.replicaID("web", 0); id != "" {
				get(t, "http://"+hostAddr(t, id)+"/control/health?status=500")
			}
			args, maxDelay = []string{"heal"}, 1500*time.Millisecond
		}
		cmd := exec.Command(base[0], append(base[1:], args...)...)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int63n(int64(maxDelay))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		name := strings.Join(args, " ")
		killed[name]++
		what := fmt.Sprintf("kill %d (%s)", i+1, name)
		e.checkFiles(what)
		if name == "lb render" {
			if _, errOut, code := e.baton("lb", "render"); code != 0 {
				t.Fatalf("%s: the next lb render exits %d:\n%s", what, code, errOut)
			}
			e.checkFiles(what + ", next pass")
			e.checkNoTemps(what + ", next pass")
			continue
		}
		if _, errOut, code := e.baton("scale"); code != 0 {
			t.Fatalf("%s: the next scale exits %d:\n%s", what, code, errOut)
		}
		e.checkConverged(what+", next pass", want, image)
		e.checkNoTemps(what + ", next pass")
	}
	t.Logf("%d kills: %v", kills, killed)
	e.mustBaton(0, "lb", "render")
	if seen := e.responders(want * 3); len(seen) != want {
		t.Errorf("after the kills nginx routes to %d replicas, want %d", len(seen), want)
	}
}

// TestConcurrent64Mixed starts 64 invocations of scale, heal, lb render,
// gc and status at once on one spec and state: every one exits 0 or 75,
// the state stays whole and no pass's update is lost.
func TestConcurrent64Mixed(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(2, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	b, _ := os.ReadFile(e.state)
	before, err := state.Decode(e.state, b)
	if err != nil {
		t.Fatal(err)
	}
	mix := map[string]int{"scale": 20, "heal": 16, "lb render": 12, "gc": 8, "status": 8}
	type run struct {
		cmd  string
		code int
		err  string
	}
	var runs []run
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for cmd, n := range mix {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(cmd string, i int) {
				defer wg.Done()
				<-start
				timeout := "5m"
				if i%4 == 3 {
					timeout = "0s"
				}
				argv := append([]string{e.bin, "--spec", e.spec, "--state", e.state, "--lock-timeout", timeout}, strings.Fields(cmd)...)
				c := exec.CommandContext(context.Background(), argv[0], argv[1:]...)
				var errOut bytes.Buffer
				c.Stderr, c.Stdout = &errOut, &bytes.Buffer{}
				err := c.Run()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				mu.Lock()
				runs = append(runs, run{cmd, code, errOut.String()})
				mu.Unlock()
			}(cmd, i)
		}
	}
	close(start)
	wg.Wait()
	if len(runs) != 64 {
		t.Fatalf("%d runs", len(runs))
	}
	ok := map[string]int{}
	for _, r := range runs {
		noPanic(t, r.cmd, r.err)
		if r.code != 0 && r.code != 75 {
			t.Errorf("%s: exit %d:\n%s", r.cmd, r.code, r.err)
		}
		if r.code == 0 {
			ok[r.cmd]++
		}
	}
	b, _ = os.ReadFile(e.state)
	after, err := state.Decode(e.state, b)
	if err != nil {
		t.Fatalf("state after 64 concurrent runs: %v", err)
	}
	for _, cmd := range []string{"scale", "heal", "lb render", "gc"} {
		if got := after.Runs[cmd] - before.Runs[cmd]; got != ok[cmd] {
			t.Errorf("%s: %d passes exited 0 but the state counts %d: an update was lost", cmd, ok[cmd], got)
		}
	}
	t.Logf("exit 0 per command: %v", ok)
	e.checkConverged("after 64 concurrent runs", 2, "baton-test:v1")
}
