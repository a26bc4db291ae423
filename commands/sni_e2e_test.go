package commands_test

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// TestHandshakeForAnUnknownNameIsRefused (issue 16): when the default
// server has no certificate, the real nginx (ssl_reject_handshake) and the
// real HAProxy (strict-sni) that baton configures refuse an HTTPS
// handshake for a name no host has a certificate for, or without a name,
// instead of presenting the certificate of another host; the known name
// is served over HTTPS, and the unknown one over plain HTTP by the
// default server's app.
func TestHandshakeForAnUnknownNameIsRefused(t *testing.T) {
	for _, kind := range []string{"nginx", "haproxy"} {
		t.Run(kind, func(t *testing.T) {
			e := newE2E(t)
			ca := testenv.NewCA(t)
			const known, unknown = "site.example.com", "unknown.example"
			cert := filepath.Join(e.dir, "certs", "site.pem")
			ca.Issue(t, cert, "", known) // the key in the certificate file
			tlsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
			_, tlsPort, _ := net.SplitHostPort(tlsAddr)
			b, log := nginxBalancer(e.nginx), func() string { return "" }
			if kind == "haproxy" {
				h := testenv.StartHAProxy(t)
				b, log = haproxyBalancer(h), h.Log
			}
			e.writeEdgeSpec(b, "  listen_tls: "+tlsAddr+"\n", edgeApp{
				name: "site", image: "baton-test:v1", replicas: 1, drain: "2s",
				lb: "{host: " + known + ", tls: {cert: certs/site.pem}}",
			}, edgeApp{
				name: "rest", image: "baton-test:v1", replicas: 1, drain: "2s", lb: "{path: /}",
			})
			if out, errOut, code := e.baton("scale"); code != 0 {
				t.Fatalf("scale: exit %d\n%s%s\n%s", code, out, errOut, log())
			}
			waitListening(t, b.listen)
			waitListening(t, tlsAddr)
			https := func(host string) (string, string, int) {
				return curl(t, "--cacert", ca.Cert, "--resolve", host+":"+tlsPort+":127.0.0.1", "https://"+host+":"+tlsPort+"/")
			}

			if out, errOut, code := https(known); code != 0 || !strings.HasPrefix(out, "hello from site-") {
				t.Errorf("HTTPS for %s: exit %d %q %s\n%s", known, code, out, errOut, log())
			}
			// curl exits 35 when the TLS handshake fails; 60 would be a
			// certificate served for another name.
			if out, errOut, code := https(unknown); code != 35 {
				t.Errorf("HTTPS for %s: exit %d, want 35 (a refused handshake) %q %s", unknown, code, out, errOut)
			}
			// An address sends no server name at all.
			if out, errOut, code := curl(t, "--cacert", ca.Cert, "https://"+tlsAddr+"/"); code != 35 {
				t.Errorf("HTTPS without a server name: exit %d, want 35 %q %s", code, out, errOut)
			}
			// The default server exists: plain HTTP for the unknown name
			// reaches the catch-all app.
			if out, errOut, code := curl(t, "-H", "Host: "+unknown, "http://"+b.listen+"/"); code != 0 || !strings.HasPrefix(out, "hello from rest-") {
				t.Errorf("plain HTTP for %s: exit %d %q %s", unknown, code, out, errOut)
			}
		})
	}
}
