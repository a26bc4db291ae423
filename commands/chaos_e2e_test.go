package commands_test

// The chaos load test (issue 13): under wrk through nginx on 127.0.0.1,
// with `heal --every 1s` running, replicas are killed, OOM-killed, turned
// unhealthy, a probe hangs, a bad image ships, while scale changes and a
// rollout run. Every wrk run is bounded by -d; every request goes to
// 127.0.0.1. BATON_CHAOS_ROUNDS (default 1; `make loadtest` runs more)
// repeats the chaos sequence in each run.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

type wrkResult struct {
	requests, non2xx, socketErrors int
	raw                            string
}

func parseWrk(out string) wrkResult {
	r := wrkResult{raw: out}
	if m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	if m := regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`).FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			r.socketErrors += n
		}
	}
	return r
}

func TestChaosUnderLoadNeverTakesTheAppDown(t *testing.T) {
	wrk := testenv.Tool(t, "wrk")
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("BATON_CHAOS_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for _, kind := range []string{"connection-close", "keep-alive"} {
		t.Run(kind, func(t *testing.T) {
			e := newE2E(t)
			e.health = "{type: http, path: /healthz, timeout: 500ms, ready_timeout: 15s}"
			spec := func(replicas int, extra string) {
				e.writeSpec(replicas, "baton-test:v1", "    resources: {memory: 48m}\n"+extra)
			}
			spec(4, "")
			e.mustBaton(0, "scale")
			// nginx reloads on its own time: wait until it serves.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + e.nginx.Listen + "/")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("nginx does not serve the app: %v", err)
				}
			}

			secs := 20 + 25*rounds
			args := []string{"-t2", "-c8", fmt.Sprintf("-d%ds", secs), "--latency"}
			if kind == "connection-close" {
				args = append(args, "-H", "Connection: close")
			}
			wrkCmd := exec.Command(wrk, append(args, "http://"+e.nginx.Listen+"/")...)
			var wrkOut strings.Builder
			wrkCmd.Stdout, wrkCmd.Stderr = &wrkOut, &wrkOut
			if err := wrkCmd.Start(); err != nil {
				t.Fatal(err)
			}
			heal := exec.Command(e.bin, "--spec", e.spec, "--state", e.state, "--lock-timeout", "30s", "heal", "--for", fmt.Sprintf("%ds", secs-3), "--every", "1s")
			heal.Dir = e.dir
			var healOut strings.Builder
			heal.Stdout, heal.Stderr = &healOut, &healOut
			if err := heal.Start(); err != nil {
				t.Fatal(err)
			}
			// The floor: nginx always routes to at least 2 of the app's
			// replicas (4 or 5 wanted).
			var emptyUpstreams atomic.Int64
			fewest := atomic.Int64{}
			fewest.Store(1 << 30)
			stopWatch := make(chan struct{})
			var watch sync.WaitGroup
			watch.Add(1)
			go func() {
				defer watch.Done()
				for {
					select {
					case <-stopWatch:
						return
					case <-time.After(200 * time.Millisecond):
					}
					if conf, err := os.ReadFile(e.nginx.Conf()); err == nil {
						n := int64(strings.Count(string(conf), "server 127.0.0.1:"))
						if n == 0 {
							emptyUpstreams.Add(1)
						}
						if n < fewest.Load() {
							fewest.Store(n)
						}
					}
				}
			}()
			scale := func(extra string, replicas int, codes ...int) {
				t.Helper()
				spec(replicas, extra)
				out, errOut, code := e.baton("--lock-timeout", "30s", "scale")
				for _, c := range codes {
					if c == code {
						return
					}
				}
				t.Errorf("scale to %d: exit %d, want %v\n%s%s", replicas, code, codes, out, errOut)
			}
			control := func(replica int, path string) {
				if id := e.replicaID("web", replica); id != "" {
					c := &http.Client{Timeout: 300 * time.Millisecond}
					if resp, err := c.Get("http://" + hostAddr(t, id) + path); err == nil {
						resp.Body.Close()
					}
				}
			}
			time.Sleep(3 * time.Second)
			for r := 0; r < rounds; r++ {
				if id := e.replicaID("web", 0); id != "" {
					_ = exec.Command("docker", "kill", id).Run() // a replica dies
				}
				time.Sleep(2 * time.Second)
				control(1, "/control/health?status=500") // one turns unhealthy
				time.Sleep(2 * time.Second)
				scale("", 5, 0, 3)          // a scale-up meanwhile
				control(2, "/control/hang") // a probe hangs
				time.Sleep(2 * time.Second)
				go control(3, "/control/oom") // one is OOM-killed
				time.Sleep(2 * time.Second)
				if id := e.replicaID("web", 4); id != "" {
					_ = exec.Command("docker", "kill", id).Run() // a second one dies
				}
				scale("    env: {ROUND: \""+strconv.Itoa(r)+"\"}\n", 5, 0, 3) // a rollout
				scale("    env: {EXIT_AFTER: 0s}\n", 5, 3)                    // a bad image: the rollout pauses
				time.Sleep(2 * time.Second)
				scale("", 4, 0, 3) // the spec moves on
			}
			if err := heal.Wait(); err != nil {
				t.Logf("heal --for ended with %v", err)
			}
			if err := wrkCmd.Wait(); err != nil {
				t.Fatalf("wrk: %v\n%s", err, wrkOut.String())
			}
			close(stopWatch)
			watch.Wait()
			res := parseWrk(wrkOut.String())
			t.Logf("%s: %d requests, %d non-2xx, %d socket errors over %d chaos round(s); the balancer routed to at least %d replicas", kind, res.requests, res.non2xx, res.socketErrors, rounds, fewest.Load())
			if res.requests == 0 {
				t.Fatalf("wrk sent nothing:\n%s", res.raw)
			}
			if res.non2xx != 0 || (kind == "connection-close" && res.socketErrors != 0) {
				t.Errorf("%s clients: %d non-2xx, %d socket errors of %d requests\n%s\nnginx:\n%s\nheal:\n%s", kind, res.non2xx, res.socketErrors, res.requests, res.raw, nginxFailures(e.nginx), healOut.String())
			}
			if n := emptyUpstreams.Load(); n != 0 {
				t.Errorf("the balancer had no server for the app %d times", n)
			}
			if n := fewest.Load(); n < 2 {
				t.Errorf("the balancer routed to %d replicas at one point, below the floor of 2", n)
			}
			// A final pass converges.
			e.mustBaton(0, "--lock-timeout", "30s", "heal")
			e.mustBaton(0, "--lock-timeout", "30s", "scale")
			if out := e.mustBaton(0, "--lock-timeout", "30s", "scale"); out != "" {
				t.Errorf("the pass after the chaos was not a no-op:\n%s", out)
			}
			if got := len(e.running()); got != 4 {
				t.Errorf("%d replicas run after the chaos, want 4", got)
			}
		})
	}
}

// nginxFailures is what nginx logged of the failed requests: the access
// log's non-2xx lines and the error log's lines of the same seconds (at most
// 40 of each), so a failed chaos run says which status and which replicas.
func nginxFailures(n *testenv.Nginx) string {
	var b strings.Builder
	read := func(file string) []string {
		data, err := os.ReadFile(filepath.Join(n.Dir, "logs", file))
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", file, err)
		}
		return strings.Split(string(data), "\n")
	}
	status := regexp.MustCompile(`:(\d\d:\d\d:\d\d) [^]]*\] "[^"]*" ([0-9]{3}) `)
	seconds := map[string]bool{}
	kept := 0
	for _, l := range read("access.log") {
		if m := status.FindStringSubmatch(l); m != nil && m[2][0] != '2' && kept < 40 {
			fmt.Fprintf(&b, "access.log: %s\n", l)
			seconds[m[1]] = true
			kept++
		}
	}
	kept = 0
	for _, l := range read("error.log") {
		if f := strings.Fields(l); len(f) > 1 && seconds[f[1]] && kept < 40 {
			fmt.Fprintf(&b, "error.log: %s\n", l)
			kept++
		}
	}
	return b.String()
}
