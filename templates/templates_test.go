package templates

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenRoot is the directory the golden specs are read from: a name with
// a space, a ';' and a '#', which every derived path (access log,
// certificates) carries into the config, quoted.
const goldenRoot = "/srv/baton golden; x #"

const goldenSpec = `
project: shop
nginx: {config: baton.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:8080", access_log: logs/access.log}
apps:
  - name: web
    image: web:1
    port: 8080
    lb: {path: /, method: least_conn, keepalive: 32}
  - name: api
    image: api:1
    port: 9000
    lb:
      host: [api.example.com, api.example.org]
      path: /v1
      method: ip_hash
      connect_timeout: 500ms
      read_timeout: 1h
      send_timeout: 30s
      max_body: 10m
      retries: 0
      max_fails: 0
  - name: admin
    image: admin:1
    port: 9000
    lb: {path: /admin, retries: 3, max_fails: 5, fail_timeout: 30s, max_body: 0}
  - name: tenants
    image: tenants:1
    port: 8080
    lb: {host: "*.example.com"}
  - name: worker
    image: worker:1
`

// goldenTLSSpec: hosts with a certificate and key, one certificate per
// host from a directory (a wildcard among them), a default host, HSTS, a
// host that serves plain HTTP as well, a host without TLS, and an app that
// shares a TLS host.
const goldenTLSSpec = `
project: edge-site
nginx: {config: baton.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "0.0.0.0:80", listen_tls: "0.0.0.0:443"}
apps:
  - name: shop
    image: shop:1
    port: 8080
    lb: {host: [shop.example.com, www.shop.example.com], default: true, tls: {cert: certs/shop.crt, key: certs/shop.key, hsts: 8760h}}
  - name: api
    image: api:1
    port: 8080
    lb: {host: shop.example.com, path: /api, read_timeout: 10m}
  - name: tenants
    image: tenants:1
    port: 8080
    lb: {host: ["*.tenants.example.com", tenants.example.com], tls: {dir: certs/by-host}}
  - name: legacy
    image: legacy:1
    port: 8080
    lb: {host: legacy.example.com, tls: {cert: certs/legacy.pem, redirect: false}}
  - name: plain
    image: plain:1
    port: 8080
    lb: {host: plain.example.com}
`

// goldenHAProxyTLSSpec is goldenTLSSpec for HAProxy, whose keys are in the
// certificate file or beside it as <cert>.key.
const goldenHAProxyTLSSpec = `
project: edge-site
nginx: {kind: haproxy, config: baton.cfg, test: [haproxy, -c], reload: [systemctl, reload, haproxy], listen: "0.0.0.0:80", listen_tls: "0.0.0.0:443"}
apps:
  - name: shop
    image: shop:1
    port: 8080
    lb: {host: [shop.example.com, www.shop.example.com], default: true, tls: {cert: certs/shop.crt, key: certs/shop.crt.key, hsts: 8760h}}
  - name: api
    image: api:1
    port: 8080
    lb: {host: shop.example.com, path: /api, read_timeout: 10m}
  - name: tenants
    image: tenants:1
    port: 8080
    lb: {host: ["*.tenants.example.com", tenants.example.com], tls: {dir: certs/by-host}}
  - name: legacy
    image: legacy:1
    port: 8080
    lb: {host: legacy.example.com, tls: {cert: certs/legacy.pem, redirect: false}}
  - name: plain
    image: plain:1
    port: 8080
    lb: {host: plain.example.com}
`

// goldenSharedSpec is a second project in an nginx another project's
// config already holds the default server of: no catch-all server, HTTPS
// on a port other than 443.
const goldenSharedSpec = `
project: second-shop
nginx: {config: second.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:8080", listen_tls: "127.0.0.1:8443", default_server: false}
apps:
  - name: web
    image: web:1
    port: 8080
    lb: {host: second.example.com, tls: {cert: tls/second.pem}}
`

// goldenHAProxySpec is goldenSpec for HAProxy, which has no access log.
var goldenHAProxySpec = strings.Replace(goldenSpec,
	`nginx: {config: baton.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:8080", access_log: logs/access.log}`,
	`nginx: {kind: haproxy, config: baton.cfg, test: [haproxy, -c], reload: [systemctl, reload, haproxy], listen: "127.0.0.1:8080"}`, 1)

