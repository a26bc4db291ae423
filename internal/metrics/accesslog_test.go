package metrics

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func appendLines(t *testing.T, path, app string, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; i < n; i++ {
		status := 200
		if i%10 == 9 {
			status = 502
		}
		fmt.Fprintf(f, "baton1 1763900000.%03d %s %d 0.%03d\n", i%1000, app, status, (i%100)+1)
	}
}

func count(s map[string]*AppSample, app string) int {
	if s[app] == nil {
		return 0
	}
	return s[app].Requests
}

func TestReadIncrementally(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	appendLines(t, path, "web", 5)
	s, pos, _, err := Read(path, nil, t0)
	if err != nil || count(s, "web") != 0 || pos.Offset == 0 {
		t.Fatalf("a first read only records the end: %v %+v %v", s, pos, err)
	}
	appendLines(t, path, "web", 20)
	appendLines(t, path, "api", 3)
	s, pos, took, err := Read(path, pos, t0.Add(10*time.Second))
	if err != nil || count(s, "web") != 20 || count(s, "api") != 3 || took != 10*time.Second {
		t.Fatalf("got %d web, %d api, %s, %v", count(s, "web"), count(s, "api"), took, err)
	}
	if s["web"].Errors != 2 {
		t.Errorf("errors %d, want 2", s["web"].Errors)
	}
	s, _, _, _ = Read(path, pos, t0.Add(20*time.Second))
	if count(s, "web") != 0 {
		t.Error("lines counted twice")
	}
}

func TestPartialLineWaitsForTheNextPass(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	appendLines(t, path, "web", 1)
	_, pos, _, _ := Read(path, nil, t0)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprint(f, "baton1 1763900000.000 web 200 0.0")
	s, pos, _, _ := Read(path, pos, t0.Add(time.Second))
	if count(s, "web") != 0 {
		t.Fatal("a partial line was counted")
	}
	fmt.Fprint(f, "10\n")
	f.Close()
	s, _, _, _ = Read(path, pos, t0.Add(2*time.Second))
	if count(s, "web") != 1 || s["web"].Latencies[0] != 0.01 {
		t.Errorf("the completed line: %+v", s["web"])
	}
}

func TestRotationByRenameAndByTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendLines(t, path, "web", 1)
	_, pos, _, _ := Read(path, nil, t0)

	// Rename rotation: 7 more lines land in the old file after our read,
	// then the new file gets 4.
	appendLines(t, path, "web", 7)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "web", 4)
	s, pos, _, err := Read(path, pos, t0.Add(time.Second))
	if err != nil || count(s, "web") != 11 {
		t.Fatalf("after rename rotation: %d lines (want 7 old + 4 new), %v", count(s, "web"), err)
	}
	// copytruncate: the file is emptied in place, then 3 lines are written.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "web", 3)
	s, pos, _, err = Read(path, pos, t0.Add(2*time.Second))
	if err != nil || count(s, "web") != 3 {
		t.Fatalf("after copytruncate: %d lines, want 3 (%v)", count(s, "web"), err)
	}
	s, _, _, _ = Read(path, pos, t0.Add(3*time.Second))
	if count(s, "web") != 0 {
		t.Error("a line was counted twice after rotation")
	}
}

func TestP95(t *testing.T) {
	s := &AppSample{}
	for i := 1; i <= 100; i++ {
		s.Latencies = append(s.Latencies, float64(i)/1000)
	}
	if got := s.P95(); got != 95 {
		t.Errorf("p95 = %v ms, want 95", got)
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add("baton1 1763900000.123 web 200 0.012")
	f.Add("baton1 x y z")
	f.Add("")
	f.Fuzz(func(t *testing.T, line string) {
		app, status, secs, ok := ParseLine(line)
		if ok && (app == "" || status < 100 || status > 599 || secs < 0) {
			t.Errorf("accepted %q as %q %d %v", line, app, status, secs)
		}
	})
}
