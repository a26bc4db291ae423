package commands_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// wrkLatencyMax reads the Max column of wrk's Latency line ("2.01s",
// "812.33ms", "95.00us").
func wrkLatencyMax(out string) (time.Duration, bool) {
	m := regexp.MustCompile(`(?m)^\s+Latency\s+\S+\s+\S+\s+([0-9.]+)(us|ms|s|m)\s`).FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[m[2]]
	return time.Duration(v * float64(unit)), true
}

// requestTimes reads the request times of baton's access log format
// ("baton1 <msec> <app> <status> <request_time>").
func requestTimes(t *testing.T, path string) (times []time.Duration, statuses map[string]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	statuses = map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 5 || fs[0] != "baton1" {
			continue
		}
		statuses[fs[3]]++
		if v, err := strconv.ParseFloat(fs[4], 64); err == nil {
			times = append(times, time.Duration(v*float64(time.Second)))
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times, statuses
}

// TestSwarmNodeLostUnderLoad: three tasks, one per node, behind nginx
// under wrk (Connection: close clients, bounded to 24 s); node3 is cut off
// the network mid-load (its packets dropped: connections to it time out
// rather than fail). No request waits longer than the connect timeout plus
// one retry — the template's proxy_connect_timeout, proxy_next_upstream
// for idempotent requests and max_fails take the lost task out at once —
// and none fails; the next lb render, with node3 down, drops its task and
// exits 3. Figures: docs/LOADTEST.md.
func TestSwarmNodeLostUnderLoad(t *testing.T) {
	testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	wrk := testenv.Tool(t, "wrk")
	s := testenv.StartSwarm(t, 3)
	loadImage(t, s, "baton-test:v1")
	ngx := testenv.StartNginx(t)
	dir := t.TempDir()
	specPath, statePath := filepath.Join(dir, "baton.yaml"), filepath.Join(dir, "state.json")
	accessLog := filepath.Join(ngx.Dir, "logs", "baton-access.log")
	const connect = 2 * time.Second
	y := fmt.Sprintf(`project: fo
nginx:
  config: %s
  test: %s
  reload: %s
  listen: %s
  access_log: %s
apps:
  - name: web
    engine: swarm
    image: baton-test:v1
    port: 8080
    replicas: 3
    stop_grace: 2s
    placement: {max_replicas_per_node: 1}
    lb: {path: /, connect_timeout: 2s, read_timeout: 2s, retries: 1, max_fails: 1, fail_timeout: 10s}
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 60s}
`, ngx.Conf(), jsonArgv(ngx.Test()), jsonArgv(ngx.Reload()), ngx.Listen, accessLog)
	if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := swarmBaton(t, s, specPath, statePath, "scale"); code != 0 {
		t.Fatalf("scale: exit %d\n%s%s", code, out, errOut)
	}
	ups := upstreams(t, ngx)
	if len(ups) != 3 || !strings.Contains(strings.Join(ups, " "), s.Addr(3)+":") {
		t.Fatalf("upstreams %v, want one task per node", ups)
	}

	// A baseline, the same load with every node up, for the figures.
	base, err := exec.Command(wrk, "-t2", "-c8", "-d8s", "--latency", "--timeout", "30s", "-H", "Connection: close", "http://"+ngx.Listen+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, base)
	}
	t.Logf("baseline, every node up:\n%s", base)
	if err := os.Truncate(accessLog, 0); err != nil {
		t.Fatal(err)
	}

	load := exec.Command(wrk, "-t2", "-c8", "-d24s", "--latency", "--timeout", "30s", "-H", "Connection: close", "http://"+ngx.Listen+"/")
	var loadOut strings.Builder
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	// Cut node3 off once the load runs.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(accessLog); strings.Count(string(b), "\n") > 300 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cut := time.Now()
	s.Isolate(t, 3)
	down := time.Since(cut)
	renderAt := time.Since(cut)
	out, errOut, code := swarmBaton(t, s, specPath, statePath, "lb", "render")
	if code != 3 || !strings.Contains(out+errOut, "node node3 is down") {
		t.Errorf("lb render with node3 cut off: exit %d\n%s%s", code, out, errOut)
	}
	for _, u := range upstreams(t, ngx) {
		if strings.HasPrefix(u, s.Addr(3)+":") {
			t.Errorf("the balancer still routes to the lost node: %v", upstreams(t, ngx))
		}
	}
	if err := load.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s", err, loadOut.String())
	}
	wout := loadOut.String()
	max, ok := wrkLatencyMax(wout)
	if !ok {
		t.Fatalf("no latency in wrk's output:\n%s", wout)
	}
	times, statuses := requestTimes(t, accessLog)
	paid := 0
	for _, d := range times {
		if d >= connect-100*time.Millisecond {
			paid++
		}
	}
	slowest := times[len(times)-1]
	t.Logf("wrk:\n%s", wout)
	if b, err := os.ReadFile(accessLog); err == nil {
		var prev float64
		type gap struct{ at, len float64 }
		var gaps []gap
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) != 5 {
				continue
			}
			ms, _ := strconv.ParseFloat(fs[1], 64)
			if prev != 0 && ms-prev > 0.3 {
				gaps = append(gaps, gap{ms - float64(cut.UnixNano())/1e9, ms - prev})
			}
			prev = ms
		}
		t.Logf("gaps over 300ms in nginx's log (seconds after the cut, length): %v; lb render ran %s after the cut", gaps, renderAt)
	}
	t.Logf("%d requests logged by nginx, statuses %v; node3 reported down %s after the cut; %d request(s) waited a connect timeout (%s), the slowest %s",
		len(times), statuses, down.Round(100*time.Millisecond), paid, connect, slowest)
	// The bound: one connect timeout (or read timeout, for a request in
	// flight at the cut) plus one retry to a live task; 1.5 s for that
	// retry on a loaded machine.
	bound := connect + 1500*time.Millisecond
	if max > bound || slowest > bound {
		t.Errorf("a request waited %s (wrk) / %s (nginx): longer than the connect timeout plus one retry (%s)", max, slowest, bound)
	}
	if paid == 0 {
		t.Error("no request met the lost node: the cut was not under load")
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: .*`).FindString(wout); m != "" {
		t.Errorf("failed requests: %s", m)
	}
	for st, n := range statuses {
		// 499: wrk closed connections with requests in flight when its
		// time was up (wrk's own count above says whether any failed).
		if st != "200" && st != "499" {
			t.Errorf("%d request(s) answered %s", n, st)
		}
	}
}

func jsonArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