// goldenNoDefaultCertSpec: HTTPS for one host, and a catch-all default
// server (an app without host) that has no certificate: nginx refuses the
// handshake for a name no server has a certificate for
// (ssl_reject_handshake), HAProxy does the same with strict-sni.
const goldenNoDefaultCertSpec = `
project: strict
nginx: {kind: %s, config: baton.conf, test: [true], reload: [true], listen: "127.0.0.1:8080", listen_tls: "127.0.0.1:8443"}
apps:
  - name: site
    image: site:1
    port: 8080
    lb: {host: site.example.com, tls: {cert: certs/site.pem}}
  - name: rest
    image: rest:1
    port: 8080
    lb: {path: /}
`

// goldenDefaultHostNoCertSpec: the default server is an app's host
// (lb.default) without a certificate, beside a host with one: the
// handshake for an unknown name is refused as in goldenNoDefaultCertSpec.
const goldenDefaultHostNoCertSpec = `
project: strict
nginx: {kind: %s, config: baton.conf, test: [true], reload: [true], listen: "127.0.0.1:8080", listen_tls: "127.0.0.1:8443"}
apps:
  - name: site
    image: site:1
    port: 8080
    lb: {host: site.example.com, tls: {cert: certs/site.pem}}
  - name: main
    image: main:1
    port: 8080
    lb: {host: main.example.com, default: true}
`

type goldenCase struct {
	golden, tmpl, spec string
	members            map[string]int
}

var goldenCases = []goldenCase{
	{"nginx-apps.conf", Default, goldenSpec, map[string]int{"web": 3, "api": 2, "admin": 1, "tenants": 1}},
	{"nginx-no-ready-replica.conf", Default, goldenSpec, map[string]int{"web": 2}},
	{"nginx-tls.conf", Default, goldenTLSSpec, map[string]int{"shop": 2, "api": 1, "tenants": 1, "legacy": 1, "plain": 1}},
	{"nginx-shared.conf", Default, goldenSharedSpec, map[string]int{"web": 1}},
	{"nginx-tls-no-default-cert.conf", Default, fmt.Sprintf(goldenNoDefaultCertSpec, spec.KindNginx), map[string]int{"site": 1, "rest": 1}},
	{"nginx-tls-default-host-no-cert.conf", Default, fmt.Sprintf(goldenDefaultHostNoCertSpec, spec.KindNginx), map[string]int{"site": 1, "main": 1}},
	{"haproxy-apps.cfg", HAProxy, goldenHAProxySpec, map[string]int{"web": 3, "api": 2, "admin": 1, "tenants": 1}},
	{"haproxy-no-ready-replica.cfg", HAProxy, goldenHAProxySpec, map[string]int{"web": 2}},
	{"haproxy-tls.cfg", HAProxy, goldenHAProxyTLSSpec, map[string]int{"shop": 2, "api": 1, "tenants": 1, "legacy": 1, "plain": 1}},
	{"haproxy-tls-no-default-cert.cfg", HAProxy, fmt.Sprintf(goldenNoDefaultCertSpec, spec.KindHAProxy), map[string]int{"site": 1, "rest": 1}},
	{"haproxy-tls-default-host-no-cert.cfg", HAProxy, fmt.Sprintf(goldenDefaultHostNoCertSpec, spec.KindHAProxy), map[string]int{"site": 1, "main": 1}},
}

func members(apps map[string]int) []fleet.Container {
	var out []fleet.Container
	port := 32768
	names := make([]string, 0, len(apps))
	for app := range apps {
		names = append(names, app)
	}
	sort.Strings(names)
	for _, app := range names {
		for i := 0; i < apps[app]; i++ {
			out = append(out, fleet.Container{ID: fmt.Sprint(port), App: app, Replica: i, State: "running", Addr: fmt.Sprintf("127.0.0.1:%d", port)})
			port++
		}
	}
	return out
}

// render parses a golden case's spec as if read from root and renders it.
func (c goldenCase) render(t *testing.T, root string, ms []fleet.Container) ([]byte, plan.LBView) {
	t.Helper()
	s, err := spec.Parse(filepath.Join(root, "baton.yaml"), []byte(c.spec))
	if err != nil {
		t.Fatal(err)
	}
	text, err := Builtin(c.tmpl)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := Parse(c.tmpl, text)
	if err != nil {
		t.Fatal(err)
	}
	v := plan.Balancer(s, ms)
	got, err := Render(tm, v)
	if err != nil {
		t.Fatal(err)
	}
	return got, v
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.golden, func(t *testing.T) {
			ms := members(c.members)
			got, _ := c.render(t, goldenRoot, ms)
			path := filepath.Join("..", "testdata", "golden", c.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./templates -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("render differs from %s (run with -update after checking):\n%s", path, got)
			}
			// Member order must not matter.
			rev := append([]fleet.Container(nil), ms...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			again, _ := c.render(t, goldenRoot, rev)
			if string(again) != string(got) {
				t.Error("render depends on member order")
			}
		})
	}
}

