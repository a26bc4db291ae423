package spec

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLBDefaultsAndExplicitZeros(t *testing.T) {
	s, err := Parse("/srv/site/baton.yaml", []byte(`
nginx: {config: c.conf, test: [t], reload: [r], listen: "127.0.0.1:80", listen_tls: "127.0.0.1:443"}
apps:
  - {name: web, image: x:1, port: 8080, lb: {host: a.example.com, tls: {cert: a.pem}}}
  - {name: api, image: x:1, port: 8080, lb: {host: [b.example.com, "*.b.example.com"], retries: 0, max_fails: 0, max_body: 0, tls: {dir: certs, redirect: false}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	web, api := s.App("web").LB, s.App("api").LB
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"a single host is a list of one", []string(web.Host), []string{"a.example.com"}},
		{"a list of hosts", []string(api.Host), []string{"b.example.com", "*.b.example.com"}},
		{"connect timeout", web.ConnectTimeout.D, 2 * time.Second},
		{"read timeout", web.ReadTimeout.D, 60 * time.Second},
		{"send timeout", web.SendTimeout.D, 60 * time.Second},
		{"fail timeout", web.FailTimeout.D, 10 * time.Second},
		{"max body", web.MaxBody.Bytes, int64(1 << 20)},
		{"retries", *web.Retries, 2},
		{"max fails", *web.MaxFails, 1},
		{"redirect", *web.TLS.Redirect, true},
		{"explicit retries 0 kept", *api.Retries, 0},
		{"explicit max_fails 0 kept", *api.MaxFails, 0},
		{"explicit max_body 0 kept", api.MaxBody.Bytes, int64(0)},
		{"explicit redirect false kept", *api.TLS.Redirect, false},
		{"kind", s.Nginx.Kind, KindNginx},
		{"default server", s.Nginx.IsDefaultServer(), true},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	cert, key := s.TLSFiles(web, "a.example.com")
	if cert != "/srv/site/a.pem" || key != "" {
		t.Errorf("cert-mode files: %q %q", cert, key)
	}
	cert, key = s.TLSFiles(api, "*.b.example.com")
	if cert != filepath.Join("/srv/site/certs", "_wildcard.b.example.com.crt") || key != "/srv/site/certs/_wildcard.b.example.com.key" {
		t.Errorf("dir-mode files: %q %q", cert, key)
	}
}

func TestCheckConfigPath(t *testing.T) {
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{"/etc/ssl/a b;c#d{e}.pem", true},
		{"/srv/ünï/€.pem", true},
		{"/srv/$host.pem", false},
		{`/srv/a"b`, false},
		{"/srv/a'b", false},
		{`/srv/a\b`, false},
		{"/srv/a\tb", false},
		{"/srv/a\x7fb", false},
		{"/srv/a\xffb", false},
	} {
		if err := CheckConfigPath(c.path); (err == nil) != c.ok {
			t.Errorf("%q: got %v, want ok=%v", c.path, err, c.ok)
		}
	}
}

func TestHostsInAListGetTheirOwnField(t *testing.T) {
	_, err := Parse("t.yaml", []byte(`
nginx: {config: c.conf, test: [t], reload: [r], listen: "127.0.0.1:80"}
apps:
  - {name: web, image: x:1, port: 8080, lb: {host: [ok.example.com, "bad host", ok.example.com]}}
`))
	if err == nil || !strings.Contains(err.Error(), `apps[0].lb.host[1]: invalid host name "bad host"`) || !strings.Contains(err.Error(), `apps[0].lb.host[2]: host "ok.example.com" is listed twice`) {
		t.Errorf("got %v", err)
	}
}

// TestGoodEdgeSpecsResolve checks what the balancer sections of the good
// edge specs load as, given values and defaults both: the nginx edge
// (default_server, send_timeout, tls.redirect false) and the HAProxy one
// (whose keys are in or beside the certificate file).
func TestGoodEdgeSpecsResolve(t *testing.T) {
	load := func(name string) *Spec {
		t.Helper()
		s, err := Load(filepath.Join("../../testdata/specs/good", name))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	edge, ha := load("edge.yaml"), load("haproxy.yaml")
	tlsFiles := func(s *Spec, app, host string) [2]string {
		cert, key := s.TLSFiles(s.App(app).LB, host)
		return [2]string{cert, key}
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"edge kind (default)", edge.Nginx.Kind, KindNginx},
		{"edge default_server (set)", *edge.Nginx.DefaultServer, true},
		{"edge listen_tls", edge.Nginx.ListenTLS, "0.0.0.0:443"},
		{"edge web default host", edge.App("web").LB.Default, true},
		{"edge web send_timeout (set)", edge.App("web").LB.SendTimeout.D, 5 * time.Minute},
		{"edge web read_timeout (set)", edge.App("web").LB.ReadTimeout.D, time.Hour},
		{"edge api send_timeout (default)", edge.App("api").LB.SendTimeout.D, DefaultSendTimeout},
		{"edge api connect_timeout (set)", edge.App("api").LB.ConnectTimeout.D, 500 * time.Millisecond},
		{"edge web tls.redirect (default)", *edge.App("web").LB.TLS.Redirect, true},
		{"edge tenants tls.redirect (set false)", *edge.App("tenants").LB.TLS.Redirect, false},
		{"edge web hsts", edge.App("web").LB.TLS.HSTS.D, 8760 * time.Hour},
		{"edge tenants max_body 0", edge.App("tenants").LB.MaxBody.Bytes, int64(0)},
		{"edge tenants retries (default)", *edge.App("tenants").LB.Retries, DefaultRetries},
		{"edge web files", tlsFiles(edge, "web", "www.shop.example.com"), [2]string{"/etc/letsencrypt/live/shop.example.com/fullchain.pem", "/etc/letsencrypt/live/shop.example.com/privkey.pem"}},
		{"edge tenants wildcard files", tlsFiles(edge, "tenants", "*.tenants.example.com"), [2]string{"/etc/baton/certs/_wildcard.tenants.example.com.crt", "/etc/baton/certs/_wildcard.tenants.example.com.key"}},

		{"haproxy kind", ha.Nginx.Kind, KindHAProxy},
		{"haproxy default_server (default)", *ha.Nginx.DefaultServer, true},
		{"haproxy access_log (none)", ha.Nginx.AccessLog, ""},
		{"haproxy web send_timeout (set)", ha.App("web").LB.SendTimeout.D, 2 * time.Minute},
		{"haproxy tenants send_timeout (default)", ha.App("tenants").LB.SendTimeout.D, DefaultSendTimeout},
		{"haproxy tenants method", ha.App("tenants").LB.Method, "least_conn"},
		{"haproxy web tls.redirect (default)", *ha.App("web").LB.TLS.Redirect, true},
		{"haproxy status has no tls", ha.App("status").LB.TLS == nil, true},
		{"haproxy status hosts (the default server)", ha.App("status").LB.HostNames(), []string{""}},
		{"haproxy web files (key in the cert)", tlsFiles(ha, "web", "shop.example.com"), [2]string{"/etc/haproxy/certs/shop.example.com.pem", ""}},
		{"haproxy tenants files (key in or beside the cert)", tlsFiles(ha, "tenants", "tenants.example.com"), [2]string{"/etc/haproxy/certs/by-host/tenants.example.com.crt", ""}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}
