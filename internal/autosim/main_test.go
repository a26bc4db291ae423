package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestHPAReplicas pins the baseline to the Kubernetes replica calculator's
// rules for a Pods metric (calcPlainMetricReplicas).
func TestHPAReplicas(t *testing.T) {
	h := newHPA()
	cases := []struct {
		name           string
		current, ready int
		total, target  float64
		want           int
	}{
		{"all ready, 50% over: ceil(1.5 × 4)", 4, 4, 600, 100, 6},
		{"all ready, within the tolerance: keep", 4, 4, 430, 100, 4},
		{"all ready, 11% over: ceil(1.11 × 4)", 4, 4, 444, 100, 5},
		{"all ready, half the target: ceil(0.5 × 4)", 4, 4, 200, 100, 2},
		{"starting pods count as using nothing on the way up: 2 ready of 4 at 1.5× → 3 of 4 in all: keep (the new ratio flips)", 4, 2, 300, 100, 4},
		{"starting pods on the way up, still over: 2 ready of 4 at 3× → ratio 1.5 over 4 → 6", 4, 2, 600, 100, 6},
		{"starting pods count as at the target on the way down: 2 ready of 4 at 0.25× → 0.625 over 4 → 3", 4, 2, 50, 100, 3},
		{"no pod ready: no metric, keep", 3, 0, 1000, 100, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := h.replicas(c.current, c.ready, c.total, c.target); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}

func TestHPABehaviour(t *testing.T) {
	h := newHPA()
	// Scale-up: at most max(4, 100%) per sync.
	if got := h.decide(0, 2, 2, 5000, 100, 1, 100); got != 6 {
		t.Errorf("from 2 at 25×: %d, want 6 (+4)", got)
	}
	if got := h.decide(15, 10, 10, 5000, 100, 1, 100); got != 20 {
		t.Errorf("from 10 at 5×: %d, want 20 (+100%%)", got)
	}
	// Scale-down: the highest recommendation of the last 5 minutes.
	h = newHPA()
	h.decide(0, 10, 10, 1000, 100, 1, 100) // recommends 10
	if got := h.decide(299, 10, 10, 100, 100, 1, 100); got != 10 {
		t.Errorf("within 5 minutes of a 10: %d, want 10", got)
	}
	if got := h.decide(301, 10, 10, 100, 100, 1, 100); got != 1 {
		t.Errorf("5 minutes after: %d, want 1", got)
	}
	if got := h.decide(316, 1, 1, 100000, 100, 1, 8); got != 5 {
		t.Errorf("max bounds after the rate limit: %d, want 5", got)
	}
}

// TestSimulatorIsDeterministic: docs/AUTOSCALING.md holds exactly what
// the command prints, so the same flags print the same tables.
func TestSimulatorIsDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("replays about a million seconds of traces")
	}
	var a bytes.Buffer
	report(&a, traces(), defaults) // the page holds an earlier run's output
	doc, err := os.ReadFile("../../docs/AUTOSCALING.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- autosim begin: go run ./internal/autosim -->\n", "<!-- autosim end -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/AUTOSCALING.md lacks the %q … %q block", strings.TrimSpace(begin), end)
	}
	if got := s[i+len(begin) : j]; got != a.String() {
		t.Errorf("docs/AUTOSCALING.md's tables differ from what `go run ./internal/autosim` prints; paste its output between the markers:\n%s", a.String())
	}
	for _, tr := range []string{"web-days", "flash-crowd"} {
		if !strings.Contains(a.String(), "### "+tr) {
			t.Errorf("no table for %s", tr)
		}
	}
}
