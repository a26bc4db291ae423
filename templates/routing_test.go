package templates

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// TestHostsWildcardsAndTheDefaultServerRouteAlike: several hosts per app,
// a wildcard, path routing on a shared host, a default host and a 404 for
// an unclaimed path, served by the real nginx and the real haproxy from
// the same spec, with the same answers.
func TestHostsWildcardsAndTheDefaultServerRouteAlike(t *testing.T) {
	shop, api, tenants, other := backend(t, "shop"), backend(t, "api"), backend(t, "tenants"), backend(t, "other")
	for _, b := range liveBalancers(t) {
		t.Run(b.kind, func(t *testing.T) {
			y := fmt.Sprintf(`project: routing
nginx: {kind: %s, config: c.conf, test: [t], reload: [r], listen: %q}
apps:
  - {name: shop, image: x:1, port: 80, lb: {host: [shop.example.com, www.shop.example.com], default: true}}
  - {name: api, image: x:1, port: 80, lb: {host: shop.example.com, path: /api}}
  - {name: tenants, image: x:1, port: 80, lb: {host: ["*.tenants.example.com"]}}
  - {name: other, image: x:1, port: 80, lb: {host: other.example.com, path: /only}}
`, b.kind, b.listen)
			s, err := spec.Parse(filepath.Join(t.TempDir(), "baton.yaml"), []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			ms := []fleet.Container{
				{ID: "1", App: "shop", State: "running", Addr: shop},
				{ID: "2", App: "api", State: "running", Addr: api},
				{ID: "3", App: "tenants", State: "running", Addr: tenants},
				{ID: "4", App: "other", State: "running", Addr: other},
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
			for _, c := range []struct{ host, path, want string }{
				{"shop.example.com", "/", "shop"},
				{"www.shop.example.com", "/cart", "shop"},
				{"SHOP.example.com:8080", "/", "shop"},
				{"shop.example.com", "/api/v1", "api"},
				{"www.shop.example.com", "/api", "shop"}, // /api is shop.example.com's only
				{"a.tenants.example.com", "/", "tenants"},
				{"a.b.tenants.example.com", "/x", "tenants"},
				{"tenants.example.com", "/", "shop"}, // the wildcard does not name the bare domain: default
				{"unknown.example", "/", "shop"},
				{"unknown.example", "/api", "api"}, // served as for the default host, whose /api is api
				{"other.example.com", "/only/x", "other"},
				{"other.example.com", "/", "404"},
			} {
				code, body := get(t, "http://"+b.listen+c.path, c.host)
				got := strings.SplitN(body, " ", 2)[0]
				if code == 404 {
					got = "404"
				}
				if got != c.want {
					t.Errorf("Host %s path %s: %d %q, want %s", c.host, c.path, code, body, c.want)
				}
			}
		})
	}
}
