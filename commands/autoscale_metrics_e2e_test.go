package commands_test

// Live autoscaling on every metric: real load from the test server's
// /load endpoints (testdata/app/load.go), through a real nginx, drives
// `scale` up, and after the load it comes back down. Loopback only; every
// load loop is bounded in time and requests.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// loadTestImage builds, once per content of testdata/app, an image of the
// test server with the /load endpoints: baton-load:<digest of its
// sources>. Its own repository keeps it out of the gc tests' baton-test
// images, and the digest means another checkout's older server is never
// used.
func loadTestImage(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.Root(), "testdata", "app", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("test server sources: %v", err)
	}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(filepath.Base(f)))
		h.Write(b)
	}
	ref := "baton-load:" + hex.EncodeToString(h.Sum(nil))[:12]
	testenv.Image(t, ref) // builds it with scripts/build-image.sh when missing
	return ref
}

// loader sends GETs to url from workers goroutines, each pausing pause
// between its requests, until stop is called, for at most limit, and
// sends at most most requests in all.
type loader struct {
	ok, failed atomic.Int64
	done       chan struct{}
	once       sync.Once
	wg         sync.WaitGroup
}

func startLoader(url string, workers int, pause, limit time.Duration, most int64) *loader {
	l := &loader{done: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(limit)
	var sent atomic.Int64
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for time.Now().Before(deadline) && sent.Add(1) <= most {
				select {
				case <-l.done:
					return
				default:
				}
				resp, err := client.Get(url)
				if err == nil {
					resp.Body.Close()
				}
				if err == nil && resp.StatusCode == 200 {
					l.ok.Add(1)
				} else {
					l.failed.Add(1)
				}
				time.Sleep(max(pause, 10*time.Millisecond))
			}
		}()
	}
	return l
}

// stop ends the load and waits for the requests in flight.
func (l *loader) stop() {
	l.once.Do(func() { close(l.done) })
	l.wg.Wait()
}

// liveRun is what one live autoscaling run saw.
type liveRun struct {
	// up and down are the --explain output (a dry run) just before the
	// pass that scaled up first and the one that scaled back to 1;
	// upReason and downReason those passes' own reasons.
	up, down, upReason, downReason string
	peak                           int
	upAt, downAt                   int // passes
}

// livePass is one round: `scale --explain` (a dry run: the explanation),
// then the pass itself with -o json; it returns the explanation, the
// pass's autoscale reason and the replica count after it.
type livePass func() (explain, reason string, n int)

// autoscaleReason is the reason of the first autoscale decision in a
// scale pass's JSON report.
func autoscaleReason(t *testing.T, out string) string {
	t.Helper()
	var rep struct{ Autoscale []struct{ Reason string } }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Autoscale) == 0 {
		t.Fatalf("scale -o json has no autoscale decision (%v):\n%s", err, out)
	}
	return rep.Autoscale[0].Reason
}

// scaleUnderLoad runs pass every 2 s while the load runs, until the app
// has at least want replicas (at most upPasses rounds), stops the load,
// and runs rounds until it is back at 1 replica (at most downPasses). The
// test fails if either does not happen. The explanation checked is the
// one just before the pass that changed the count: the metrics, and the
// highest recommendation, are the same in both; whether a stabilization
// window just ended may not be, so the direction is the pass's own.
func scaleUnderLoad(t *testing.T, l *loader, pass livePass, want, upPasses, downPasses int) liveRun {
	t.Helper()
	defer l.stop()
	var r liveRun
	var log []string
	for i := 1; i <= upPasses && r.upAt == 0; i++ {
		time.Sleep(2 * time.Second)
		out, reason, n := pass()
		r.peak = max(r.peak, n)
		log = append(log, out, "the pass: "+reason)
		if r.up == "" && strings.Contains(reason, "scale up 1 → ") {
			r.up, r.upReason = out, reason
		}
		if n >= want {
			r.upAt = i
		}
	}
	if r.upAt == 0 {
		t.Fatalf("not at %d replicas within %d passes under load (%d requests answered, %d failed):\n%s",
			want, upPasses, l.ok.Load(), l.failed.Load(), strings.Join(log, "\n"))
	}
	l.stop()
	if l.ok.Load() == 0 {
		t.Fatalf("the load got no answer (%d failed)", l.failed.Load())
	}
	log = nil
	for i := 1; i <= downPasses && r.downAt == 0; i++ {
		time.Sleep(2 * time.Second)
		out, reason, n := pass()
		log = append(log, out, "the pass: "+reason)
		if n == 1 {
			r.down, r.downReason, r.downAt = out, reason, i
		}
	}
	if r.downAt == 0 {
		t.Fatalf("not back at 1 replica within %d passes after the load:\n%s", downPasses, strings.Join(log, "\n"))
	}
	t.Logf("up to %d within %d passes, back to 1 within %d passes after the load (%d requests, %d failed)",
		r.peak, r.upAt, r.downAt, l.ok.Load(), l.failed.Load())
	return r
}

// check matches the explanations and the passes' reasons: metric is the
// metric that drove the scale-up, up and down the patterns the
// explanations must match.
func (r liveRun) check(t *testing.T, metric string, up, down []string) {
	t.Helper()
	mustExplain(t, metric+" scale-up", r.up, append(up, `highest recommendation [2-9] \(`+metric+`\)`)...)
	mustExplain(t, metric+" scale-up pass", r.upReason, `highest recommendation [2-9] \(`+metric+`\)`, `scale up 1 → [23]`)
	mustExplain(t, metric+" scale-down", r.down, down...)
	mustExplain(t, metric+" scale-down pass", r.downReason, `scale down [23] → 1`)
}

