package state

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

var at = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// TestSymlinkedLockFileIsRefused: a symlink at state.json.lock (to a file,
// or dangling) is refused naming it; its target is neither truncated nor
// created (before, it was truncated to "pid N": any file on the host, as
// root).
func TestSymlinkedLockFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{victim, filepath.Join(dir, "missing")} {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.Symlink(target, path+".lock"); err != nil {
			t.Fatal(err)
		}
		_, err := Open(context.Background(), path, 0)
		if err == nil || !strings.Contains(err.Error(), path+".lock") || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("want a refusal naming the lock file, got %v", err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Error("the dangling symlink's target was created")
	}
}

// TestLockFileIsWrittenInPlace: the holder's pid goes into the lock file,
// which keeps its inode (never replaced, never truncated on open).
func TestLockFileIsWrittenInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path+".lock", []byte("pid 1 and some old text\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path + ".lock")
	f, err := Open(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	after, _ := os.Stat(path + ".lock")
	b, _ := os.ReadFile(path + ".lock")
	if !os.SameFile(before, after) || string(b) != fmt.Sprintf("pid %d\n", os.Getpid()) {
		t.Errorf("lock file %q (same inode: %v)", b, os.SameFile(before, after))
	}
}

// TestStateFileThatIsNotARegularFile: a symlink, a FIFO or a device as the
// state file is refused at once (a FIFO used to hang the pass, /dev/zero
// to eat memory); a save never replaces a symlinked state file.
func TestStateFileThatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim.json")
	if err := os.WriteFile(victim, []byte(`{"version": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{link: "symlink", fifo: "FIFO", "/dev/zero": "character device"} {
		done := make(chan error, 1)
		go func() { _, err := Read(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
				t.Errorf("Read %s: want a refusal saying %s, got %v", path, want, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Read %s blocked", path)
		}
	}
	f, err := Open(context.Background(), link, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Load(); err == nil {
		t.Error("Load followed the symlink")
	}
	if err := f.Save(New()); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("Save through a symlink: want a refusal, got %v", err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a regular file")
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxBytes+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(big); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("a state over MaxBytes: want a refusal, got %v", err)
	}
}

// TestSaveKeepsOwnerAndMode: the state file keeps its owner and mode
// across saves.
func TestSaveKeepsOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "changing a file's owner needs root")
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"version": 1}`), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 999, 998); err != nil {
		t.Fatal(err)
	}
	f, err := Open(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Save(New()); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 999 || st.Gid != 998 || fi.Mode().Perm() != 0o640 {
		t.Errorf("owner %d:%d mode %v after a save", st.Uid, st.Gid, fi.Mode())
	}
}

// TestDecodedStatesAreSafe: null entries are dropped (the state methods do
// not panic on them, as Attempts did on {"apps": {"web": null}}); values no
// pass writes are refused naming the field.
func TestDecodedStatesAreSafe(t *testing.T) {
	for _, doc := range []string{
		`{"version": 1, "apps": {"web": null}}`,
		`{"version": 1, "apps": {"web": null, "db": {"attempts": ["2026-11-23T11:59:00Z"]}}, "probes": {"x": null}, "balancer": {"/a": null}, "mods": {"m": null}}`,
		`{"version": 1, "apps": null, "probes": null, "balancer": null}`,
		`{"version": 1, "apps": {"web": {"autoscale": null, "attempts": null}}}`,
	} {
		s, err := Decode("s.json", []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		exercise(t, s)
		if s.Apps["web"] != nil && s.Apps["web"].Autoscale != nil {
			t.Errorf("%s: got %+v", doc, s.Apps["web"])
		}
	}
	for doc, field := range map[string]string{
		`{"version": 1, "probes": {"c1": {"failures": -1, "successes": 0, "last_at": "2026-11-23T12:00:00Z"}}}`:                                                 `probes["c1"].failures`,
		`{"version": 1, "probes": {"c1": {"failures": 0, "successes": -3, "last_at": "2026-11-23T12:00:00Z"}}}`:                                                 `probes["c1"].successes`,
		`{"version": 1, "apps": {"web": {"autoscale": {"desired": -2}}}}`:                                                                                       `apps["web"].autoscale.desired`,
		`{"version": 1, "apps": {"web": {"autoscale": {"desired": 1, "recommendations": [{"at": "2026-11-23T12:00:00Z", "replicas": -1}]}}}}`:                   `apps["web"].autoscale.recommendations[0].replicas`,
		`{"version": 1, "mods": {"a.jar": {"url": "u", "sha256": "", "size": -5, "fetched_at": "2026-11-23T12:00:00Z", "checked_at": "2026-11-23T12:00:00Z"}}}`: `mods["a.jar"].size`,
		`{"version": 1, "runs": {"scale": -1}}`: `runs["scale"]`,
		`{"version": 1, "access_log": {"path": "/x", "dev": 1, "ino": 2, "offset": -10, "at": "2026-11-23T12:00:00Z"}}`: `access_log.offset`,
	} {
		_, err := Decode("s.json", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), "s.json is invalid") || !strings.Contains(err.Error(), "will not overwrite") {
			t.Errorf("%s: want an error naming %s, got %v", doc, field, err)
		}
	}
}

// exercise calls every state method a pass calls on a decoded state.
func exercise(t *testing.T, s *State) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("a state method panicked on a decoded state: %v", r)
		}
	}()
	for name, a := range s.Apps {
		for k := range a.Slots {
			if r, err := strconv.Atoi(k); err == nil {
				s.AddSlotAttempt(name, r, at, time.Hour, a.SlotsHash)
				_ = s.SlotAttempts(name, r)
			}
		}
		s.ResetSlot(name, 0)
	}
	s.AddSlotAttempt("new", 0, at, time.Hour, "h")
	for k, inc := range s.Incidents {
		if inc == nil {
			t.Fatalf("incidents[%q] is nil", k)
		}
	}
	s.AppState("web").LastAction = "x"
	s.BalancerState("/etc/nginx/conf.d/baton.conf").Tested = "h"
	for id, p := range s.Probes {
		if p == nil {
			t.Fatalf("probes[%q] is nil", id)
		}
		_ = p.Failures + p.Successes
	}
	for dest, m := range s.Mods {
		if m == nil {
			t.Fatalf("mods[%q] is nil", dest)
		}
		_ = m.Size
	}
	for path, b := range s.Balancer {
		if b == nil {
			t.Fatalf("balancer[%q] is nil", path)
		}
	}
	for name, a := range s.Apps {
		if a == nil {
			t.Fatalf("apps[%q] is nil", name)
		}
		if a.Autoscale != nil {
			_ = len(a.Autoscale.Recs)
		}
	}
	if err := s.validate(); err != nil {
		t.Fatalf("a decoded state does not validate: %v", err)
	}
}

