package testenv

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// DockerProxy sits between baton and dockerd on a unix socket and counts
// the API calls that pass through it, by normalized route ("GET
// /containers/json", "POST /containers/{id}/stop").
type DockerProxy struct {
	Host string // unix://... for --docker-host

	mu    sync.Mutex
	calls map[string]int
}

var (
	versionPrefix = regexp.MustCompile(`^/v[0-9.]+`)
	idSegment     = regexp.MustCompile(`^/(containers|images|networks|volumes|exec)/([^/]+)(/.*)?$`)
)

func route(r *http.Request) string {
	p := versionPrefix.ReplaceAllString(r.URL.Path, "")
	if m := idSegment.FindStringSubmatch(p); m != nil && m[2] != "json" && m[2] != "create" && m[2] != "prune" {
		p = "/" + m[1] + "/{id}" + m[3]
	}
	return r.Method + " " + p
}

// StartDockerProxy proxies to the engine at upstream (a unix socket path;
// empty means /var/run/docker.sock, or DOCKER_HOST's socket).
func StartDockerProxy(t testing.TB) *DockerProxy {
	t.Helper()
	upstream := strings.TrimPrefix(os.Getenv("DOCKER_HOST"), "unix://")
	if upstream == "" {
		upstream = "/var/run/docker.sock"
	}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	p := &DockerProxy{Host: "unix://" + sock, calls: map[string]int{}}
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
		p.mu.Unlock()
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
