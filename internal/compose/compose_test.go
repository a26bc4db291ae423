package compose

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/compose/golden")

// TestImportRealisticFiles imports every compose file in testdata/compose:
// the spec validates as saved beside the compose file, and the spec and
// the unmapped features match the reviewed golden files.
func TestImportRealisticFiles(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/compose/*.yaml")
	if len(files) < 5 {
		t.Fatalf("want at least five compose files, got %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := Import(context.Background(), f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := spec.Format(res.Spec, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := spec.Parse(filepath.Join(filepath.Dir(f), "baton.yaml"), out); err != nil {
				t.Fatalf("the imported spec does not validate: %v\n%s", err, out)
			}
			got := string(out) + "\n# not mapped:\n" + lines(res.Unmapped) + "# check:\n" + lines(res.Notes)
			golden := filepath.Join(filepath.Dir(f), "golden", strings.TrimSuffix(filepath.Base(f), ".yaml")+".baton.yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./internal/compose -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("import of %s differs from %s:\n%s", f, golden, got)
			}
		})
	}
}

func lines(ss []string) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("#   " + s + "\n")
	}
	return b.String()
}

// TestImportMappings pins single mappings, each from a small compose file.
func TestImportMappings(t *testing.T) {
	cases := []struct {
		name     string
		compose  string
		want     []string // substrings of the written spec
		unmapped []string // substrings of unmapped lines
		notWant  []string
	}{
		{"a published port without an address keeps compose's meaning, every address",
			`services: {web: {image: w, ports: ["8080:80"]}}`,
			[]string{"port: 80", "ports: ['0.0.0.0:8080:80']", "order: stop-first"}, nil, nil},
		{"a port without a host port is the app's port, published where baton publishes",
			`services: {web: {image: w, ports: ["80"]}}`,
			[]string{"port: 80"}, nil, []string{"ports:", "stop-first"}},
		{"a port range is one fixed port per port, as compose publishes it",
			`services: {web: {image: w, ports: ["8000-8001:8000-8001"]}}`,
			[]string{"ports: ['0.0.0.0:8000:8000', '0.0.0.0:8001:8001']"}, nil, nil},
		{"a volume every replica writes to is shared, and then start-first is fine",
			`services: {web: {image: w, deploy: {replicas: 3}, volumes: ["up:/up"]}}
volumes: {up: {}}`,
			[]string{"shared: true", "replicas: 3"}, nil, []string{"stop-first"}},
		{"a fixed port with several replicas keeps one, and says so",
			`services: {web: {image: w, scale: 2, ports: ["8080:80"]}}`,
			[]string{"order: stop-first"}, []string{"services.web.deploy.replicas: 2 replicas cannot share fixed host ports"}, []string{"replicas:"}},
		{"start-first asked for but impossible is named",
			`services: {db: {image: p, volumes: ["data:/d"], deploy: {update_config: {order: start-first}}}}
volumes: {data: {}}`,
			[]string{"order: stop-first"}, []string{"services.db.deploy.update_config.order: start-first cannot work"}, nil},
		{"a service name compose allows and baton does not is renamed",
			`services: {My_Web: {image: w}}`,
			[]string{"name: my-web"}, nil, nil},
		{"an environment variable without a value is named",
			`services: {web: {image: w, environment: [SECRET]}}`,
			nil, []string{"services.web.environment.SECRET: no value"}, nil},
		{"a build without an image gets compose's image name",
			`name: p
services: {web: {build: .}}`,
			[]string{"image: p-web"}, []string{"services.web.build: baton runs images"}, nil},
		{"an extension is named",
			`x-common: {a: 1}
services: {web: {image: w, x-note: hi}}`,
			nil, []string{"x-common: an extension", "services.web.x-note: an extension"}, nil},
		{"deploy restart_policy becomes restart",
			`services: {web: {image: w, deploy: {restart_policy: {condition: on-failure, max_attempts: 3}}}}`,
			[]string{"restart: on-failure:3"}, nil, nil},
		{"a udp port keeps its protocol",
			`services: {dns: {image: d, ports: ["53:53/udp"]}}`,
			[]string{"ports: ['0.0.0.0:53:53/udp']"}, nil, []string{"port: 53"}},
		{"an external network keeps its name",
			`services: {web: {image: w, networks: [proxy]}}
networks: {proxy: {external: true, name: traefik}}`,
			[]string{"name: traefik", "external: true", "networks: [proxy]"}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "compose.yaml")
			body := c.compose
			if !strings.HasPrefix(body, "name:") {
				body = "name: p\n" + body
			}
			if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Import(context.Background(), f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := spec.Format(res.Spec, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := spec.Parse(filepath.Join(dir, "baton.yaml"), out); err != nil {
				t.Fatalf("does not validate: %v\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("spec lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(string(out), w) {
					t.Errorf("spec has %q:\n%s", w, out)
				}
			}
			all := strings.Join(res.Unmapped, "\n")
			for _, w := range c.unmapped {
				if !strings.Contains(all, w) {
					t.Errorf("unmapped lacks %q:\n%s", w, all)
				}
			}
			if len(c.unmapped) == 0 && len(res.Unmapped) > 0 {
				t.Errorf("unexpected unmapped:\n%s", all)
			}
		})
	}
}

func TestImportOfABrokenFileNamesIt(t *testing.T) {
	f := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(f, []byte("services: {web: {image: w, ports: 12}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(context.Background(), f, Options{}); err == nil || !strings.Contains(err.Error(), f) {
		t.Errorf("want an error naming %s, got %v", f, err)
	}
}
