package commands_test

// Hardening (issue 14) through whole passes in process: hostile state and
// file system inputs at the pass level, with the fake engine.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInProcessDecodableStatesNeverPanic: states that decode but hold null
// entries run every pass (they used to panic heal and scale in Attempts,
// exit 2); invalid ones exit 1 naming the file and the field, unchanged.
func TestInProcessDecodableStatesNeverPanic(t *testing.T) {
	for _, doc := range []string{
		`{"version": 1, "apps": {"web": null}}`,
		`{"version": 1, "apps": {"web": {"autoscale": null}}, "probes": {"x": null}, "balancer": {"/x": null}, "mods": {"m": null}}`,
	} {
		for _, cmd := range [][]string{{"scale"}, {"heal"}, {"lb", "render"}, {"gc"}, {"status"}} {
			a := newInproc(t)
			a.write(`"true"`, fmt.Sprintf(webApp, 1))
			if err := os.WriteFile(a.state, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errOut, code := a.run(cmd...)
			if code != 0 || strings.Contains(errOut, "panic") {
				t.Errorf("%v on %s: exit %d\n%s", cmd, doc, code, errOut)
			}
		}
	}
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 1))
	bad := `{"version": 1, "probes": {"c": {"failures": -1, "successes": 0, "last_at": "2026-06-01T12:00:00Z"}}}`
	if err := os.WriteFile(a.state, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := a.run("heal")
	if code != 1 || !strings.Contains(errOut, a.state) || !strings.Contains(errOut, `probes["c"].failures`) || string(a.stateBytes()) != bad {
		t.Errorf("an invalid state: exit %d, kept %v\n%s", code, string(a.stateBytes()) == bad, errOut)
	}
}

// TestInProcessHostileFilesAtThePass: a FIFO as the state file or as a
// metrics file, a symlinked lock file, a symlinked config: each pass ends
// at once with exit 1 (or, for metrics, a warning), names the file, and
// writes nothing through the link.
func TestInProcessHostileFilesAtThePass(t *testing.T) {
	done := func(t *testing.T, what string, f func()) {
		t.Helper()
		ch := make(chan struct{})
		go func() { f(); close(ch) }()
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the pass hung", what)
		}
	}
	t.Run("a FIFO as the state file", func(t *testing.T) {
		a := newInproc(t)
		a.write(`"true"`, fmt.Sprintf(webApp, 1))
		if err := syscall.Mkfifo(a.state, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range [][]string{{"scale"}, {"status"}} {
			done(t, cmd[0], func() {
				_, errOut, code := a.run(cmd...)
				if code != 1 || !strings.Contains(errOut, "FIFO") || !strings.Contains(errOut, a.state) {
					t.Errorf("%v: exit %d\n%s", cmd, code, errOut)
				}
			})
		}
	})
	t.Run("a FIFO as the metrics file", func(t *testing.T) {
		a := newInproc(t)
		a.write(`"true"`, fmt.Sprintf(webApp, 1))
		metrics := filepath.Join(a.dir, "metrics")
		if err := os.Mkdir(metrics, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(filepath.Join(metrics, "baton_lb_render.prom"), 0o644); err != nil {
			t.Fatal(err)
		}
		done(t, "lb render", func() {
			_, errOut, code := a.run("--metrics-dir", metrics, "lb", "render")
			if code != 0 || !strings.Contains(errOut, "metrics:") || !strings.Contains(errOut, "FIFO") {
				t.Errorf("exit %d\n%s", code, errOut)
			}
		})
	})
	t.Run("symlinked lock and config", func(t *testing.T) {
		a := newInproc(t)
		a.write(`"true"`, fmt.Sprintf(webApp, 1))
		victim := filepath.Join(a.dir, "victim")
		if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, a.state+".lock"); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := a.run("lb", "render")
		if code != 1 || !strings.Contains(errOut, a.state+".lock") || !strings.Contains(errOut, "symlink") {
			t.Errorf("symlinked lock: exit %d\n%s", code, errOut)
		}
		if err := os.Remove(a.state + ".lock"); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, a.conf); err != nil {
			t.Fatal(err)
		}
		_, errOut, code = a.run("lb", "render")
		if code != 1 || !strings.Contains(errOut, a.conf) || !strings.Contains(errOut, "symlink") {
			t.Errorf("symlinked config: exit %d\n%s", code, errOut)
		}
		if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
			t.Errorf("written through a symlink: %q", b)
		}
	})
}