// BenchmarkRender renders the nginx config for 1,000 and 10,000 ready
// containers over apps of 500: the pure cost of one lb render pass beyond
// the list call.
func BenchmarkRender(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			apps := (n + 499) / 500
			yaml := "nginx: {config: c.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: \"127.0.0.1:8080\"}\napps:\n"
			for a := 0; a < apps; a++ {
				yaml += fmt.Sprintf("  - {name: app%d, image: img:1, port: 8080, replicas: %d, lb: {path: /app%d}}\n", a, n/apps, a)
			}
			s, err := spec.Parse("bench.yaml", []byte(yaml))
			if err != nil {
				b.Fatal(err)
			}
			var ms []fleet.Container
			for i := 0; i < n; i++ {
				ms = append(ms, fleet.Container{ID: fmt.Sprint(i), App: fmt.Sprintf("app%d", i%apps), State: "running", Addr: fmt.Sprintf("10.0.%d.%d:8080", i/250, i%250)})
			}
			text, _ := Builtin(Default)
			tm, err := Parse(Default, text)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Render(tm, plan.Balancer(s, ms)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestGoldenConfigsPassTheRealTest runs the balancers' own config checks on
// every golden file: what the templates render is accepted by nginx -t and
// haproxy -c, not only equal to a file. Each case is rendered again from a
// copy of the golden directory (its hostile name included) in a temporary
// directory, where openssl made the certificates the config names; that
// render must be the golden file with the directory replaced.
func TestGoldenConfigsPassTheRealTest(t *testing.T) {
	ca := testenv.NewCA(t)
	n := testenv.StartNginx(t)
	for _, c := range goldenCases {
		t.Run(c.golden, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), goldenRoot)
			got, v := c.render(t, root, members(c.members))
			want, err := os.ReadFile(filepath.Join("..", "testdata", "golden", c.golden))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != strings.ReplaceAll(string(want), goldenRoot, root) {
				t.Fatalf("render from %s is not the golden file with the directory replaced:\n%s", root, got)
			}
			issueCerts(t, ca, v)
			if v.AccessLog != "" {
				if err := os.MkdirAll(filepath.Dir(v.AccessLog), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if c.tmpl == HAProxy {
				checkHAProxy(t, got)
				return
			}
			checkNginx(t, n, got)
		})
	}
}

// issueCerts makes a certificate for every TLS server of v where the config
// expects it: for nginx the key in its own file (or in the certificate
// file when the config names the same file twice), for HAProxy in
// <cert>.key when the name ends in .crt, else in the certificate file.
func issueCerts(t *testing.T, ca *testenv.CA, v plan.LBView) {
	t.Helper()
	for _, srv := range v.Servers {
		if srv.TLS == nil {
			continue
		}
		names := []string{srv.Host}
		if srv.Host == "" {
			names = []string{"default.invalid"}
		}
		key := srv.TLS.Key
		switch {
		case v.Kind == spec.KindHAProxy && strings.HasSuffix(srv.TLS.Cert, ".crt"):
			key = srv.TLS.Cert + ".key"
		case key == srv.TLS.Cert || v.Kind == spec.KindHAProxy:
			key = ""
		}
		ca.Issue(t, srv.TLS.Cert, key, names...)
	}
}

// checkNginx writes config into n's include file and runs nginx -t.
func checkNginx(t *testing.T, n *testenv.Nginx, config []byte) {
	t.Helper()
	if err := os.WriteFile(n.Conf(), config, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := testenv.Run(t, n.Dir, n.Test()...); code != 0 {
		t.Errorf("nginx -t rejects the config:\n%s\n%s", stderr, config)
	}
}

// haproxyBase is the main file a fragment is checked beside.
const haproxyBase = "global\n    log stderr format raw daemon notice\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"

// checkHAProxy runs haproxy -c on a base file and config.
func checkHAProxy(t *testing.T, config []byte) {
	t.Helper()
	testenv.Tool(t, "haproxy")
	dir := t.TempDir()
	base, frag := filepath.Join(dir, "base.cfg"), filepath.Join(dir, "baton.cfg")
	if err := os.WriteFile(base, []byte(haproxyBase), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(frag, config, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := testenv.Run(t, "", "haproxy", "-c", "-f", base, "-f", frag); code != 0 || strings.Contains(out+errOut, "WARNING") {
		t.Errorf("haproxy -c rejects or warns about the config (exit %d):\n%s%s\n%s", code, out, errOut, config)
	}
}
