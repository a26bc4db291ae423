package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/clock"
)

// ReloadAndWait tests and reloads n's configuration and waits (at most
// 10 s) until every worker runs it: nginx -s reload only signals the
// master, whose old workers serve the old configuration until they exit.
func (n *Nginx) ReloadAndWait(t testing.TB) {
	t.Helper()
	if _, stderr, code := Run(t, n.Dir, n.Test()...); code != 0 {
		t.Fatalf("nginx -t: %s", stderr)
	}
	b, err := os.ReadFile(filepath.Join(n.Dir, "nginx.pid"))
	if err != nil {
		t.Fatal(err)
	}
	master, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	old := children(master)
	if _, stderr, code := Run(t, n.Dir, n.Reload()...); code != 0 {
		t.Fatalf("nginx reload: %s", stderr)
	}
	deadline := wall.Now().Add(10 * time.Second) // the one wall clock (internal/clock)
	for {
		now := children(master)
		replaced := len(now) > 0
		for pid := range now {
			if old[pid] {
				replaced = false
			}
		}
		if replaced {
			return
		}
		if wall.Now().After(deadline) {
			t.Fatalf("nginx workers %v did not give way to new ones within 10 s", old)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// children are the processes whose parent is pid.
func children(pid int) map[int]bool {
	out := map[int]bool{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut after ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 && f[1] == strconv.Itoa(pid) {
				out[child] = true
			}
		}
	}
	return out
}

// wall is the clock of the waits here: the one wall clock (internal/clock).
var wall clock.Clock = clock.Real{}
