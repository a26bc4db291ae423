package mods

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
	"github.com/baton-orchestrator/baton/internal/plan"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const body = "mod bytes v1\n"

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// server serves body with an ETag and answers 304 to a matching
// If-None-Match; other paths misbehave on purpose.
func server(t *testing.T) (*httptest.Server, *int32) {
	var hits int32
	mux := http.NewServeMux()
	mux.HandleFunc("/mod", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(&hits, 1)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 23 Nov 2026 10:00:00 GMT")
		fmt.Fprint(w, body)
	})
	mux.HandleFunc("/cut", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2000")
		w.WriteHeader(200)
		fmt.Fprint(w, strings.Repeat("x", 1000))
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // the connection dies mid-body
		}
	})
	mux.HandleFunc("/big-declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5000")
		fmt.Fprint(w, strings.Repeat("b", 5000))
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 5; i++ {
			fmt.Fprint(w, strings.Repeat("c", 1000))
			w.(http.Flusher).Flush()
		}
	})
	var flaky int32
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if atomic.AddInt32(&flaky, 1) <= 2 {
			w.WriteHeader(503)
			return
		}
		fmt.Fprint(w, body)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(&hits, 1)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &hits
}

func fetcher(dir string) *Fetcher {
	return &Fetcher{Client: &http.Client{}, Dir: dir, MaxSize: 2048, Timeout: 5 * time.Second, Retries: 3,
		Backoff: func(int) time.Duration { return time.Millisecond }}
}

// seed puts an old file in place, as a previous pass would have.
func seed(t *testing.T, dir, dest string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, dest), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func assertOld(t *testing.T, dir, dest string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, dest))
	if err != nil || string(b) != "old\n" {
		t.Errorf("the old file did not stay: %q %v", b, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if atomicfile.IsTemp(e.Name(), filepath.Base(dest)) || strings.HasPrefix(e.Name(), ".baton-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestDownloadThenNotModifiedWritesNothing(t *testing.T) {
	srv, _ := server(t)
	dir := t.TempDir()
	f := fetcher(dir)
	a := plan.ModAction{Kind: "fetch", Dest: "mods/a.jar", URL: srv.URL + "/mod", SHA256: sum(body)}
	res, err := f.Fetch(context.Background(), a, nil, now)
	if err != nil || res.Status != "downloaded" || res.Mod.ETag != `"v1"` || res.Mod.SHA256 != sum(body) {
		t.Fatalf("%+v %v", res, err)
	}
	path := filepath.Join(dir, "mods", "a.jar")
	before, _ := os.Stat(path)
	ino := before.Sys().(*syscall.Stat_t).Ino
	time.Sleep(10 * time.Millisecond)
	a.Conditional = true
	res2, err := f.Fetch(context.Background(), a, &res.Mod, now.Add(time.Hour))
	if err != nil || res2.Status != "not-modified" || !res2.Mod.CheckedAt.Equal(now.Add(time.Hour)) || !res2.Mod.FetchedAt.Equal(now) {
		t.Fatalf("%+v %v", res2, err)
	}
	after, _ := os.Stat(path)
	if after.Sys().(*syscall.Stat_t).Ino != ino || !after.ModTime().Equal(before.ModTime()) {
		t.Error("a 304 rewrote the file")
	}
}

func TestFailuresKeepTheOldFile(t *testing.T) {
	srv, hits := server(t)
	cases := []struct {
		name, path, sha, want string
		attempts              int
	}{
		{"checksum mismatch", "/mod", sum("something else"), "does not match the spec's", 1},
		{"connection cut mid-body", "/cut", "", "body cut after", 4},
		{"oversize, declared", "/big-declared", "", "over the 2048-byte cap", 1},
		{"oversize, chunked", "/big-chunked", "", "over the 2048-byte cap", 1},
		{"a 404 is not retried", "/missing", "", "status 404", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			seed(t, dir, "a.jar")
			atomic.StoreInt32(hits, 0)
			res, err := fetcher(dir).Fetch(context.Background(), plan.ModAction{Kind: "fetch", Dest: "a.jar", URL: srv.URL + c.path, SHA256: c.sha}, nil, now)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error saying %q, got %v", c.want, err)
			}
			if res.Attempts != c.attempts {
				t.Errorf("%d attempts, want %d", res.Attempts, c.attempts)
			}
			assertOld(t, dir, "a.jar")
		})
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	srv, _ := server(t)
	dir := t.TempDir()
	res, err := fetcher(dir).Fetch(context.Background(), plan.ModAction{Kind: "fetch", Dest: "a.jar", URL: srv.URL + "/flaky"}, nil, now)
	if err != nil || res.Attempts != 3 || res.Status != "downloaded" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestSymlinksCannotLeadOut(t *testing.T) {
	srv, _ := server(t)
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "plugins")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "x"), filepath.Join(dir, "link.jar")); err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{"plugins/a.jar", "link.jar"} {
		_, err := fetcher(dir).Fetch(context.Background(), plan.ModAction{Kind: "fetch", Dest: dest, URL: srv.URL + "/mod"}, nil, now)
		if err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("%s: want a refusal, got %v", dest, err)
		}
		if err := Prune(dir, dest); err == nil {
			t.Errorf("%s: prune followed a symlink out", dest)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("something was written outside the cache: %v", entries)
	}
}