func events(n int, reason string) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{Time: at, Command: "scale", Type: "start", App: "web", Target: fmt.Sprintf("web-%d", i), Reason: reason}
	}
	return out
}

func openState(t *testing.T, dir string) *File {
	t.Helper()
	f, err := Open(context.Background(), filepath.Join(dir, "state.json"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestTornEventLogIsCutBeforeTheNextAppend: bytes after the last newline
// (a crash mid-append) are cut, so the next event is not glued to them.
func TestTornEventLogIsCutBeforeTheNextAppend(t *testing.T) {
	for _, torn := range []string{`{"time":"2026-11-23T12:00:00Z","command":"sc`, strings.Repeat("x", 200<<10)} {
		dir := t.TempDir()
		f := openState(t, dir)
		if err := f.AppendEvents(events(2, "first")); err != nil {
			t.Fatal(err)
		}
		fh, err := os.OpenFile(f.Events(), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fh.WriteString(torn)
		fh.Close()
		if err := f.AppendEvents(events(1, "after the crash")); err != nil {
			t.Fatal(err)
		}
		got, skipped, err := ReadEventLog(f.Path())
		if err != nil || len(got) != 3 || got[2].Reason != "after the crash" || len(skipped) != 0 {
			t.Fatalf("got %d events %+v, skipped %v, %v", len(got), got, skipped, err)
		}
	}
}

// TestEventAppendOnAFullDiskIsWholeOrAbsent: an append that fails part way
// is cut back; once there is room again the next event is whole.
func TestEventAppendOnAFullDiskIsWholeOrAbsent(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Missing(t, "mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	f := openState(t, dir)
	if err := f.AppendEvents(events(3, "before")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(f.Events())
	// Fill the disk, then free one page: the next append fits only in part.
	filler := filepath.Join(dir, "filler")
	fh, _ := os.Create(filler)
	for buf := make([]byte, 4096); ; {
		if _, err := fh.Write(buf); err != nil {
			break
		}
	}
	fh.Close()
	if err := os.Truncate(filler, mustSize(t, filler)-4096); err != nil {
		t.Fatal(err)
	}
	err := f.AppendEvents(events(200, strings.Repeat("r", 200)))
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("want no space left on device, got %v", err)
	}
	if now, _ := os.ReadFile(f.Events()); !bytes.Equal(now, before) {
		t.Fatalf("a failed append left %d bytes behind", len(now)-len(before))
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := f.AppendEvents(events(1, "after")); err != nil {
		t.Fatal(err)
	}
	got, skipped, err := ReadEventLog(f.Path())
	if err != nil || len(got) != 4 || got[3].Reason != "after" || len(skipped) != 0 {
		t.Fatalf("got %d events, skipped %v, %v", len(got), skipped, err)
	}
}

func mustSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestEventLinesOfAnyLength: a line over MaxEventLine (written by someone
// else) is skipped and reported, and the lines after it are read; baton's
// own long fields are cut so its lines always fit.
func TestEventLinesOfAnyLength(t *testing.T) {
	dir := t.TempDir()
	f := openState(t, dir)
	if err := f.AppendEvents(events(1, "one")); err != nil {
		t.Fatal(err)
	}
	huge, _ := json.Marshal(Event{Time: at, Type: "start", Reason: strings.Repeat("h", 3*MaxEventLine)})
	fh, _ := os.OpenFile(f.Events(), os.O_WRONLY|os.O_APPEND, 0)
	_, _ = fh.Write(append(huge, '\n'))
	fh.Close()
	if err := f.AppendEvents(events(1, strings.Repeat("é", MaxEventLine))); err != nil {
		t.Fatal(err)
	}
	if err := f.AppendEvents(events(1, "last")); err != nil {
		t.Fatal(err)
	}
	got, skipped, err := ReadEventLog(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Reason != "one" || got[2].Reason != "last" || !strings.HasSuffix(got[1].Reason, "bytes cut]") {
		t.Fatalf("got %d events", len(got))
	}
	if len(skipped) != 1 || skipped[0].Line != 2 || skipped[0].Bytes != len(huge)+1 || !strings.Contains(skipped[0].String(), "longer than") {
		t.Fatalf("skipped %v", skipped)
	}
}

// TestSymlinkedEventLogIsRefused: the event log is never appended through
// a symlink (JSON used to land in its target).
func TestSymlinkedEventLogIsRefused(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := openState(t, dir)
	if err := os.Symlink(victim, f.Events()); err != nil {
		t.Fatal(err)
	}
	err := f.AppendEvents(events(1, "x"))
	if err == nil || !strings.Contains(err.Error(), f.Events()) || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("want a refusal naming the log, got %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the target was appended to: %q", b)
	}
	if _, _, err := ReadEventLog(f.Path()); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("ReadEventLog through a symlink: want a refusal, got %v", err)
	}
}
