package state

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	f, err := Open(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := f.Load()
	if err != nil || s.Version != Version {
		t.Fatalf("missing file must load as empty state: %v %+v", err, s)
	}
	s.AppState("web").LastAction = "start web replica 0"
	s.BalancerState("/etc/nginx/conf.d/baton.conf").Reloaded = "abc"
	if err := f.Save(s); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Apps["web"].LastAction != "start web replica 0" || got.Balancer["/etc/nginx/conf.d/baton.conf"].Reloaded != "abc" {
		t.Errorf("round trip lost data: %+v", got)
	}
}

func TestSecondOpenFailsWithTheLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f, err := Open(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	_, err = Open(context.Background(), path, 200*time.Millisecond)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("want *LockedError, got %v", err)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Error("Open did not wait for the lock timeout")
	}
	if le.LockFile != path+".lock" || !strings.Contains(err.Error(), path+".lock") {
		t.Errorf("error must name the lock file: %v", err)
	}
	if !strings.Contains(err.Error(), "pid ") {
		t.Errorf("error should name the holder's pid: %v", err)
	}
}

func TestLockHeldByAnotherProcess(t *testing.T) {
	flockCmd, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("flock(1) not installed")
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path+".lock", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	holder := exec.Command(flockCmd, path+".lock", "sleep", "5")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	deadline := time.Now().Add(3 * time.Second)
	for {
		f, err := Open(context.Background(), path, 0)
		if err != nil {
			var le *LockedError
			if !errors.As(err, &le) {
				t.Fatalf("want *LockedError, got %v", err)
			}
			return
		}
		f.Close()
		if time.Now().After(deadline) {
			t.Fatal("lock held by another process was never seen")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLockIsReleasedByClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f, err := Open(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	g, err := Open(context.Background(), path, 0)
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	g.Close()
}

func TestBadFilesAreErrorsAndKept(t *testing.T) {
	cases := []struct {
		name, content, want string
	}{
		{"corrupt", `{"version": 1, "apps": {`, "is corrupt"},
		{"future version", `{"version": 99}`, "newer than this baton understands"},
		{"no version", `{"apps": {}}`, "no version field"},
		{"unknown field", `{"version": 1, "surprise": true}`, "is corrupt"},
		{"not json", "\x00\x01binary", "is corrupt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(context.Background(), path, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = f.Load()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("want an error naming %s and saying %q, got %v", path, c.want, err)
			}
			b, _ := os.ReadFile(path)
			if string(b) != c.content {
				t.Error("the bad file was changed")
			}
		})
	}
}

func TestWriteFileIsAtomicReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.conf")
	if err := WriteFile(path, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(b) != "two" || fi.Mode().Perm() != 0o640 {
		t.Errorf("got %q %v", b, fi.Mode())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestStaleTempFilesAreRemovedUnderTheLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, name := range []string{".state.json123456", ".state.json9", ".state.jsonx", "state.json.lock", ".other1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != ".other1 .state.jsonx state.json.lock" {
		t.Errorf("left %v: only renameio's leftovers (.state.json<digits>) may go", left)
	}
}
