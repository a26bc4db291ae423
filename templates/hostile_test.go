package templates

// Issue 14, items 4 and 13: every value that reaches a balancer config —
// including paths the spec derives from its own directory — is quoted or
// refused by validate, and two projects' configs share one nginx. These
// tests render with the real templates and run the real nginx and haproxy.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/internal/testenv"
)

// hostileDirs are spec directory names: each is either carried into the
// config as part of one quoted path, or refused by validate.
var hostileDirs = []struct {
	name    string
	refused bool
}{
	{"x; return 200 pwned; #", false}, // the issue's example
	{"my sites", false},
	{"a{b}c", false},
	{"tab\there", true},
	{"new\nline", true},
	{"cr\rhere", true},
	{"dollar$host", true}, // nginx expands variables inside quotes
	{"q\"uote", true},
	{"single'quote", true},
	{"back\\slash", true},
	{"bell\x07", true},
	{"bad\xffutf8", true},
	{"ünïcødé €", false},
	{"semi;colon#hash", false},
	{"}; server { listen 1; }", false},
}

// backend is an HTTP server that says who it is.
func backend(t *testing.T, who string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s host=%s proto=%s", who, r.Host, r.Header.Get("X-Forwarded-Proto"))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// get GETs url with a Host header and returns status and body.
func get(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func reloadNginx(t *testing.T, n *testenv.Nginx) {
	t.Helper()
	n.ReloadAndWait(t)
}

// TestDerivedAccessLogPathIsQuotedOrRefused: a relative nginx.access_log is
// joined to the spec's directory. A directory named like a directive must
// not add one (nginx answered "pwned" on 3d79f4a), a space must not break
// the render, and what a quote cannot carry is refused by validate naming
// the field. An accepted path is the file nginx really writes.
func TestDerivedAccessLogPathIsQuotedOrRefused(t *testing.T) {
	n := testenv.StartNginx(t)
	addr := backend(t, "web")
	text, _ := Builtin(Default)
	tm, err := Parse(Default, text)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range hostileDirs {
		t.Run(fmt.Sprintf("%q", d.name), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), d.name)
			if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
				t.Skipf("the file system refuses the name: %v", err)
			}
			y := fmt.Sprintf("project: hostile\nnginx: {config: baton.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: %q, access_log: logs/access.log}\napps:\n  - {name: web, image: web:1, port: 8080, lb: {path: /}}\n", n.Listen)
			s, err := spec.Parse(filepath.Join(dir, "baton.yaml"), []byte(y))
			if d.refused {
				if err == nil || !strings.Contains(err.Error(), "nginx.access_log") {
					t.Fatalf("want validate to refuse the derived path naming nginx.access_log, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("a path a quote carries was refused: %v", err)
			}
			out, err := Render(tm, plan.Balancer(s, []fleet.Container{{ID: "1", App: "web", State: "running", Addr: addr}}))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(n.Conf(), out, 0o644); err != nil {
				t.Fatal(err)
			}
			reloadNginx(t, n)
			code, body := get(t, "http://"+n.Listen+"/", "any.example")
			if code != 200 || !strings.HasPrefix(body, "web ") {
				t.Fatalf("nginx answered %d %q, want the app's answer:\n%s", code, body, out)
			}
			logPath := filepath.Join(dir, "logs", "access.log")
			deadline := time.Now().Add(3 * time.Second)
			for {
				b, _ := os.ReadFile(logPath)
				if strings.Contains(string(b), "baton1 ") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("nginx did not log to %q:\n%s", logPath, out)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestDerivedCertificatePathsAreQuotedOrRefused: the same for certificate
// and key paths (relative, and in a tls.dir), for nginx and HAProxy: an
// accepted path holds the certificate the balancer really loads (its own
// check fails on a path it parsed differently), a refused one is named.
func TestDerivedCertificatePathsAreQuotedOrRefused(t *testing.T) {
	n := testenv.StartNginx(t)
	ca := testenv.NewCA(t)
	for _, kind := range []string{spec.KindNginx, spec.KindHAProxy} {
		for _, d := range hostileDirs {
			t.Run(fmt.Sprintf("%s/%q", kind, d.name), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), d.name)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Skipf("the file system refuses the name: %v", err)
				}
				y := fmt.Sprintf(`project: hostile
nginx: {kind: %s, config: baton.conf, test: [t], reload: [r], listen: "127.0.0.1:18080", listen_tls: "127.0.0.1:18443"}
apps:
  - {name: web, image: web:1, port: 8080, lb: {host: web.example.com, tls: {cert: certs/web.crt}}}
  - {name: api, image: api:1, port: 8080, lb: {host: [api.example.com, "*.api.example.com"], tls: {dir: by-host}}}
`, kind)
				s, err := spec.Parse(filepath.Join(dir, "baton.yaml"), []byte(y))
				if d.refused {
					if err == nil || !strings.Contains(err.Error(), "apps[0].lb.tls.cert") || !strings.Contains(err.Error(), "apps[1].lb.tls.dir") {
						t.Fatalf("want validate to refuse the derived paths naming the fields, got %v", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("paths a quote carries were refused: %v", err)
				}
				tmpl := ForKind(kind)
				text, _ := Builtin(tmpl)
				tm, err := Parse(tmpl, text)
				if err != nil {
					t.Fatal(err)
				}
				v := plan.Balancer(s, []fleet.Container{{ID: "1", App: "web", State: "running", Addr: "127.0.0.1:1"}, {ID: "2", App: "api", State: "running", Addr: "127.0.0.1:2"}})
				issueCerts(t, ca, v)
				for _, f := range v.Files {
					if !strings.HasPrefix(f, dir+"/") {
						t.Errorf("referenced file %q is not under the spec's directory", f)
					}
				}
				out, err := Render(tm, v)
				if err != nil {
					t.Fatal(err)
				}
				if kind == spec.KindHAProxy {
					checkHAProxy(t, out)
				} else {
					checkNginx(t, n, out)
				}
			})
		}
	}
}

// TestTwoProjectsWithAnAppOfTheSameNameShareOneNginx: two projects, each
// with an app "web", write their configs into one nginx. On 3d79f4a nginx
// refused the pair (duplicate upstream "baton_web"); now each project's
// names carry the project and each listener reaches its own app.
func TestTwoProjectsWithAnAppOfTheSameNameShareOneNginx(t *testing.T) {
	n := testenv.StartNginx(t)
	text, _ := Builtin(Default)
	tm, err := Parse(Default, text)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	listens := map[string]string{"shop": n.Listen, "blog": fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	for _, project := range []string{"shop", "blog"} {
		y := fmt.Sprintf("project: %s\nnginx: {config: %s.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: %q, access_log: %s.log}\napps:\n  - {name: web, image: web:1, port: 8080, lb: {path: /, keepalive: 4}}\n", project, project, listens[project], project)
		s, err := spec.Parse(filepath.Join(dir, "baton.yaml"), []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		out, err := Render(tm, plan.Balancer(s, []fleet.Container{{ID: project, App: "web", State: "running", Addr: backend(t, project)}}))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(n.Dir, "conf.d", project+".conf"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reloadNginx(t, n)
	for project, listen := range listens {
		if code, body := get(t, "http://"+listen+"/", "x.example"); code != 200 || !strings.HasPrefix(body, project+" ") {
			t.Errorf("%s's listener answered %d %q", project, code, body)
		}
	}
}

// TestTwoProjectsShareOneAddressByHost: the usual production shape — one
// nginx on one address, each project with its own hosts, one of them
// holding the default server (default_server: false in the other), both
// with HTTPS on one port.
func TestTwoProjectsShareOneAddressByHost(t *testing.T) {
	n := testenv.StartNginx(t)
	ca := testenv.NewCA(t)
	tlsListen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dir := t.TempDir()
	text, _ := Builtin(Default)
	tm, err := Parse(Default, text)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ project, host, extra string }{
		{"shop", "shop.example.com", ""},
		{"blog", "blog.example.com", ", default_server: false"},
	} {
		y := fmt.Sprintf("project: %s\nnginx: {config: c.conf, test: [t], reload: [r], listen: %q, listen_tls: %q%s}\napps:\n  - {name: web, image: web:1, port: 8080, lb: {host: %s, tls: {cert: %s.pem}}}\n", p.project, n.Listen, tlsListen, p.extra, p.host, p.project)
		s, err := spec.Parse(filepath.Join(dir, "baton.yaml"), []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		v := plan.Balancer(s, []fleet.Container{{ID: p.project, App: "web", State: "running", Addr: backend(t, p.project)}})
		issueCerts(t, ca, v)
		out, err := Render(tm, v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(n.Dir, "conf.d", p.project+".conf"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reloadNginx(t, n)
	_, port, _ := net.SplitHostPort(tlsListen)
	for _, p := range []string{"shop", "blog"} {
		host := p + ".example.com"
		out, errOut, code := testenv.Run(t, "", "curl", "-sS", "--http2", "--cacert", ca.Cert, "--resolve", host+":"+port+":127.0.0.1", "-w", " %{http_version}", "https://"+host+":"+port+"/")
		if code != 0 || !strings.HasPrefix(out, p+" host="+host+" proto=https") || !strings.HasSuffix(out, " 2") {
			t.Errorf("%s over HTTPS: exit %d %q %s", host, code, out, errOut)
		}
	}
	if code, body := get(t, "http://"+n.Listen+"/", "unknown.example"); code != 404 {
		t.Errorf("an unknown host got %d %q, want the default server's 404", code, body)
	}
}