// TestRefusedPathsCreateNothing: a symlinked directory inside the cache
// that points out of it refuses a download below it before any directory
// is created on either side, and prune creates no parents.
func TestRefusedPathsCreateNothing(t *testing.T) {
	srv, _ := server(t)
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "plugins")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "nowhere"), filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{"plugins/sub/deeper/a.jar", "plugins/sub/a.jar", "dangling/sub/a.jar"} {
		_, err := fetcher(dir).Fetch(context.Background(), plan.ModAction{Kind: "fetch", Dest: dest, URL: srv.URL + "/mod"}, nil, now)
		if err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("%s: want a refusal, got %v", dest, err)
		}
		if st := Stat(dir, dest); st.Exists {
			t.Errorf("%s: Stat looked through the symlink", dest)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a refused download created %v outside the cache", entries)
	}
	for _, dest := range []string{"gone/deeper/a.jar", "gone/a.jar"} {
		if err := Prune(dir, dest); err != nil {
			t.Errorf("prune %s: a file whose directory is gone is pruned already, got %v", dest, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "gone")); !os.IsNotExist(err) {
		t.Error("prune created the parents of a missing file")
	}
	// A symlink that stays inside the cache is followed.
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	if _, err := fetcher(dir).Fetch(context.Background(), plan.ModAction{Kind: "fetch", Dest: "alias/new/a.jar", URL: srv.URL + "/mod"}, nil, now); err != nil {
		t.Fatalf("a symlink inside the cache: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "real", "new", "a.jar")); string(b) != body {
		t.Errorf("got %q", b)
	}
}

// TestReplacedFileKeepsOwnerAndMode: a downloaded file replaces the old one
// with the old one's mode (and, as root, owner).
func TestReplacedFileKeepsOwnerAndMode(t *testing.T) {
	srv, _ := server(t)
	dir := t.TempDir()
	seed(t, dir, "a.jar")
	path := filepath.Join(dir, "a.jar")
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	if root {
		if err := os.Chown(path, 1234, 4321); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fetcher(dir).Fetch(context.Background(), plan.ModAction{Kind: "fetch", Dest: "a.jar", URL: srv.URL + "/mod"}, nil, now); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o600 || (root && (st.Uid != 1234 || st.Gid != 4321)) {
		t.Errorf("mode %v owner %d:%d, want the old file's", fi.Mode(), st.Uid, st.Gid)
	}
}

// TestKilledDownloadLeftoversAreRemoved: a process killed with SIGKILL in
// the middle of a download leaves the old file and a temporary file; the
// next fetch of that destination (or RemoveLeftovers, for one that is not
// due) removes it, and the ".baton-" files of older versions too.
func TestKilledDownloadLeftoversAreRemoved(t *testing.T) {
	if url := os.Getenv("BATON_MODS_HELPER_URL"); url != "" {
		dir := os.Getenv("BATON_MODS_HELPER_DIR")
		f := &Fetcher{Client: &http.Client{}, Dir: dir, MaxSize: 1 << 20, Timeout: time.Minute}
		_, _ = f.Fetch(context.Background(), plan.ModAction{Kind: "fetch", Dest: "a.jar", URL: url}, nil, now)
		os.Exit(3)
	}
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4000")
		fmt.Fprint(w, strings.Repeat("h", 2000))
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stall)
	dir := t.TempDir()
	seed(t, dir, "a.jar")
	seed(t, dir, "b.jar")
	legacy := []string{".baton-a.jar-123456", ".baton-b.jar-99"}
	for _, n := range append(legacy, ".b.jar4242") {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("torn"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledDownloadLeftoversAreRemoved$")
	cmd.Env = append(os.Environ(), "BATON_MODS_HELPER_URL="+srv.URL+"/a", "BATON_MODS_HELPER_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	temp := ""
	for deadline := time.Now().Add(20 * time.Second); temp == ""; {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && atomicfile.IsTemp(e.Name(), "a.jar") && fi.Size() == 2000 {
				temp = e.Name()
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the helper never wrote its temporary file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	assertOldBytes(t, dir, "a.jar")
	if _, err := os.Stat(filepath.Join(dir, temp)); err != nil {
		t.Fatalf("the killed download left no temporary file: %v", err)
	}

	srv2, _ := server(t)
	if _, err := fetcher(dir).Fetch(context.Background(), plan.ModAction{Kind: "fetch", Dest: "a.jar", URL: srv2.URL + "/mod"}, nil, now); err != nil {
		t.Fatal(err)
	}
	removed := RemoveLeftovers(dir, []string{"b.jar", "missing/c.jar"})
	if len(removed) != 2 {
		t.Errorf("RemoveLeftovers removed %v, want b.jar's two", removed)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != "a.jar b.jar" {
		t.Errorf("left %v, want only a.jar b.jar", left)
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Error("RemoveLeftovers created a directory")
	}
}

func assertOldBytes(t *testing.T, dir, dest string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(dir, dest)); err != nil || string(b) != "old\n" {
		t.Errorf("the old file did not stay: %q %v", b, err)
	}
}

// BenchmarkRefresh20 fetches 20 entries that each take 50ms to serve,
// one after another and then 4 at a time, and reports both wall times:
// the parallel pass costs about a quarter of the sum of single downloads.
func BenchmarkRefresh20(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	dir := b.TempDir()
	f := fetcher(dir)
	one := func(i int) {
		a := plan.ModAction{Kind: "fetch", Dest: fmt.Sprintf("f%02d.jar", i), URL: srv.URL + "/"}
		if _, err := f.Fetch(context.Background(), a, nil, now); err != nil {
			b.Fatal(err)
		}
	}
	var serial, parallel time.Duration
	for n := 0; n < b.N; n++ {
		start := time.Now()
		for i := 0; i < 20; i++ {
			one(i)
		}
		serial += time.Since(start)
		start = time.Now()
		sem := make(chan struct{}, 4)
		done := make(chan struct{})
		for i := 0; i < 20; i++ {
			sem <- struct{}{}
			go func(i int) { one(i); <-sem; done <- struct{}{} }(i)
		}
		for i := 0; i < 20; i++ {
			<-done
		}
		parallel += time.Since(start)
	}
	b.ReportMetric(float64(serial.Milliseconds())/float64(b.N), "ms-sum-of-singles")
	b.ReportMetric(float64(parallel.Milliseconds())/float64(b.N), "ms-parallel-4")
}
