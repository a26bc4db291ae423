package templates

// Failover at the edge (issue 19 item 2, issue 16 item 3), rendered by the
// real templates and run by the real nginx and haproxy against backends in
// this process: a lost node costs at most one connect timeout per request,
// passive failure detection takes it out, and only idempotent requests
// that reached a replica are retried.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/internal/testenv"
)

// liveBalancer runs a rendered config for real.
type liveBalancer struct {
	kind   string
	listen string
	load   func(config []byte)
}

func liveBalancers(t *testing.T) []liveBalancer {
	t.Helper()
	n := testenv.StartNginx(t)
	h := testenv.StartHAProxy(t)
	return []liveBalancer{
		{spec.KindNginx, n.Listen, func(config []byte) {
			if err := os.WriteFile(n.Conf(), config, 0o644); err != nil {
				t.Fatal(err)
			}
			reloadNginx(t, n)
		}},
		{spec.KindHAProxy, h.Listen, func(config []byte) { h.Load(t, config) }},
	}
}

// renderLive renders the one-app spec with lb for members on b.
func renderLive(t *testing.T, b liveBalancer, lb string, addrs ...string) {
	t.Helper()
	y := fmt.Sprintf("project: failover\nnginx: {kind: %s, config: c.conf, test: [t], reload: [r], listen: %q}\napps:\n  - {name: web, image: web:1, port: 8080, lb: %s}\n", b.kind, b.listen, lb)
	s, err := spec.Parse(filepath.Join(t.TempDir(), "baton.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	var ms []fleet.Container
	for i, a := range addrs {
		ms = append(ms, fleet.Container{ID: fmt.Sprint(i), App: "web", State: "running", Addr: a})
	}
	tmpl := ForKind(b.kind)
	text, _ := Builtin(tmpl)
	tm, err := Parse(tmpl, text)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(tm, plan.Balancer(s, ms))
	if err != nil {
		t.Fatal(err)
	}
	b.load(out)
}

// timedGet GETs url and returns the status (0 on error) and how long it took.
func timedGet(client *http.Client, method, url string) (int, time.Duration) {
	start := time.Now()
	req, _ := http.NewRequest(method, url, strings.NewReader("body"))
	resp, err := client.Do(req)
	if err != nil {
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// TestALostNodeCostsAtMostOneConnectTimeout: one of two replicas is a
// blackhole (its connects never complete, as a partitioned node's). Every
// request is answered by the other replica, none waits much more than the
// connect timeout, and with passive failure detection (the default
// max_fails: 1) only the first requests pay it at all; without it
// (max_fails: 0) about every other request does — which shows the count
// below is the detection's doing.
func TestALostNodeCostsAtMostOneConnectTimeout(t *testing.T) {
	good := backend(t, "good")
	// Long enough that an answer from the good replica never takes this
	// long on a loaded machine, so "paid the timeout" is unambiguous.
	const connect = time.Second
	for _, b := range liveBalancers(t) {
		for _, c := range []struct {
			name     string
			maxFails string
			requests int
			maxSlow  int
			minSlow  int
		}{
			{"passive detection takes the lost node out", "1", 20, 2, 1},
			{"without passive detection every other request pays", "0", 10, 10, 3},
		} {
			t.Run(b.kind+"/"+c.name, func(t *testing.T) {
				renderLive(t, b, fmt.Sprintf("{connect_timeout: %s, max_fails: %s, fail_timeout: 30s}", plan.Millis(connect), c.maxFails), testenv.Blackhole(t), good)
				client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
				slow := 0
				for i := 0; i < c.requests; i++ {
					code, took := timedGet(client, http.MethodGet, "http://"+b.listen+"/")
					if code != 200 {
						t.Fatalf("request %d: status %d after %s", i, code, took)
					}
					// A bound, not a speed claim: nginx's and HAProxy's
					// default connect timeouts are 60 s and 5 s.
					if took > connect+2*time.Second {
						t.Errorf("request %d waited %s, more than the connect timeout %s and one retry", i, took, connect)
					}
					if took >= connect*9/10 {
						slow++
					}
				}
				t.Logf("%d of %d requests waited for the connect timeout", slow, c.requests)
				if slow > c.maxSlow || slow < c.minSlow {
					t.Errorf("%d of %d requests waited for the connect timeout, want %d to %d", slow, c.requests, c.minSlow, c.maxSlow)
				}
			})
		}
	}
}

// flaky reads each request and closes the connection without an answer,
// counting requests by method.
func flaky(t *testing.T) (string, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var gets, posts atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		} else {
			gets.Add(1)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), &gets, &posts
}

// TestOnlyIdempotentRequestsAreRetried: a replica that takes each request
// and closes the connection without answering (a crash mid-request). A GET
// sent there is retried on the other replica and succeeds; a POST sent
// there is not (it may have had its effect) and gets 502 — each POST
// reached exactly one replica.
func TestOnlyIdempotentRequestsAreRetried(t *testing.T) {
	var goodGets, goodPosts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			goodPosts.Add(1)
		} else {
			goodGets.Add(1)
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	good := strings.TrimPrefix(srv.URL, "http://")
	for _, b := range liveBalancers(t) {
		t.Run(b.kind, func(t *testing.T) {
			bad, badGets, badPosts := flaky(t)
			goodGets.Store(0)
			goodPosts.Store(0)
			// max_fails 0 keeps the flaky replica in rotation throughout.
			renderLive(t, b, "{max_fails: 0, retries: 1}", bad, good)
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			const n = 20
			for i := 0; i < n; i++ {
				if code, _ := timedGet(client, http.MethodGet, "http://"+b.listen+"/"); code != 200 {
					t.Errorf("GET %d: %d, want the retry's 200", i, code)
				}
			}
			failedPosts := 0
			for i := 0; i < n; i++ {
				if code, _ := timedGet(client, http.MethodPost, "http://"+b.listen+"/"); code != 200 {
					if code != 502 {
						t.Errorf("POST %d: %d, want 200 or 502", i, code)
					}
					failedPosts++
				}
			}
			t.Logf("GETs: %d to the flaky replica (retried), %d to the good one; POSTs: %d to the flaky one (%d failed), %d to the good one",
				badGets.Load(), goodGets.Load(), badPosts.Load(), failedPosts, goodPosts.Load())
			if badGets.Load() == 0 || badPosts.Load() == 0 {
				t.Fatalf("the flaky replica got no request: the test shows nothing")
			}
			if goodGets.Load() != n {
				t.Errorf("the good replica answered %d GETs, want all %d (every GET the flaky one dropped retried)", goodGets.Load(), n)
			}
			if got := badPosts.Load() + goodPosts.Load(); got != n {
				t.Errorf("POSTs reached replicas %d times, want %d: a POST was retried", got, n)
			}
			if int64(failedPosts) != badPosts.Load() {
				t.Errorf("%d POSTs failed but the flaky replica got %d", failedPosts, badPosts.Load())
			}
		})
	}
}

// refused is an address on 127.0.0.n whose connects are refused, as a
// killed replica's published port is until the next pass drops it. The
// balancer lists servers sorted, so those on 127.0.0.2 and up sit side by
// side after the backends on 127.0.0.1.
func refused(t *testing.T, n int) string {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", n))
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

// TestReplicasDeadAtOnceCostNoRequestUpToRetries: replicas that die at once
// (an OOM kill and a docker kill seconds apart, before a pass drops them)
// sit side by side in the upstream, and a freshly reloaded balancer knows
// nothing of them yet: a request that lands on the first is passed to the
// next, dead too. With the default two retries two such replicas cost no
// request; with one retry (the old default) the first request that meets
// them fails with 502 (once per worker), which shows the count is the
// retries' doing; and
// `retries: n` covers n.
func TestReplicasDeadAtOnceCostNoRequestUpToRetries(t *testing.T) {
	for _, b := range liveBalancers(t) {
		t.Run(b.kind, func(t *testing.T) {
			for _, c := range []struct {
				lb   string
				dead int
				fail int // 0: none may fail; 1: some do
			}{
				{"{path: /}", 2, 0},
				{"{path: /, retries: 3}", 3, 0},
				{"{path: /, retries: 1}", 2, 1},
			} {
				if b.kind == spec.KindHAProxy && c.fail != 0 {
					continue // HAProxy redispatches a refused connect on its own
				}
				addrs := []string{backend(t, "a"), backend(t, "b")}
				for i := 0; i < c.dead; i++ {
					addrs = append(addrs, refused(t, 2+i))
				}
				renderLive(t, b, c.lb, addrs...)
				client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
				failed := 0
				for i := 0; i < 30; i++ {
					if code, _ := timedGet(client, "GET", "http://"+b.listen+"/"); code != 200 {
						failed++
					}
				}
				if (failed == 0) != (c.fail == 0) {
					t.Errorf("lb %s, %d dead side by side: %d of 30 requests failed, want %s", c.lb, c.dead, failed, map[bool]string{true: "none", false: "some"}[c.fail == 0])
				}
			}
		})
	}
}
