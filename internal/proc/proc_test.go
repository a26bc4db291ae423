package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func pidIn(t *testing.T, path string) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			n, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%s (pid %d) is still running", what, pid)
}

// TestDeadlineKillsTheWholeGroup: a shell whose child sleeps 70s and keeps
// the output pipe is stopped at a 1s deadline, child included.
func TestDeadlineKillsTheWholeGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	_, err := Combined(context.Background(), []string{"sh", "-c", "sleep 70 & echo $! > " + pidFile + "; wait; true"}, Options{Timeout: time.Second})
	took := time.Since(start)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("want a TimeoutError, got %v", err)
	}
	if took > 20*time.Second {
		t.Fatalf("Run held for %s past a 1s deadline", took)
	}
	waitDead(t, pidIn(t, pidFile), "the shell's child")
}

// TestTheIssuesExample: `sh -c "sleep 70; true"` (the shell waits for its
// child) is bounded by the deadline.
func TestTheIssuesExample(t *testing.T) {
	start := time.Now()
	_, _, err := Run(context.Background(), []string{"sh", "-c", "sleep 70; true"}, Options{Timeout: time.Second})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 20*time.Second {
		t.Fatalf("got %v after %s", err, time.Since(start))
	}
}

// TestABackgroundChildCannotHoldTheOutput: the leader exits 0 at once, a
// background child keeps stdout open for 70s: Run returns the exit status
// and output without waiting for it, and kills it.
func TestABackgroundChildCannotHoldTheOutput(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	out, err := Combined(context.Background(), []string{"sh", "-c", "echo started; sleep 70 & echo $! > " + pidFile}, Options{Timeout: time.Minute})
	if err != nil || !strings.Contains(string(out), "started") {
		t.Fatalf("want success with the output, got %q %v", out, err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("Run held %s for a child holding the pipe", took)
	}
	waitDead(t, pidIn(t, pidFile), "the background child")
}

// TestADaemonThatLeftTheGroupIsNotKilled: a child that started its own
// session (as a daemon does) and closed our pipes survives Run.
func TestADaemonThatLeftTheGroupIsNotKilled(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid(1) not installed")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	_, err := Combined(context.Background(), []string{"sh", "-c", "setsid sh -c 'echo $$ > " + pidFile + "; exec sleep 30' </dev/null >/dev/null 2>&1 &"}, Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pid := pidIn(t, pidFile)
	defer func() { p, _ := os.FindProcess(pid); _ = p.Kill() }()
	time.Sleep(2 * WaitDelay)
	if !alive(pid) {
		t.Error("a daemon in its own session was killed")
	}
}

func TestExitStatusOutputAndCap(t *testing.T) {
	out, errOut, err := Run(context.Background(), []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, Options{})
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || string(out) != "out\n" || string(errOut) != "err\n" {
		t.Fatalf("got %q %q %v", out, errOut, err)
	}
	out, err = Combined(context.Background(), []string{"sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x"}, Options{MaxOutput: 1000})
	if err != nil || !strings.HasPrefix(string(out), strings.Repeat("x", 1000)+"\n[4000 bytes dropped]") {
		t.Fatalf("cap: %d bytes %q, %v", len(out), out[len(out)-30:], err)
	}
	out, err = Combined(context.Background(), []string{"cat"}, Options{Stdin: []byte("payload"), Dir: t.TempDir()})
	if err != nil || string(out) != "payload" {
		t.Fatalf("stdin: %q %v", out, err)
	}
	if _, err := Combined(context.Background(), nil, Options{}); err == nil {
		t.Error("an empty argv must fail")
	}
}

func TestCancelKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { pidIn(t, pidFile); cancel() }()
	_, err := Combined(ctx, []string{"sh", "-c", "sleep 70 & echo $! > " + pidFile + "; wait"}, Options{Timeout: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	waitDead(t, pidIn(t, pidFile), "the shell's child")
}
