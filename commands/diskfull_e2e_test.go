package commands_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// smallFS mounts a tmpfs of size at a temporary directory (root only; the
// tests run as root, like CI).
func smallFS(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, "mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			return // ENOSPC: full
		}
	}
}

// TestDiskFullAndReadOnly: with the state and the nginx config on a full
// filesystem, and then a read-only one, passes fail with a clear error and
// the previous state and config stay byte for byte.
func TestDiskFullAndReadOnly(t *testing.T) {
	e := newE2E(t)
	small := smallFS(t, "256k")
	e.state = filepath.Join(small, "state.json")
	e.writeSpec(1, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	oldState, _ := os.ReadFile(e.state)
	oldConf, _ := os.ReadFile(e.nginx.Conf())

	fill(t, small)
	e.writeSpec(2, "baton-test:v1", "")
	_, errOut, code := e.baton("scale")
	if code != 1 || !strings.Contains(errOut, "no space left on device") {
		t.Errorf("disk full: want exit 1 saying no space left, got %d:\n%s", code, errOut)
	}
	if now, _ := os.ReadFile(e.state); !bytes.Equal(now, oldState) {
		t.Error("the state file changed on a full disk")
	}
	e.checkFiles("disk full")

	if out, err := exec.Command("mount", "-o", "remount,ro", small).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v %s", err, out)
	}
	_, errOut, code = e.baton("scale")
	if code != 1 || !strings.Contains(errOut, "read-only file system") {
		t.Errorf("read-only: want exit 1 saying read-only file system, got %d:\n%s", code, errOut)
	}
	if now, _ := os.ReadFile(e.state); !bytes.Equal(now, oldState) {
		t.Error("the state file changed on a read-only filesystem")
	}
	if now, _ := os.ReadFile(e.nginx.Conf()); len(now) == 0 || len(oldConf) == 0 {
		t.Error("the nginx config was lost")
	}
	e.checkFiles("read-only")
}

// TestFullConfigDiskKeepsTheOldConfig: when the balancer config cannot be
// written, the old one stays and nginx keeps serving.
func TestFullConfigDiskKeepsTheOldConfig(t *testing.T) {
	e := newE2E(t)
	small := smallFS(t, "256k")
	confDir := filepath.Join(e.nginx.Dir, "conf.d")
	// Move baton's include onto the small filesystem, behind a symlinked dir.
	if err := os.Remove(confDir); err != nil && !os.IsNotExist(err) {
		if err := os.RemoveAll(confDir); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(small, confDir); err != nil {
		t.Fatal(err)
	}
	e.writeSpec(2, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	old, _ := os.ReadFile(e.nginx.Conf())
	fill(t, small)
	e.writeSpec(3, "baton-test:v1", "")
	_, errOut, code := e.baton("scale")
	if code != 1 || !strings.Contains(errOut, "no space left on device") {
		t.Errorf("want exit 1 saying no space left, got %d:\n%s", code, errOut)
	}
	if now, _ := os.ReadFile(e.nginx.Conf()); !bytes.Equal(now, old) {
		t.Errorf("the config changed on a full disk:\n%s", now)
	}
	if seen := e.responders(6); len(seen) != 2 {
		t.Errorf("nginx no longer serves the 2 old replicas: %v", seen)
	}
}
