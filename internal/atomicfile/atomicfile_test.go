package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func names(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestWriteFileCreatesAndReplacesLeavingNothingElse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.conf")
	if err := WriteFile(path, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if read(t, path) != "two" || fi.Mode().Perm() != 0o640&^umask() {
		t.Errorf("got %q %v: the replacement keeps the first file's mode", read(t, path), fi.Mode())
	}
	if got := names(t, dir); got != "x.conf" {
		t.Errorf("left %q beside the file", got)
	}
}

func umask() os.FileMode {
	old := syscall.Umask(0)
	syscall.Umask(old)
	return os.FileMode(old)
}

// TestReplaceKeepsOwnerAndMode: a file owned by another user, with a mode
// the umask would not give (setgid, group-writable), keeps both.
func TestReplaceKeepsOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "changing a file's owner needs root")
	}
	path := filepath.Join(t.TempDir(), "baton.conf")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 4321, 8765); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o664|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Lstat(path)
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 4321 || st.Gid != 8765 || fi.Mode()&(os.ModePerm|os.ModeSetgid) != 0o664|os.ModeSetgid {
		t.Errorf("owner %d:%d mode %v, want 4321:8765 -rw-rw-r-- with setgid", st.Uid, st.Gid, fi.Mode())
	}
	if read(t, path) != "new" {
		t.Error("bytes not replaced")
	}
}

// TestNeverThroughASymlink: a symlinked destination (to a file, to a
// missing file, to a directory) is refused naming the path; the symlink and
// its target stay as they were.
func TestNeverThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{victim, filepath.Join(dir, "missing"), dir} {
		path := filepath.Join(dir, "link-"+filepath.Base(target))
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		err := WriteFile(path, []byte("evil"), 0o644)
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("%s: want a refusal naming the path and saying symlink, got %v", path, err)
		}
		if got, _ := os.Readlink(path); got != target {
			t.Errorf("%s: the symlink was replaced", path)
		}
		if _, err := Read(path, 1<<20); !errors.As(err, &re) {
			t.Errorf("%s: Read must refuse a symlink too, got %v", path, err)
		}
	}
	if read(t, victim) != "precious" {
		t.Error("the symlink's target was written")
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a dangling symlink's target was created")
	}
}

func TestNotARegularFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "a FIFO", sub: "a directory", "/dev/zero": "a character device"} {
		if err := WriteFile(path, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("WriteFile %s: want a refusal saying %s, got %v", path, want, err)
		}
		done := make(chan error, 1)
		go func() { _, err := Read(path, 1<<20); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Read %s: want a refusal saying %s, got %v", path, want, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Read %s blocked", path)
		}
	}
}

func TestReadCapsTheSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 1001), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path, 1000); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("want a refusal over the limit, got %v", err)
	}
	if b, err := Read(path, 1001); err != nil || len(b) != 1001 {
		t.Errorf("at the limit: %d bytes, %v", len(b), err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file must be ErrNotExist, got %v", err)
	}
}

// TestFullDiskKeepsTheOldBytes: a write that does not fit leaves the old
// file byte for byte and no temporary file.
func TestFullDiskKeepsTheOldBytes(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, "mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	path := filepath.Join(dir, "state.json")
	if err := WriteFile(path, []byte("old bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, bytes.Repeat([]byte("n"), 1<<20), 0o644)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("want no space left on device, got %v", err)
	}
	if read(t, path) != "old bytes\n" {
		t.Error("the old bytes changed on a full disk")
	}
	if got := names(t, dir); got != "state.json" {
		t.Errorf("left %q", got)
	}
}

func TestIsTemp(t *testing.T) {
	cases := []struct {
		name, base string
		want       bool
	}{
		{".state.json123456", "state.json", true},
		{".state.json9", "state.json", true},
		{".state.json", "state.json", false},
		{".state.jsonx", "state.json", false},
		{".state.json12x", "state.json", false},
		{"state.json.lock", "state.json", false},
		{".state.json.lock", "state.json", false},
		{".baton.conf.baton-good", "baton.conf", false},
		{"..baton.conf.baton-good77", ".baton.conf.baton-good", true},
	}
	for _, c := range cases {
		if got := IsTemp(c.name, c.base); got != c.want {
			t.Errorf("IsTemp(%q, %q) = %v, want %v", c.name, c.base, got, c.want)
		}
	}
}

// TestKilledWriterLeavesOldBytesAndALeftoverThatIsRemoved: a process killed
// with SIGKILL after writing but before the rename leaves the old bytes and
// a temporary file; RemoveLeftovers removes exactly that file.
func TestKilledWriterLeavesOldBytesAndALeftoverThatIsRemoved(t *testing.T) {
	if path := os.Getenv("BATON_ATOMICFILE_HELPER"); path != "" {
		f, err := Create(path, 0o644)
		if err != nil {
			os.Exit(2)
		}
		_, _ = f.Write([]byte("new bytes that never land"))
		_ = os.WriteFile(path+".ready", nil, 0o644)
		time.Sleep(time.Minute)
		os.Exit(3)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "baton.conf")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Files RemoveLeftovers must not touch: other files' temporaries,
	// names that only look similar, a directory matching the rule.
	for _, n := range []string{".other.conf123", ".baton.confx1", "baton.conf.1"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".baton.conf42"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterLeavesOldBytesAndALeftoverThatIsRemoved$")
	cmd.Env = append(os.Environ(), "BATON_ATOMICFILE_HELPER="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path + ".ready"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("helper never got ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if read(t, path) != "old" {
		t.Error("the old bytes changed")
	}
	removed := RemoveLeftovers(path, filepath.Join(dir, "state.json"))
	if len(removed) != 1 || !IsTemp(filepath.Base(removed[0]), "baton.conf") {
		t.Fatalf("removed %v, want the one temporary file of baton.conf", removed)
	}
	want := ".baton.conf42 .baton.confx1 .other.conf123 baton.conf baton.conf.1 baton.conf.ready"
	if got := names(t, dir); got != want {
		t.Errorf("left %q, want %q", got, want)
	}
}
