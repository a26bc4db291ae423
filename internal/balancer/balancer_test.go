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

func TestApplyReloadsAfterAKilledPass(t *testing.T) {
	// A pass killed between write and reload leaves the new bytes on disk
	// but not the hash in the state: the next pass reloads without writing.
	path := filepath.Join(t.TempDir(), "baton.conf")
	if err := os.WriteFile(path, []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reload, reloads := counter(t)
	st := &state.Balancer{Reloaded: Hash([]byte("v1\n"))}
	r, err := Apply(context.Background(), Config{Path: path, Test: []string{"false"}, Reload: reload}, []byte("v2\n"), st, now)
	if err != nil || r.Changed || !r.Reloaded || reloads() != 1 || st.Reloaded != Hash([]byte("v2\n")) {
		t.Fatalf("got %+v %v reloads=%d", r, err, reloads())
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
