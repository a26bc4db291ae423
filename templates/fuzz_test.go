package templates

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// FuzzRender feeds hostile values for the app name, host, path and listen
// address through the spec (as a user would) and renders what validates:
// the nginx config must keep its block structure — every value stays a
// single token, so braces balance and no statement is added.
func FuzzRender(f *testing.F) {
	f.Add("web", "example.com", "/", "127.0.0.1:8080", "127.0.0.1:32768")
	f.Add("a;b", "x.com; return 200", "/a{b", "127.0.0.1:80; evil", "1.2.3.4:5")
	f.Add("web", "*.example.com", "/api/v1", "[::1]:8080", "[::1]:1")
	text, _ := Builtin(Default)
	tm, err := Parse(Default, text)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, host, path, listen, addr string) {
		y := fmt.Sprintf("nginx: {config: c.conf, test: [t], reload: [r], listen: %q, access_log: /tmp/a.log}\napps:\n  - {name: %q, image: img, port: 80, lb: {host: %q, path: %q}}\n", listen, name, host, path)
		s, err := spec.Parse("fuzz.yaml", []byte(y))
		if err != nil {
			return
		}
		// Addresses come from Docker as IP:port, never from the spec.
		if h, p, err := net.SplitHostPort(addr); err != nil || net.ParseIP(h) == nil || p == "" || strings.Trim(p, "0123456789") != "" {
			addr = "127.0.0.1:32768"
		}
		out, err := Render(tm, plan.Balancer(s, []fleet.Container{{ID: "x", App: name, State: "running", Addr: addr}}))
		if err != nil {
			t.Fatal(err)
		}
		body := string(out)
		// addr comes from Docker, not the spec; the property is about spec values.
		body = strings.ReplaceAll(body, addr, "ADDR")
		if strings.Count(body, "{") != strings.Count(body, "}") {
			t.Fatalf("unbalanced braces:\n%s", out)
		}
		if n := strings.Count(body, "server {"); n != 1+boolInt(host != "") {
			t.Fatalf("%d server blocks:\n%s", n, out)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
