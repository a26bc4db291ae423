package commands_test

// Hardening (issue 14) end to end: what the binary does against a real
// dockerd for the classes the unit tests cannot show alone.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// TestGCScopeAndSpellingsAgainstARealEngine: the spec names its image as
// docker.io/library/<repo>:1 while Docker lists it as <repo>:1: gc keeps it
// (it removed it before, and the next scale with pull: never failed). By
// default gc removes only this project's images: another repository's
// unused images stay; gc.scope host counts them too.
func TestGCScopeAndSpellingsAgainstARealEngine(t *testing.T) {
	e := newE2E(t)
	ours, theirs := e.project+"-a", e.project+"-b"
	gcImages(t, ours, 3)
	gcImages(t, theirs, 3)
	withGC := func(gc string) {
		e.writeSpec(0, "docker.io/library/"+ours+":1", "")
		spec, _ := os.ReadFile(e.spec)
		if err := os.WriteFile(e.spec, append([]byte(gc+"\n"), spec...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	withGC("gc: {grace: 0s, keep_images: 1, dangling: false}")
	e.mustBaton(0, "gc")
	for ref, want := range map[string]bool{
		ours + ":1": true, ours + ":2": false, ours + ":3": false,
		theirs + ":1": true, theirs + ":2": true, theirs + ":3": true,
	} {
		if got := exists("image", ref); got != want {
			t.Errorf("project scope: %s exists=%v, want %v", ref, got, want)
		}
	}
	e.writeSpec(1, "docker.io/library/"+ours+":1", "")
	e.mustBaton(0, "scale") // pull: never: the image must still be there
	if got := e.running(); len(got) != 1 {
		t.Errorf("scale after gc: running %v", got)
	}
	// Host-wide, but not the images other tests share (they carry the
	// label scripts/build-image.sh gives them).
	withGC("gc: {grace: 0s, keep_images: 1, dangling: false, scope: host, exclude: [baton.test.shared]}")
	out := e.mustBaton(0, "gc")
	left := 0
	for i := 1; i <= 3; i++ {
		if exists("image", fmt.Sprintf("%s:%d", theirs, i)) {
			left++
		}
	}
	if left != 1 || !strings.Contains(out, theirs) {
		t.Errorf("scope host: %d of %s's images left, want 1:\n%s", left, theirs, out)
	}
	if !exists("image", ours+":1") {
		t.Error("scope host removed the image the spec names")
	}
}

// TestValidateLoadsTheTemplateAndTheStatePath: baton validate loads,
// parses and renders the template as a pass does (a missing one, one that
// does not parse, one naming a field the view lacks inside a range), and
// refuses an nginx.config that is the state file, each as a spec problem
// with file:line:column; before, validate said ok and the pass failed.
func TestValidateLoadsTheTemplateAndTheStatePath(t *testing.T) {
	bin := testenv.Baton(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "baton.yaml")
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.tmpl", "{{range .Upstreams}}# {{.Name}}\n{{end}}")
	write("broken.tmpl", "{{range .Upstreams}")
	write("field.tmpl", "{{range .Upstreams}}{{.NoSuchField}}{{end}}")
	for _, c := range []struct {
		template, state, want string
		code                  int
	}{
		{"ok.tmpl", "state.json", "", 0},
		{"missing.tmpl", "state.json", "baton.yaml:4:13: nginx.template: load template: open " + filepath.Join(dir, "missing.tmpl"), 1},
		{"broken.tmpl", "state.json", "baton.yaml:4:13: nginx.template: parse template:", 1},
		{"field.tmpl", "state.json", "baton.yaml:4:13: nginx.template: render template:", 1},
		{"ok.tmpl", "conf/baton.conf", "baton.yaml:3:11: nginx.config:", 1},
	} {
		write("baton.yaml", "project: v\nnginx:\n  config: conf/baton.conf\n  template: "+c.template+
			"\n  test: [nginx, -t]\n  reload: [nginx, -s, reload]\n  listen: 127.0.0.1:8080\napps:\n  - {name: web, image: web:1, port: 80, lb: {}}\n")
		_, errOut, code := testenv.Run(t, dir, bin, "--spec", spec, "--state", filepath.Join(dir, c.state), "validate")
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("template %s, state %s: exit %d, want %d with %q:\n%s", c.template, c.state, code, c.code, c.want, errOut)
		}
	}
}
