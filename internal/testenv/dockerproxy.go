package testenv

import (
	"context"
	"math/rand"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// DockerProxy sits between baton and dockerd on a unix socket. It counts
// the API calls that pass through it, by normalized route ("GET
// /containers/json", "POST /containers/{id}/stop"), and injects faults on
// a chosen share of them.
type DockerProxy struct {
	Host string // unix://... for --docker-host

	mu       sync.Mutex
	calls    map[string]int
	faults   Faults
	rng      *rand.Rand
	injected map[string]int
	before   func(route string)
}

// Before runs f (with the normalized route) before each call is proxied;
// a test blocks in it to open a race window at a chosen call.
func (p *DockerProxy) Before(f func(route string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.before = f
}

// Faults says what the proxy breaks: each call fails with probability
// Rate, by one of three faults chosen at random — an HTTP 500, a delay of
// Delay before proxying (past the client's timeout), or a dropped
// connection with no answer.
type Faults struct {
	Rate  float64
	Delay time.Duration
	Seed  int64
}

// SetFaults starts (or, with a zero Rate, stops) fault injection.
func (p *DockerProxy) SetFaults(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
	p.rng = rand.New(rand.NewSource(f.Seed))
}

// Injected returns how many faults of each kind were injected.
func (p *DockerProxy) Injected() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.injected {
		out[k] = v
	}
	return out
}

// fault picks the fault for one call, or "".
func (p *DockerProxy) fault() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.faults.Rate <= 0 || p.rng.Float64() >= p.faults.Rate {
		return ""
	}
	kind := []string{"error", "delay", "drop"}[p.rng.Intn(3)]
	p.injected[kind]++
	return kind
}

var (
	versionPrefix = regexp.MustCompile(`^/v[0-9.]+`)
	idSegment     = regexp.MustCompile(`^/(containers|images|networks|volumes|exec|services|nodes|tasks)/([^/]+)(/.*)?$`)
)

func route(r *http.Request) string {
	p := versionPrefix.ReplaceAllString(r.URL.Path, "")
	if m := idSegment.FindStringSubmatch(p); m != nil && m[2] != "json" && m[2] != "create" && m[2] != "prune" {
		p = "/" + m[1] + "/{id}" + m[3]
	}
	return r.Method + " " + p
}

// StartDockerProxy proxies to the local engine (/var/run/docker.sock, or
// DOCKER_HOST's socket).
func StartDockerProxy(t testing.TB) *DockerProxy {
	t.Helper()
	return StartDockerProxyTo(t, os.Getenv("DOCKER_HOST"))
}

// StartDockerProxyTo proxies to the engine at upstream (unix://PATH or a
// socket path; empty means /var/run/docker.sock).
func StartDockerProxyTo(t testing.TB, upstream string) *DockerProxy {
	t.Helper()
	upstream = strings.TrimPrefix(upstream, "unix://")
	if upstream == "" {
		upstream = "/var/run/docker.sock"
	}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &DockerProxy{Host: "unix://" + sock, calls: map[string]int{}, injected: map[string]int{}, rng: rand.New(rand.NewSource(1))}
	rp := &httputil.ReverseProxy{
		Director: func(r *http.Request) {
			r.URL.Scheme = "http"
			r.URL.Host = "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", upstream)
		}},
		FlushInterval: -1,
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.calls[route(r)]++
		delay, before := p.faults.Delay, p.before
		p.mu.Unlock()
		if before != nil {
			before(route(r))
		}
		switch p.fault() {
		case "error":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"message":"injected fault"}`))
			return
		case "delay":
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		case "drop":
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// Calls returns a copy of the counts and resets them.
func (p *DockerProxy) Calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.calls
	p.calls = map[string]int{}
	return out
}
