package templates

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const goldenSpec = `
project: shop
nginx: {config: baton.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:8080"}
apps:
  - name: web
    image: web:1
    port: 8080
    lb: {path: /, method: least_conn, keepalive: 32}
  - name: api
    image: api:1
    port: 9000
    lb: {host: api.example.com, path: /v1, method: ip_hash}
  - name: admin
    image: admin:1
    port: 9000
    lb: {path: /admin}
  - name: worker
    image: worker:1
`

func members(apps map[string]int) []fleet.Container {
	var out []fleet.Container
	port := 32768
	for _, app := range []string{"web", "api", "admin", "worker"} {
		for i := 0; i < apps[app]; i++ {
			out = append(out, fleet.Container{ID: fmt.Sprint(port), App: app, Replica: i, State: "running", Addr: fmt.Sprintf("127.0.0.1:%d", port)})
			port++
		}
	}
	return out
}

func TestGolden(t *testing.T) {
	s, err := spec.Parse("golden.yaml", []byte(goldenSpec))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		golden, tmpl string
		members      []fleet.Container
	}{
		{"nginx-apps.conf", "nginx.conf.tmpl", members(map[string]int{"web": 3, "api": 2, "admin": 1})},
		{"nginx-no-ready-replica.conf", "nginx.conf.tmpl", members(map[string]int{"web": 2})},
		{"haproxy-apps.cfg", "haproxy.cfg.tmpl", members(map[string]int{"web": 3, "api": 2, "admin": 1})},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			text, err := Builtin(c.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			tm, err := Parse(c.tmpl, text)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Render(tm, plan.Balancer(s, c.members))
			if err != nil {
				t.Fatal(err)
			}
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
			rev := append([]fleet.Container(nil), c.members...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			again, _ := Render(tm, plan.Balancer(s, rev))
			if string(again) != string(got) {
				t.Error("render depends on member order")
			}
		})
	}
}

// BenchmarkRender1000 renders the nginx config for 1,000 ready containers
// over 10 apps: the pure cost of one lb render pass beyond the list call.
func BenchmarkRender1000(b *testing.B) {
	yaml := "nginx: {config: c.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: \"127.0.0.1:8080\"}\napps:\n"
	for a := 0; a < 10; a++ {
		yaml += fmt.Sprintf("  - {name: app%d, image: img:1, port: 8080, replicas: 100, lb: {path: /app%d}}\n", a, a)
	}
	s, err := spec.Parse("bench.yaml", []byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	var ms []fleet.Container
	for i := 0; i < 1000; i++ {
		ms = append(ms, fleet.Container{ID: fmt.Sprint(i), App: fmt.Sprintf("app%d", i%10), State: "running", Addr: fmt.Sprintf("127.0.0.1:%d", 20000+i)})
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
}

// TestGoldenConfigsPassTheRealTest runs the balancers' own config checks on
// the golden files: what the templates render is accepted by nginx -t and
// haproxy -c, not only equal to a file.
func TestGoldenConfigsPassTheRealTest(t *testing.T) {
	golden := filepath.Join(testenv.Root(), "testdata", "golden")
	t.Run("nginx", func(t *testing.T) {
		testenv.Tool(t, "nginx")
		n := testenv.StartNginx(t)
		for _, f := range []string{"nginx-apps.conf", "nginx-no-ready-replica.conf"} {
			b, err := os.ReadFile(filepath.Join(golden, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(n.Conf(), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, stderr, code := testenv.Run(t, n.Dir, n.Test()...); code != 0 {
				t.Errorf("nginx -t rejects %s:\n%s", f, stderr)
			}
		}
	})
	t.Run("haproxy", func(t *testing.T) {
		testenv.Tool(t, "haproxy")
		base := filepath.Join(t.TempDir(), "base.cfg")
		if err := os.WriteFile(base, []byte("defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := testenv.Run(t, "", "haproxy", "-c", "-f", base, "-f", filepath.Join(golden, "haproxy-apps.cfg")); code != 0 {
			t.Errorf("haproxy -c rejects the golden config:\n%s%s", out, errOut)
		}
	})
}
