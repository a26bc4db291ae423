package commands_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// getLoop sends GETs with Connection: close to url (Host host) from n
// goroutines until stop is closed, at most max requests and limit time in
// all, and counts the answers that were not a 200.
type getLoop struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstFail  string
	wg         sync.WaitGroup
	stop       chan struct{}
}

func startLoad(url, host string, n int, max int64, limit time.Duration) *getLoop {
	l := &getLoop{stop: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	for i := 0; i < n; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil && l.ok.Load()+l.failed.Load() < max {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Host = host
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				switch {
				case ctx.Err() != nil:
					return
				case err == nil && resp.StatusCode == 200:
					l.ok.Add(1)
				default:
					l.failed.Add(1)
					l.mu.Lock()
					if l.firstFail == "" {
						if err != nil {
							l.firstFail = err.Error()
						} else {
							l.firstFail = resp.Status
						}
					}
					l.mu.Unlock()
				}
			}
		}()
	}
	go func() { l.wg.Wait(); cancel() }()
	return l
}

// end stops the loop and returns the counts.
func (l *getLoop) end() (ok, failed int64, first string) {
	close(l.stop)
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load(), l.firstFail
}

// TestHAProxyServesScalesAndRollsWithoutDroppingConnections (issue 16,
// item 5): baton drives a real haproxy in master-worker mode. Plain HTTP
// and HTTPS with HTTP/2 (an openssl-made certificate, the key beside it as
// <cert>.key) reach every replica; plain HTTP to the TLS host redirects;
// under a GET loop with Connection: close, scale changes and a rollout
// reload haproxy (SIGUSR2 to the master) without one failed request; a
// WebSocket opened before them ends with a clean close (1001) when the
// rollout replaces its replica.
func TestHAProxyServesScalesAndRollsWithoutDroppingConnections(t *testing.T) {
	e := newE2E(t)
	h := testenv.StartHAProxy(t)
	ca := testenv.NewCA(t)
	const secure = "secure.example.com"
	ca.Issue(t, filepath.Join(e.dir, "certs", "secure.crt"), filepath.Join(e.dir, "certs", "secure.crt.key"), secure)
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	_, plainPort, _ := net.SplitHostPort(h.Listen)
	spec := func(web int, image string) {
		e.writeEdgeSpec(haproxyBalancer(h), "  listen_tls: "+tlsAddr+"\n", edgeApp{
			// HAProxy's reload is asynchronous and slower than nginx's (the
			// master re-executes itself; its old workers keep accepting
			// until the new ones run, 0.2-0.6 s here): drain covers it.
			name: "web", image: image, replicas: web, lb: "{path: /, read_timeout: 2m}", drain: "2s",
		}, edgeApp{
			name: "secure", image: "baton-test:v1", replicas: 1, lb: "{host: " + secure + ", tls: {cert: certs/secure.crt}}", drain: "2s",
		})
	}
	spec(3, "baton-test:v1")
	if out, errOut, code := e.baton("scale"); code != 0 {
		t.Fatalf("scale: exit %d\n%s%s\n%s", code, out, errOut, h.Log())
	}
	waitListening(t, h.Listen)
	waitListening(t, tlsAddr)

	seen := map[string]bool{}
	for i := 0; i < 12; i++ {
		out, errOut, code := curl(t, "-H", "Host: any.example", "http://"+h.Listen+"/")
		if code != 0 || !strings.HasPrefix(out, "hello from web-") {
			t.Fatalf("GET through haproxy: exit %d %q %s", code, out, errOut)
		}
		seen[out] = true
	}
	if len(seen) != 3 {
		t.Errorf("haproxy reached %d replicas, want 3: %v", len(seen), seen)
	}
	out, errOut, code := curl(t, "--http2", "--cacert", ca.Cert, "--resolve", secure+":"+tlsPort+":127.0.0.1", "-w", "\n%{http_version}", "https://"+secure+":"+tlsPort+"/headers")
	for _, want := range []string{"x-forwarded-proto: https", "x-forwarded-host: " + secure, "x-forwarded-for: 127.0.0.1", "x-real-ip: 127.0.0.1", "\n2"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("HTTPS through haproxy: exit %d, want %q in %q %s", code, want, out, errOut)
		}
	}
	out, errOut, code = curl(t, "--resolve", secure+":"+plainPort+":127.0.0.1", "-o", "/dev/null", "-w", "%{response_code} %{redirect_url}", "http://"+secure+":"+plainPort+"/x?y=1")
	if code != 0 || out != fmt.Sprintf("301 https://%s:%s/x?y=1", secure, tlsPort) {
		t.Errorf("plain HTTP to the TLS host: exit %d %q %s", code, out, errOut)
	}
	if out, _, _ := curl(t, "-H", "Host: any.example", "http://"+h.Listen+"/nowhere/../"); !strings.HasPrefix(out, "hello from web-") {
		t.Errorf("the default server's app does not answer: %q", out)
	}

	ws, err := dialWS(h.Listen, "any.example")
	if err != nil {
		t.Fatalf("WebSocket through haproxy: %v", err)
	}
	defer ws.Close()

	load := startLoad("http://"+h.Listen+"/", "any.example", 4, 50000, 3*time.Minute)
	steps := []struct {
		web   int
		image string
	}{{4, "baton-test:v1"}, {2, "baton-test:v1"}, {3, "baton-test:v2"}, {1, "baton-test:v2"}, {3, "baton-test:v2"}}
	for _, s := range steps {
		spec(s.web, s.image)
		if out, errOut, code := e.baton("scale"); code != 0 {
			load.end()
			t.Fatalf("scale to %d %s: exit %d\n%s%s\n%s", s.web, s.image, code, out, errOut, h.Log())
		}
		time.Sleep(500 * time.Millisecond)
	}
	ok, failed, first := load.end()
	t.Logf("%d GETs through haproxy over %d scale changes and a rollout: %d failed", ok+failed, len(steps)-1, failed)
	if failed != 0 || ok < 100 {
		t.Errorf("%d of %d GETs failed (first: %s)\nhaproxy:\n%s", failed, ok+failed, first, h.Log())
	}
	// Its replica ran v1, which the rollout replaced.
	if code, err := ws.AwaitClose(15 * time.Second); err != nil || code != 1001 {
		t.Errorf("the WebSocket of a replaced replica: close code %d, %v", code, err)
	}
}
