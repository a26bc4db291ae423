package spec

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInputsThatAreNotFilesAreRefusedWithoutBlocking: the spec and the
// files it names (env_file, swarm secrets and configs) are read at load;
// one that is a FIFO (nobody writes to it), a device (/dev/zero never
// ends), a directory or a file over its limit is a problem naming it, and
// no load waits on it. A symlink to a regular file is read.
func TestInputsThatAreNotFilesAreRefusedWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.env")
	if err := os.WriteFile(big, []byte(strings.Repeat("A=1\n", MaxEnvFile/4+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.env")
	if err := os.WriteFile(good, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.env")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	within := func(name string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the load blocked", name)
		}
	}
	for _, c := range []struct{ name, env, want string }{
		{"a FIFO", fifo, "not a regular file"},
		{"a device", "/dev/zero", "not a regular file"},
		{"a directory", dir, "not a regular file"},
		{"a file over the limit", big, "over the"},
	} {
		within(c.name, func() {
			y := "apps:\n  - {name: web, image: web:1, env_file: [" + c.env + "]}\n"
			_, err := Parse(filepath.Join(dir, "baton.yaml"), []byte(y))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "env_file") {
				t.Errorf("%s as env_file: %v", c.name, err)
			}
		})
	}
	within("a symlinked env file", func() {
		if _, err := Parse(filepath.Join(dir, "baton.yaml"), []byte("apps:\n  - {name: web, image: web:1, env_file: ["+link+"]}\n")); err != nil {
			t.Errorf("a symlink to a regular env file: %v", err)
		}
	})
	within("the spec as a FIFO", func() {
		if _, err := Load(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("a FIFO as the spec: %v", err)
		}
	})
	within("a swarm secret that is a FIFO", func() {
		y := "swarm: {}\nsecrets: {tok: {file: " + fifo + "}}\napps: []\n"
		if _, err := Parse(filepath.Join(dir, "baton.yaml"), []byte(y)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("a FIFO as a secret: %v", err)
		}
	})
}
