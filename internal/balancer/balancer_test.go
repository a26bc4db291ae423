package balancer

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
	"github.com/baton-orchestrator/baton/state"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// counter returns argv that appends a line to a file, so tests can count
// how often the reload command ran.
func counter(t *testing.T) ([]string, func() int) {
	log := filepath.Join(t.TempDir(), "reloads")
	return []string{"sh", "-c", "echo reload >> " + log}, func() int {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "reload")
	}
}

// counterExit returns a test argv that counts its runs and exits with code.
func counterExit(t *testing.T, code string) ([]string, func() int) {
	log := filepath.Join(t.TempDir(), "tests")
	return []string{"sh", "-c", "echo test >> " + log + "; exit " + code}, func() int {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "test")
	}
}

func TestApplyWritesTestsReloadsOnlyOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.conf")
	reload, reloads := counter(t)
	c := Config{Path: path, Test: []string{"true"}, Reload: reload}
	st := &state.Balancer{}
	r, err := Apply(context.Background(), c, []byte("v1\n"), st, now)
	if err != nil || !r.Changed || !r.Reloaded || reloads() != 1 {
		t.Fatalf("first apply: %+v %v reloads=%d", r, err, reloads())
	}
	r, err = Apply(context.Background(), c, []byte("v1\n"), st, now)
	if err != nil || r.Changed || r.Reloaded || reloads() != 1 {
		t.Fatalf("same bytes must neither write nor reload: %+v %v reloads=%d", r, err, reloads())
	}
	r, err = Apply(context.Background(), c, []byte("v2\n"), st, now)
	if err != nil || !r.Changed || reloads() != 2 {
		t.Fatalf("new bytes: %+v %v", r, err)
	}
}

// TestApplyAfterAKilledPass: a pass killed after its write (during the test,
// or between test and reload) leaves new bytes on disk and the state as
// before. The next pass rendering the same bytes tests them before it
// reloads them; when they fail, the last good bytes come back.
func TestApplyAfterAKilledPass(t *testing.T) {
	v1, v2 := []byte("v1\n"), []byte("v2\n")
	for _, c := range []struct {
		name       string
		test       string // exit status of the test command
		wantFile   []byte
		wantTests  int
		wantReload int
	}{
		{"untested bytes that pass are tested, then reloaded", "0", v2, 1, 1},
		{"untested bytes that fail are replaced by the last good ones", "1", v1, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "baton.conf")
			// What the pass before the killed one left: v1 tested and reloaded.
			st := &state.Balancer{}
			reload, reloads := counter(t)
			if _, err := Apply(context.Background(), Config{Path: path, Test: []string{"true"}, Reload: reload}, v1, st, now); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, v2, 0o644); err != nil { // the killed pass's write
				t.Fatal(err)
			}
			test, tests := counterExit(t, c.test)
			r, err := Apply(context.Background(), Config{Path: path, Test: test, Reload: reload}, v2, st, now)
			if b, _ := os.ReadFile(path); string(b) != string(c.wantFile) {
				t.Errorf("file holds %q, want %q", b, c.wantFile)
			}
			if tests() != c.wantTests || reloads()-1 != c.wantReload {
				t.Errorf("%d tests and %d reloads, want %d and %d", tests(), reloads()-1, c.wantTests, c.wantReload)
			}
			if c.test == "0" && (err != nil || !r.Tested || !r.Reloaded || r.Changed || st.Tested != Hash(v2) || st.Reloaded != Hash(v2)) {
				t.Errorf("got %+v %v %+v", r, err, st)
			}
			if c.test != "0" && (err == nil || !strings.Contains(err.Error(), "last good config") || st.Tested != Hash(v1) || st.Reloaded != Hash(v1)) {
				t.Errorf("want the test error naming the last good config and the state unchanged, got %v %+v", err, st)
			}
		})
	}
}

// TestTestedButNotReloadedIsReloadedWithoutAnotherTest: a reload that failed
// (or a kill between test and reload of a pass that saved its state)
// leaves tested bytes; the next pass only reloads.
func TestTestedButNotReloadedIsReloadedWithoutAnotherTest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.conf")
	v2 := []byte("v2\n")
	if err := os.WriteFile(path, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	st := &state.Balancer{Tested: Hash(v2), Reloaded: Hash([]byte("v1\n"))}
	test, tests := counterExit(t, "1")
	reload, reloads := counter(t)
	r, err := Apply(context.Background(), Config{Path: path, Test: test, Reload: reload}, v2, st, now)
	if err != nil || r.Changed || r.Tested || !r.Reloaded || tests() != 0 || reloads() != 1 || st.Reloaded != Hash(v2) {
		t.Fatalf("got %+v %v tests=%d reloads=%d", r, err, tests(), reloads())
	}
}

