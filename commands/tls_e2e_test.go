package commands_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// servedSerial is the serial number of the certificate the balancer at
// addr presents for host (SNI).
func servedSerial(t *testing.T, addr, host string) string {
	t.Helper()
	cmd := exec.Command("openssl", "s_client", "-connect", addr, "-servername", host)
	cmd.Stdin = strings.NewReader("")
	pem, _ := cmd.Output()
	x := exec.Command("openssl", "x509", "-noout", "-serial")
	x.Stdin = bytes.NewReader(pem)
	out, err := x.Output()
	if err != nil {
		t.Fatalf("no certificate served at %s for %s: %v", addr, host, err)
	}
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(string(out)), "serial="))
}

// TestTLSWithRenewalsOverHTTP2 (issue 16, acceptance 1): with a CA made by
// openssl in the test, HTTPS with HTTP/2 reaches every replica and carries
// the forwarded headers; plain HTTP redirects to the same URL over HTTPS; a
// renewed certificate written over the old files is served after the next
// pass; a corrupt one fails the pass's test while the old one keeps
// serving; no certificate or key material appears in any output or event.
func TestTLSWithRenewalsOverHTTP2(t *testing.T) {
	e := newE2E(t)
	ca := testenv.NewCA(t)
	const host = "web.example.com"
	cert, key := filepath.Join(e.dir, "certs", "web.crt"), filepath.Join(e.dir, "certs", "web.key")
	first := ca.Issue(t, cert, key, host)
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	_, plainPort, _ := net.SplitHostPort(e.nginx.Listen)
	resolve := func(port string) string { return host + ":" + port + ":127.0.0.1" }
	base := "https://" + host + ":" + tlsPort
	e.writeEdgeSpec(nginxBalancer(e.nginx), "  listen_tls: "+tlsAddr+"\n", edgeApp{
		name: "web", image: "baton-test:v1", replicas: 3,
		lb: "{host: " + host + ", tls: {cert: certs/web.crt, key: certs/web.key, hsts: 1h}}",
	})
	var outputs []string
	run := func(code int, args ...string) string {
		t.Helper()
		out, errOut, got := e.baton(args...)
		outputs = append(outputs, out, errOut)
		if got != code {
			t.Fatalf("baton %v: exit %d, want %d\n%s%s", args, got, code, out, errOut)
		}
		return errOut
	}
	run(0, "scale")
	// nginx -s reload only signals the master, which opens the new HTTPS
	// listener a moment later.
	waitListening(t, tlsAddr)

	// Every replica over HTTP/2, each request a new connection.
	seen := map[string]bool{}
	for i := 0; i < 12; i++ {
		out, errOut, code := curl(t, "--http2", "--cacert", ca.Cert, "--resolve", resolve(tlsPort), "-w", "\n%{http_version} %{response_code}", base+"/")
		if code != 0 || !strings.HasSuffix(out, "\n2 200") {
			t.Fatalf("GET over HTTPS: exit %d %q %s", code, out, errOut)
		}
		seen[strings.SplitN(out, "\n", 2)[0]] = true
	}
	if len(seen) != 3 {
		t.Errorf("HTTPS reached %d replicas, want 3: %v", len(seen), seen)
	}
	out, _, _ := curl(t, "--http2", "--cacert", ca.Cert, "--resolve", resolve(tlsPort), "-D", "-", base+"/headers")
	for _, want := range []string{"x-forwarded-proto: https", "x-forwarded-host: " + host, "x-forwarded-port: " + tlsPort, "x-real-ip: 127.0.0.1", "x-forwarded-for: 127.0.0.1", "host: " + host, "connection: \n", "strict-transport-security: max-age=3600"} {
		if !strings.Contains(strings.ToLower(out), want) {
			t.Errorf("the replica or the client did not get %q:\n%s", want, out)
		}
	}

	// Plain HTTP: a redirect to the same URL over HTTPS.
	out, errOut, code := curl(t, "--resolve", resolve(plainPort), "-o", "/dev/null", "-w", "%{response_code} %{redirect_url}", "http://"+host+":"+plainPort+"/a/b?c=d")
	if code != 0 || out != "301 "+base+"/a/b?c=d" {
		t.Errorf("plain HTTP: exit %d %q %s", code, out, errOut)
	}
	if got := servedSerial(t, tlsAddr, host); got != first {
		t.Fatalf("served serial %s, want %s", got, first)
	}

	// A renewal writes over the old files; the next pass picks it up.
	renewed := ca.Issue(t, cert, key, host)
	if renewed == first {
		t.Fatal("the renewal has the old serial")
	}
	if out := e.mustBaton(0, "--dry-run", "-o", "json", "lb", "render"); !strings.Contains(out, `"reloaded": true`) || strings.Contains(out, `"diff"`) {
		t.Errorf("dry run after a renewal: want a reload and no diff:\n%s", out)
	}
	run(0, "lb", "render")
	if got := awaitSerial(t, tlsAddr, host, renewed); got != renewed {
		t.Errorf("after the pass the balancer serves serial %s, want the renewed %s", got, renewed)
	}
	if out, _, _ := e.baton("lb", "render"); out != "" {
		t.Errorf("a second pass after the renewal did something:\n%s", out)
	}

	// A corrupt certificate fails the test; the renewed one keeps serving.
	pemBefore, _ := os.ReadFile(cert)
	if err := os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	errOut = run(1, "lb", "render")
	if !strings.Contains(errOut, "test command") || !strings.Contains(errOut, "web.crt") {
		t.Errorf("want the test's own message naming the file:\n%s", errOut)
	}
	if got := servedSerial(t, tlsAddr, host); got != renewed {
		t.Errorf("with a corrupt certificate on disk the balancer serves %s, want the loaded %s", got, renewed)
	}
	if out, errOut, code := curl(t, "--http2", "--cacert", ca.Cert, "--resolve", resolve(tlsPort), base+"/"); code != 0 || !strings.HasPrefix(out, "hello from web-") {
		t.Errorf("HTTPS with a corrupt certificate on disk: exit %d %q %s", code, out, errOut)
	}
	// A scale change while the certificate is broken keeps the old replicas.
	e.writeEdgeSpec(nginxBalancer(e.nginx), "  listen_tls: "+tlsAddr+"\n", edgeApp{
		name: "web", image: "baton-test:v1", replicas: 2,
		lb: "{host: " + host + ", tls: {cert: certs/web.crt, key: certs/web.key, hsts: 1h}}",
	})
	run(1, "scale")
	if n := len(e.running()); n != 3 {
		t.Errorf("a scale-in whose balancer test failed left %d replicas, want the 3 nginx may route to", n)
	}

	// Fixed by the next renewal: served after the next pass.
	fixed := ca.Issue(t, cert, key, host)
	run(0, "scale")
	if got := awaitSerial(t, tlsAddr, host, fixed); got != fixed {
		t.Errorf("after the fix the balancer serves %s, want %s", got, fixed)
	}
	if n := len(e.running()); n != 2 {
		t.Errorf("%d replicas after the fixed pass, want 2", n)
	}

	// No certificate or key material anywhere baton wrote or printed.
	events, _ := os.ReadFile(strings.TrimSuffix(e.state, ".json") + ".events.jsonl")
	keyPEM, _ := os.ReadFile(key)
	all := strings.Join(outputs, "\n") + string(events)
	for _, secret := range []string{"BEGIN", pemLine(pemBefore), pemLine(keyPEM)} {
		if secret != "" && strings.Contains(all, secret) {
			t.Errorf("baton's output or events contain certificate or key material %q", secret)
		}
	}
}

// awaitSerial waits up to 5 s for the balancer to serve the certificate
// with serial want (nginx -s reload returns before the new workers run) and
// returns the serial served last.
func awaitSerial(t *testing.T, addr, host, want string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := servedSerial(t, addr, host)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitListening waits up to 5 s for a listener at addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens at %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pemLine is the first base64 line of a PEM file.
func pemLine(b []byte) string {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}
