package balancer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/state"
)

// TestReferencedFilesArePartOfTheConfig: the render does not change when a
// certificate is renewed on disk, yet the next Apply tests and reloads; a
// broken certificate fails the test and is never reloaded, on every pass
// until it is fixed; the config file stays as it was throughout.
func TestReferencedFilesArePartOfTheConfig(t *testing.T) {
	dir := t.TempDir()
	path, cert := filepath.Join(dir, "baton.conf"), filepath.Join(dir, "site.crt")
	write := func(b string) {
		if err := os.WriteFile(cert, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("good 1\n")
	reload, reloads := counter(t)
	// The test passes only while the certificate is good.
	c := Config{Path: path, Test: []string{"grep", "-q", "^good", cert}, Reload: reload, Files: []string{cert}}
	st := &state.Balancer{}
	rendered := []byte("ssl_certificate site.crt;\n")
	apply := func() (Result, error) { return Apply(context.Background(), c, rendered, st, now) }

	if r, err := apply(); err != nil || !r.Reloaded || reloads() != 1 {
		t.Fatalf("first apply: %+v %v", r, err)
	}
	if r, err := apply(); err != nil || r.Tested || r.Reloaded {
		t.Fatalf("nothing changed, yet: %+v %v", r, err)
	}
	if NeedsApply(rendered, true, rendered, st, c.Files...) {
		t.Error("NeedsApply (the dry run's answer) says yes with nothing changed")
	}

	write("good 2\n") // renewed in place
	if !NeedsApply(rendered, true, rendered, st, c.Files...) {
		t.Error("NeedsApply misses the renewal")
	}
	if r, err := apply(); err != nil || r.Changed || !r.Tested || !r.Reloaded || reloads() != 2 {
		t.Fatalf("after a renewal: %+v %v reloads=%d", r, err, reloads())
	}

	write("-----BEGIN CORRUPT\n")
	for i := 0; i < 2; i++ {
		_, err := apply()
		if err == nil || !strings.Contains(err.Error(), "test command") || !strings.Contains(err.Error(), "keeps running what it loaded") {
			t.Fatalf("pass %d with a broken certificate: %v", i, err)
		}
		if strings.Contains(err.Error(), "CORRUPT") {
			t.Errorf("the error shows the file's contents: %v", err)
		}
		if reloads() != 2 {
			t.Fatalf("a broken certificate was reloaded")
		}
		if b, _ := os.ReadFile(path); string(b) != string(rendered) {
			t.Fatalf("config changed: %q", b)
		}
	}

	write("good 2\n") // the renewal tool puts back what was tested and reloaded
	if r, err := apply(); err != nil || r.Tested || r.Reloaded || reloads() != 2 {
		t.Fatalf("back to the certificate last tested and reloaded: nothing to do, got %+v %v reloads=%d", r, err, reloads())
	}
	if err := os.Remove(cert); err != nil {
		t.Fatal(err)
	}
	if !NeedsApply(rendered, true, rendered, st, c.Files...) {
		t.Error("a removed file is a change too")
	}
}

func TestDigestWithoutFilesIsTheHashOfTheBytes(t *testing.T) {
	b := []byte("upstream x {}\n")
	if Digest(b, nil) != Hash(b) {
		t.Error("a config without referenced files must keep the digest states already record")
	}
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	if err := os.WriteFile(a, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if Digest(b, []string{a}) == Digest(b, []string{filepath.Join(dir, "b")}) {
		t.Error("a present and an absent file have the same digest")
	}
	if Digest(b, []string{a}) == Digest([]byte("other"), []string{a}) {
		t.Error("the bytes are not part of the digest")
	}
}
