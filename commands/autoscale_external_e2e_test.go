package commands_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExternalScalerRunsForReal runs executable scalers (shell scripts:
// the metrics JSON on stdin, a count on stdout) through scale: one that
// answers, one that asks beyond max (clamped), one that prints garbage (a
// warning and the explain row say why; the count is kept), one that hangs
// with a child holding its stdout and one that answers while a child it
// left behind holds its stdout (both bounded: the pass ends, and the whole
// process group is dead when it does).
func TestExternalScalerRunsForReal(t *testing.T) {
	e := newE2E(t)
	metricsPath := filepath.Join(e.dir, "metrics.json")
	if err := os.WriteFile(metricsPath, []byte(`{"apps": {"web": {"rps": 123, "cpu": 0.5, "cpu_samples": 1}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	scaler := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(e.dir, "scaler.sh"), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.writeSpec(1, "baton-test:v1", "    autoscale: {min: 1, max: 4, external: {command: [./scaler.sh], timeout: 2s}, scale_down: {stabilization: 0s}}\n")
	scale := func() (string, string) {
		t.Helper()
		// --explain is a dry run: the explanation, then the pass.
		out, errOut, code := e.baton("scale", "--explain", "--metrics", metricsPath)
		if code != 0 {
			t.Fatalf("scale --explain: exit %d\n%s%s", code, out, errOut)
		}
		e.mustBaton(0, "scale", "--metrics", metricsPath)
		return out, errOut
	}

	// It answers 3, and got the metrics on stdin.
	scaler("cat > input.json\necho 3\n")
	out, _ := scale()
	if n := len(e.running()); n != 3 || !strings.Contains(out, "the scaler answered 3") || !strings.Contains(out, "scale up 1 → 3") {
		t.Fatalf("a scaler answering 3: %d running\n%s", n, out)
	}
	var in struct {
		App     string
		Current int
		Metrics map[string]float64
	}
	b, _ := os.ReadFile(filepath.Join(e.dir, "input.json"))
	if err := json.Unmarshal(b, &in); err != nil || in.App != "web" || in.Current != 1 || in.Metrics["rps"] != 123 {
		t.Errorf("the scaler's stdin: %v %s", err, b)
	}

	// It asks beyond max: capped.
	scaler("echo 50\n")
	out, _ = scale()
	if n := len(e.running()); n != 4 || !strings.Contains(out, "the scaler answered 50") || !strings.Contains(out, "capped at max 4") {
		t.Errorf("a scaler asking 50 of max 4: %d running\n%s", n, out)
	}

	// It prints garbage: the count is kept, and the warning and the
	// explain row say what it printed.
	scaler("echo banana\n")
	out, errOut := scale()
	if n := len(e.running()); n != 4 || !strings.Contains(out, `no answer (want a replica count on stdout, got "banana"): no opinion`) ||
		!strings.Contains(out, "keep 4") || !strings.Contains(errOut, `autoscale web: external scaler: want a replica count on stdout, got "banana"`) {
		t.Errorf("a scaler printing garbage: %d running\nstdout:\n%s\nstderr:\n%s", n, out, errOut)
	}

	// It hangs, and so does a child that holds its stdout: killed at the
	// 2s timeout, the pass goes on with the count kept.
	scaler("sleep 60 &\necho $! > child.pid\nsleep 60\n")
	start := time.Now()
	out, errOut = scale()
	took := time.Since(start)
	if n := len(e.running()); n != 4 || !strings.Contains(out, "timed out after 2s") || !strings.Contains(out, "keep 4") || took > 30*time.Second {
		t.Errorf("a hanging scaler: %d running, the pass took %s\nstdout:\n%s\nstderr:\n%s", n, took, out, errOut)
	}
	mustBeGone(t, filepath.Join(e.dir, "child.pid"))

	// It answers 2 and exits, leaving a child that holds its stdout: the
	// answer counts, the pass does not wait for the child, the child dies.
	scaler("sleep 60 &\necho $! > child.pid\necho 2\n")
	start = time.Now()
	out, _ = scale()
	took = time.Since(start)
	if n := len(e.running()); n != 2 || !strings.Contains(out, "the scaler answered 2") || took > 30*time.Second {
		t.Errorf("a scaler leaving a child behind: %d running, the pass took %s\n%s", n, took, out)
	}
	mustBeGone(t, filepath.Join(e.dir, "child.pid"))
}

// mustBeGone fails unless the process whose PID the file holds is gone.
func mustBeGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the scaler wrote no child PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ { // the kill is sent; the kernel reaps it
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(st), ") Z ") {
			return // a zombie: dead, waiting for its parent (init) to reap it
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("the scaler's child %d outlived the pass", pid)
}

// TestPredictiveAutoscalingKeepsItsHistory: a predictive policy's rate
// history lives in the state file between passes, so a rate rising 20
// rps per second (fed through --metrics, a pass about every second) is
// forecast a horizon ahead: --explain shows the forecast row with its
// trend, and the count runs ahead of the rate now.
func TestPredictiveAutoscalingKeepsItsHistory(t *testing.T) {
	e := newE2E(t)
	metricsPath := filepath.Join(e.dir, "metrics.json")
	e.writeSpec(1, "baton-test:v1", "    autoscale: {min: 1, max: 12, targets: {rps: 100}, predict: {horizon: 10s}}\n")
	start := time.Now()
	var ahead, last string
	for pass := 0; pass < 20 && ahead == ""; pass++ {
		rps := 100 + 20*time.Since(start).Seconds()
		if err := os.WriteFile(metricsPath, []byte(fmt.Sprintf(`{"apps": {"web": {"rps": %.1f}}}`, rps)), 0o644); err != nil {
			t.Fatal(err)
		}
		last = e.mustBaton(0, "scale", "--explain", "--metrics", metricsPath) // a dry run
		e.mustBaton(0, "scale", "--metrics", metricsPath)
		if strings.Contains(last, "(rps_forecast)") {
			ahead = last
		}
		time.Sleep(time.Second)
	}
	if ahead == "" {
		t.Fatalf("the forecast never led within 20 passes; the last:\n%s", last)
	}
	mustExplain(t, "predictive", ahead, `(?m)^\s+rps_forecast\s+[0-9.]+\s+100\s.*trend \+(1[5-9]|2[0-5])\.[0-9]+ rps/s over [0-9]+s \([0-9]+ passes\)`,
		`highest recommendation [0-9]+ \(rps_forecast\); remembered as [0-9]+, without the forecast`)
	b, _ := os.ReadFile(e.state)
	var st struct {
		Apps map[string]struct {
			Autoscale struct {
				Rates []struct{ RPS float64 }
				Daily []struct{ Slot, N int }
			}
		}
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if as := st.Apps["web"].Autoscale; len(as.Rates) < 3 || len(as.Daily) == 0 {
		t.Errorf("the state keeps %d rates and %d slots", len(as.Rates), len(as.Daily))
	}
	t.Logf("the pass the forecast led:\n%s", ahead)
}
