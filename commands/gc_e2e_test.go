package commands_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// gcImages builds repo:1..n, distinct images (each bakes its tag in).
func gcImages(t *testing.T, repo string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		ref := fmt.Sprintf("%s:%d", repo, i)
		cmd := exec.Command(filepath.Join(testenv.Root(), "scripts", "build-image.sh"), ref, fmt.Sprintf("%s-%d", repo, i))
		cmd.Env = append(os.Environ(), "BATON_IMAGE_LABEL=") // not shared: gc may remove them
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", ref, err, out)
		}
	}
	t.Cleanup(func() {
		for i := 1; i <= n; i++ {
			_ = exec.Command("docker", "rmi", "-f", fmt.Sprintf("%s:%d", repo, i)).Run()
		}
	})
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func exists(kind, name string) bool {
	return exec.Command("docker", kind, "inspect", name).Run() == nil
}

type gcOut struct {
	Removed []struct {
		Kind, Name, Reason string
		Done               bool
		Error              string
	}
	ReclaimedBytes int64 `json:"reclaimed_bytes"`
}

func TestGCAgainstARealEngine(t *testing.T) {
	e := newE2E(t)
	repo := e.project + "-img"
	gcImages(t, repo, 6)
	lbl := "baton.project=" + e.project
	// Containers: in this project, exited; one excluded; one of nobody.
	stoppedUser := docker(t, "create", "--label", "gc-test="+e.project, repo+":1")                             // a stopped container (never started) uses :1
	exited := docker(t, "run", "-d", "--label", lbl, "--entrypoint", "/app", "-e", "EXIT_AFTER=0s", repo+":5") // exits at once, uses :5
	keep := docker(t, "run", "-d", "--label", lbl, "--label", "keep=yes", "-e", "EXIT_AFTER=0s", repo+":6")
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", stoppedUser, exited, keep).Run() })
	docker(t, "wait", exited)
	docker(t, "wait", keep)
	// Volumes: orphan anonymous ones, of the project (as baton's starts
	// label them) and of nobody (docker run's), and an orphan named one.
	anon := docker(t, "volume", "create", "--label", lbl)
	foreign := docker(t, "volume", "create")
	named := docker(t, "volume", "create", e.project+"-named")
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", "-f", anon, foreign, named).Run() })

	// The spec names :2; keep_images 3; :3 and :4 are unused.
	e.writeSpec(0, repo+":2", "")
	spec, _ := os.ReadFile(e.spec)
	gc := "gc: {grace: 0s, keep_images: 3, dangling: false, exclude: [keep]}\n"
	if err := os.WriteFile(e.spec, append([]byte(gc), spec...), 0o644); err != nil {
		t.Fatal(err)
	}

	parse := func(s string) gcOut {
		var o gcOut
		if err := json.Unmarshal([]byte(s), &o); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
		return o
	}
	list := func(o gcOut) []string {
		var out []string
		for _, r := range o.Removed {
			out = append(out, r.Kind+" "+r.Name)
		}
		sort.Strings(out)
		return out
	}
	dry := parse(e.mustBaton(0, "-n", "-o", "json", "gc"))
	for _, c := range []string{exited, keep, stoppedUser} {
		if !exists("container", c) {
			t.Fatal("the dry run removed a container")
		}
	}
	real := parse(e.mustBaton(0, "-o", "json", "gc"))
	if fmt.Sprint(list(dry)) != fmt.Sprint(list(real)) {
		t.Errorf("dry run %v\nreal     %v", list(dry), list(real))
	}
	for _, r := range real.Removed {
		if !r.Done {
			t.Errorf("%s %s failed: %s", r.Kind, r.Name, r.Error)
		}
	}
	cases := []struct {
		what       string
		kind, name string
		want       bool
	}{
		{"an image used by a stopped container stays", "image", repo + ":1", true},
		{"an image named in the spec stays", "image", repo + ":2", true},
		{"an image used only by a removed exited container goes when beyond keep-N", "image", repo + ":5", false},
		{"an image used by an excluded container stays", "image", repo + ":6", true},
		{"keep-N: the unused images beyond 3 per repository go", "image", repo + ":3", false},
		{"keep-N: ... all of them", "image", repo + ":4", false},
		{"an exited container of the project past its grace goes", "container", exited, false},
		{"an excluded container stays", "container", keep, true},
		{"a container baton does not manage stays", "container", stoppedUser, true},
		{"an orphan anonymous volume of the project goes", "volume", anon, false},
		{"an orphan anonymous volume of nobody's stays (gc.scope host reaches it)", "volume", foreign, true},
		{"an orphan named volume stays", "volume", named, true},
	}
	for _, c := range cases {
		if got := exists(c.kind, c.name); got != c.want {
			t.Errorf("%s: %s %s exists=%v", c.what, c.kind, c.name, got)
		}
	}
	// keep-N is exact: exactly 3 images of the repository remain.
	if n := len(strings.Fields(docker(t, "images", "-q", repo))); n != 3 {
		t.Errorf("%d images of %s remain, want exactly 3", n, repo)
	}
	if real.ReclaimedBytes <= 0 {
		t.Errorf("no space reclaimed reported: %+v", real)
	}
	// The next pass is a no-op.
	if out := e.mustBaton(0, "gc"); out != "" {
		t.Errorf("second gc was not a no-op:\n%s", out)
	}
}