// TestNewBytesAfterAKilledPassFallBackToTheLastGood: the killed pass's
// untested bytes are not what a failed test restores.
func TestNewBytesAfterAKilledPassFallBackToTheLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.conf")
	st := &state.Balancer{}
	if _, err := Apply(context.Background(), Config{Path: path, Test: []string{"true"}, Reload: []string{"true"}}, []byte("good\n"), st, now); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("killed pass's bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Apply(context.Background(), Config{Path: path, Test: []string{"false"}, Reload: []string{"true"}}, []byte("bad\n"), st, now)
	if b, _ := os.ReadFile(path); err == nil || string(b) != "good\n" {
		t.Fatalf("want the last good bytes back after a failed test, got %q (%v)", b, err)
	}
}

// TestFirstContactTestsWhatIsThere: a file baton never tested and no good
// copy (an existing config, an upgrade from a version before tests were
// recorded, a first pass killed during its test): the bytes there are the
// fallback only if they pass the test; else a failure removes the file.
func TestFirstContactTestsWhatIsThere(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "baton.conf")
	okMarker := filepath.Join(dir, "ok")
	// The test passes only for bytes that contain "GOOD".
	test := []string{"sh", "-c", "grep -q GOOD " + path + " && touch " + okMarker}
	if err := os.WriteFile(path, []byte("GOOD, what was there\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := &state.Balancer{}
	_, err := Apply(context.Background(), Config{Path: path, Test: test, Reload: []string{"true"}}, []byte("broken\n"), st, now)
	if b, _ := os.ReadFile(path); err == nil || string(b) != "GOOD, what was there\n" || st.Tested != Hash(b) {
		t.Fatalf("the old bytes passed: they must be kept, got %q %v %+v", b, err, st)
	}
	if g, _ := os.ReadFile(GoodPath(path)); string(g) != "GOOD, what was there\n" {
		t.Errorf("good copy %q", g)
	}

	path2 := filepath.Join(dir, "other.conf")
	if err := os.WriteFile(path2, []byte("broken too\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Apply(context.Background(), Config{Path: path2, Test: []string{"false"}, Reload: []string{"true"}}, []byte("broken\n"), &state.Balancer{}, now)
	if _, serr := os.Stat(path2); err == nil || !os.IsNotExist(serr) {
		t.Fatalf("nothing known good: the file must go, got %v %v", err, serr)
	}
	// Same bytes as the render, untested, failing, no good copy: removed too.
	if err := os.WriteFile(path2, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(context.Background(), Config{Path: path2, Test: []string{"false"}, Reload: []string{"true"}}, []byte("x\n"), &state.Balancer{}, now); err == nil {
		t.Fatal("want the test error")
	}
	if _, err := os.Stat(path2); !os.IsNotExist(err) {
		t.Error("untested failing bytes stayed")
	}
}

// TestUpgradeTestsTheReloadedBytesOnce: a state from before tests were
// recorded (only Reloaded) costs one test and no reload; a failing test of
// bytes the balancer last reloaded keeps them (they are what it runs).
func TestUpgradeTestsTheReloadedBytesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.conf")
	v1 := []byte("v1\n")
	if err := os.WriteFile(path, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	test, tests := counterExit(t, "0")
	reload, reloads := counter(t)
	st := &state.Balancer{Reloaded: Hash(v1)}
	for i := 0; i < 2; i++ {
		if _, err := Apply(context.Background(), Config{Path: path, Test: test, Reload: reload}, v1, st, now); err != nil {
			t.Fatal(err)
		}
	}
	if tests() != 1 || reloads() != 0 || st.Tested != Hash(v1) {
		t.Fatalf("tests=%d reloads=%d %+v", tests(), reloads(), st)
	}
	st = &state.Balancer{Reloaded: Hash(v1)}
	if err := os.Remove(GoodPath(path)); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(context.Background(), Config{Path: path, Test: []string{"false"}, Reload: reload}, v1, st, now); err == nil || !strings.Contains(err.Error(), "was kept") {
		t.Fatalf("want the test error saying the file was kept, got %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(v1) {
		t.Errorf("the reloaded bytes were not kept: %q", b)
	}
}

// TestLeftoversSymlinksAndOwnership: temporary files of a killed write of
// the config or its good copy are removed; a symlinked config is refused
// with its target untouched.
func TestLeftoversSymlinksAndOwnership(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "baton.conf")
	for _, n := range []string{".baton.conf123", "..baton.conf.baton-good456"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Apply(context.Background(), Config{Path: path, Test: []string{"true"}, Reload: []string{"true"}}, []byte("x"), &state.Balancer{}, now); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != ".baton.conf.baton-good baton.conf" {
		t.Errorf("left %v", left)
	}
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	_, err := Apply(context.Background(), Config{Path: link, Test: []string{"true"}, Reload: []string{"true"}}, []byte("evil"), &state.Balancer{}, now)
	if err == nil || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("want a refusal naming the symlink, got %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Error("the symlink's target was written")
	}
}

// TestTestCommandTimeoutHolds: a test command whose child keeps the pipe
// open for 70s fails at the timeout, and the previous bytes come back.
func TestTestCommandTimeoutHolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.conf")
	st := &state.Balancer{}
	if _, err := Apply(context.Background(), Config{Path: path, Test: []string{"true"}, Reload: []string{"true"}}, []byte("old\n"), st, now); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := Apply(context.Background(), Config{Path: path, Test: []string{"sh", "-c", "sleep 70; true"}, Reload: []string{"true"}, Timeout: time.Second}, []byte("new\n"), st, now)
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the test held Apply for %s past a 1s timeout", took)
	}
	if err == nil || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("want a timeout, got %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("got %q", b)
	}
}

func TestFailedTestRestoresPreviousBytes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "baton.conf")
	old := []byte("working config\n")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	reload, reloads := counter(t)
	st := &state.Balancer{Reloaded: Hash(old)}
	test := []string{"sh", "-c", "echo 'nginx: [emerg] unexpected \"}\" in baton.conf:3' >&2; exit 1"}
	_, err := Apply(context.Background(), Config{Path: path, Test: test, Reload: reload}, []byte("broken {\n"), st, now)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.What != "test" {
		t.Fatalf("want a test CommandError, got %v", err)
	}
	if !strings.Contains(err.Error(), `unexpected "}"`) {
		t.Errorf("error must carry the balancer's message: %v", err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(b) != string(old) || fi.Mode().Perm() != 0o600 {
		t.Errorf("previous config not restored byte for byte: %q %v", b, fi.Mode())
	}
	if reloads() != 0 || st.Reloaded != Hash(old) {
		t.Error("a failed test must not reload or change the state")
	}
}

func TestFailedTestWithNoPreviousFileRemovesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.conf")
	_, err := Apply(context.Background(), Config{Path: path, Test: []string{"false"}, Reload: []string{"true"}}, []byte("x"), &state.Balancer{}, now)
	if err == nil {
		t.Fatal("want an error")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("the rejected file must not stay")
	}
}

// TestRealNginxRejectsAndKeepsServing uses a real nginx: a config that
// fails nginx -t is rolled back, the error carries nginx's own message, and
// nginx keeps answering with the previous config.
func TestRealNginxRejectsAndKeepsServing(t *testing.T) {
	n := testenv.StartNginx(t)
	good := []byte("server {\n    listen " + n.Listen + ";\n    location / { return 200 \"good\\n\"; }\n}\n")
	c := Config{Path: n.Conf(), Test: n.Test(), Reload: n.Reload(), Dir: n.Dir}
	st := &state.Balancer{}
	if _, err := Apply(context.Background(), c, good, st, now); err != nil {
		t.Fatal(err)
	}
	waitBody(t, "http://"+n.Listen+"/", "good\n")
	bad := []byte("server {\n    listen " + n.Listen + ";\n    location / { return 200 \"bad\"; \n")
	_, err := Apply(context.Background(), c, bad, st, now)
	if err == nil || !strings.Contains(err.Error(), "[emerg]") || !strings.Contains(err.Error(), "test failed") {
		t.Fatalf("want nginx's [emerg] message, got %v", err)
	}
	b, _ := os.ReadFile(n.Conf())
	if string(b) != string(good) {
		t.Errorf("config not restored: %q", b)
	}
	waitBody(t, "http://"+n.Listen+"/", "good\n")
}

func waitBody(t *testing.T, url, want string) {
	t.Helper()
	var last string
	for i := 0; i < 50; i++ {
		resp, err := http.Get(url)
		if err == nil {
			b := make([]byte, 64)
			k, _ := resp.Body.Read(b)
			resp.Body.Close()
			last = string(b[:k])
			if last == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: got %q, want %q", url, last, want)
}

func TestDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\n"
	b := "a\nb\nc\nD\ne\nf\ng\nh\ni\n"
	got := Diff("old", "new", []byte(a), []byte(b))
	want := "--- old\n+++ new\n@@ -1,8 +1,9 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\n+i\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if Diff("x", "y", []byte(a), []byte(a)) != "" {
		t.Error("equal texts must give no diff")
	}
	far := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	farB := "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve\n"
	if got := Diff("x", "y", []byte(far), []byte(farB)); strings.Count(got, "@@ ") != 2 {
		t.Errorf("distant changes must make two hunks:\n%s", got)
	}
}
