package commands_test

// The schedule fits the spec (issue #18, acceptance 4): on a single-host
// spec the crontab holds only the passes it configures, and every line,
// run once as cron runs them (all at once, through /bin/sh), exits 0 on a
// converged fleet.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestEveryCrontabLineExitsZeroOnAConvergedFleet(t *testing.T) {
	e := newE2E(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "a mod") }))
	defer srv.Close()
	e.writeSpec(2, "baton-test:v1", "")
	mods := fmt.Sprintf("mods:\n  dir: %s\n  interval: 30m\n  files:\n    - {url: %s/a.jar, dest: a.jar}\n", filepath.Join(e.dir, "mods"), srv.URL)
	f, err := os.OpenFile(e.spec, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(mods); err != nil {
		t.Fatal(err)
	}
	f.Close()
	metrics := filepath.Join(e.dir, "metrics")
	e.mustBaton(0, "scale")
	e.mustBaton(0, "mods", "refresh")

	crontab := e.mustBaton(0, "--metrics-dir", metrics, "schedule", "crontab", "--bin", e.bin)
	job := regexp.MustCompile(`^(\S+ ){5}root (.*)$`)
	var cmds []string
	for _, l := range strings.Split(crontab, "\n") {
		if m := job.FindStringSubmatch(l); m != nil {
			cmds = append(cmds, m[2])
		}
	}
	var names []string
	for _, c := range cmds {
		names = append(names, c[strings.Index(c, "--lock-timeout 50s ")+len("--lock-timeout 50s "):])
	}
	want := []string{"scale", "heal --for 55s --every 5s", "lb render", "gc", "mods refresh"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("crontab of a single-host spec runs %q, want %q:\n%s", names, want, crontab)
	}
	// As cron runs them: at once, each through /bin/sh.
	type result struct {
		cmd, out string
		code     int
	}
	results := make([]result, len(cmds))
	var wg sync.WaitGroup
	for i, c := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("/bin/sh", "-c", c)
			cmd.Dir = e.dir
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				code = -1
			}
			results[i] = result{c, string(out), code}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.code != 0 {
			t.Errorf("exit %d: %s\n%s", r.code, r.cmd, r.out)
		}
	}
	// --out creates its directory.
	out := filepath.Join(e.dir, "units", "not", "yet")
	e.mustBaton(0, "schedule", "systemd", "--out", out)
	units, _ := filepath.Glob(filepath.Join(out, "baton-*"))
	if len(units) != 2*len(want) {
		t.Errorf("systemd --out %s: %v", out, units)
	}
}
