package commands_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestModsRefresh runs `baton mods refresh` in-process against a real HTTP
// server on 127.0.0.1: 20 entries download within the parallel bound, the
// next pass gets 304s and writes nothing, and pruning removes only what
// baton downloaded.
func TestModsRefresh(t *testing.T) {
	var mu sync.Mutex
	inflight, peak, full := 0, 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		mu.Lock()
		inflight++
		full++
		peak = max(peak, inflight)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		w.Header().Set("ETag", `"`+r.URL.Path+`"`)
		fmt.Fprintf(w, "content of %s\n", r.URL.Path)
		mu.Lock()
		inflight--
		mu.Unlock()
	}))
	defer srv.Close()

	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	specPath := filepath.Join(dir, "baton.yaml")
	statePath := filepath.Join(dir, "state.json")
	write := func(n int) {
		var b strings.Builder
		fmt.Fprintf(&b, "mods:\n  dir: %s\n  parallel: 4\n  interval: 0s\n  files:\n", cache)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "    - {url: %s/f%02d, dest: sub/f%02d.jar}\n", srv.URL, i, i)
		}
		if err := os.WriteFile(specPath, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, string, int) {
		return runApp(t, append([]string{"--spec", specPath, "--state", statePath}, args...)...)
	}
	write(20)
	out, errOut, code := run("mods", "refresh")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Count(out, "downloaded 16 B") != 20 {
		t.Errorf("want 20 downloads:\n%s", out)
	}
	if peak > 4 || peak < 2 {
		t.Errorf("peak concurrency %d, want between 2 and the bound 4", peak)
	}
	stat, _ := os.Stat(filepath.Join(cache, "sub", "f00.jar"))

	// interval 0s: everything is due again, and answered 304.
	full = 0
	if out, errOut, code := run("mods", "refresh"); code != 0 || out != "" {
		t.Errorf("304 pass: exit %d, output %q %s", code, out, errOut)
	}
	if full != 0 {
		t.Errorf("%d full downloads on the 304 pass", full)
	}
	stat2, _ := os.Stat(filepath.Join(cache, "sub", "f00.jar"))
	if !stat2.ModTime().Equal(stat.ModTime()) {
		t.Error("a 304 rewrote the file")
	}

	// Shrink the list: baton prunes its own files, never a foreign one.
	foreign := filepath.Join(cache, "sub", "mine.jar")
	if err := os.WriteFile(foreign, []byte("not baton's"), 0o644); err != nil {
		t.Fatal(err)
	}
	write(18)
	out, _, code = run("mods", "refresh")
	if code != 0 || strings.Count(out, "pruned") != 2 {
		t.Errorf("want 2 pruned:\n%s", out)
	}
	for _, f := range []string{"f18.jar", "f19.jar"} {
		if _, err := os.Stat(filepath.Join(cache, "sub", f)); !os.IsNotExist(err) {
			t.Errorf("%s not pruned", f)
		}
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Error("a file baton did not download was pruned")
	}
}