// scaleUnderLoad with local replicas.
func (e *e2e) scaleUnderLoad(l *loader, want, upPasses, downPasses int) liveRun {
	e.t.Helper()
	return scaleUnderLoad(e.t, l, func() (string, string, int) {
		out := e.mustBaton(0, "scale", "--explain") // a dry run: the explanation
		reason := autoscaleReason(e.t, e.mustBaton(0, "-o", "json", "scale"))
		return out, reason, len(e.running())
	}, want, upPasses, downPasses)
}

// mustExplain fails unless out matches every pattern.
func mustExplain(t *testing.T, what, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("%s: --explain does not match %q:\n%s", what, p, out)
		}
	}
}

// TestAutoscaleOnCPUUnderLiveLoad: requests that burn CPU in replicas
// limited to a tenth of a core put them at their limit, twice the 50%
// target: scale goes up on cpu; once the load stops their CPU falls to
// nothing and scale comes back to 1 after the stabilization window.
func TestAutoscaleOnCPUUnderLiveLoad(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(1, loadTestImage(t), "    resources: {cpu: 100m}\n"+
		"    autoscale: {min: 1, max: 3, targets: {cpu: 50%}, scale_down: {stabilization: 6s}}\n")
	e.mustBaton(0, "scale") // starts 1
	e.mustBaton(0, "scale") // the first CPU counters
	l := startLoader("http://"+e.nginx.Listen+"/load/cpu?ms=300", 4, 0, 40*time.Second, 2000)
	r := e.scaleUnderLoad(l, 2, 8, 10)
	r.check(t, "cpu", []string{`(?m)^\s+cpu\s+[0-9.]+\s+0\.5\s+[0-9.]+\s+[2-9]`}, []string{`(?m)^\s+cpu\s+0(\.0[0-9]*)?\s+0\.5\s`})
}

// TestAutoscaleOnMemoryUnderLiveLoad: requests that make each replica
// hold 24 MiB for 3 s (re-armed by every request it gets) put the
// replicas at about 45% of their 64 MiB, over the 30% target: scale goes
// up on memory. Memory never drives a scale-down (it does not fall as replicas
// are added), so the policy also has a CPU target, which brings the app
// back to 1 once the memory is given back.
func TestAutoscaleOnMemoryUnderLiveLoad(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(1, loadTestImage(t), "    resources: {memory: 64m}\n"+
		"    autoscale: {min: 1, max: 3, targets: {memory: 30%, cpu: 50%}, scale_down: {stabilization: 6s}}\n")
	e.mustBaton(0, "scale")
	e.mustBaton(0, "scale")
	l := startLoader("http://"+e.nginx.Listen+"/load/memory?mb=24&for=3s", 1, 100*time.Millisecond, 40*time.Second, 400)
	r := e.scaleUnderLoad(l, 2, 8, 10)
	r.check(t, "memory", []string{`(?m)^\s+memory\s+0\.[3-9][0-9]*\s+0\.3\s`},
		[]string{`(?m)^\s+memory\s+0\.[0-2][0-9]*\s+0\.3\s.*below target; memory does not fall`, `highest recommendation [01] \(cpu\)`})
}

// TestAutoscaleOnLatencyUnderLiveLoad: requests that take 300 ms put the
// p95 at three times the 100 ms target: scale goes up on latency. Latency
// never drives a scale-down, so the policy also has a request-rate
// target; after the load no request is logged, the rate is 0 and scale
// comes back to 1.
func TestAutoscaleOnLatencyUnderLiveLoad(t *testing.T) {
	e := newE2E(t)
	e.nginxExtra = "  access_log: " + filepath.Join(e.nginx.Dir, "logs", "baton-access.log") + "\n"
	e.writeSpec(1, loadTestImage(t), "    autoscale: {min: 1, max: 3, targets: {latency_p95: 100ms, rps: 1000}, scale_down: {stabilization: 6s}}\n")
	e.mustBaton(0, "scale") // starts 1, renders the log format
	e.mustBaton(0, "scale") // records where the access log ends
	l := startLoader("http://"+e.nginx.Listen+"/load/slow?ms=300", 4, 0, 40*time.Second, 2000)
	r := e.scaleUnderLoad(l, 2, 8, 10)
	r.check(t, "latency_p95_ms", []string{`(?m)^\s+latency_p95_ms\s+(2[89][0-9]|3[0-9][0-9])(\.[0-9]+)?\s+100\s`},
		[]string{`(?m)^\s+latency_p95_ms\s+-\s+100\s.*missing`, `(?m)^\s+rps\s+0\s+1000\s`, `highest recommendation 0 \(rps\)`})
}

// TestAutoscaleOnInflightUnderLiveLoad: six clients each holding a 500 ms
// request keep about 6 requests in flight (Little's law over the access
// log: rate × mean time), three times the 2 per replica the target
// allows: scale goes up on inflight, and back to 1 after the load.
func TestAutoscaleOnInflightUnderLiveLoad(t *testing.T) {
	e := newE2E(t)
	e.nginxExtra = "  access_log: " + filepath.Join(e.nginx.Dir, "logs", "baton-access.log") + "\n"
	e.writeSpec(1, loadTestImage(t), "    autoscale: {min: 1, max: 3, targets: {inflight: 2}, scale_down: {stabilization: 6s}}\n")
	e.mustBaton(0, "scale")
	e.mustBaton(0, "scale")
	l := startLoader("http://"+e.nginx.Listen+"/load/slow?ms=500", 6, 0, 40*time.Second, 1000)
	r := e.scaleUnderLoad(l, 2, 8, 10)
	r.check(t, "inflight", []string{`(?m)^\s+inflight\s+[3-9](\.[0-9]+)?\s+2\s`}, []string{`(?m)^\s+inflight\s+0\s+2\s`, `highest recommendation 0 \(inflight\)`})
}
