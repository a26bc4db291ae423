package commands_test

// status says why, metrics count across passes, --verbose says what heal
// and scale do (issue #18), in-process against the fake engine.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/baton-orchestrator/baton/commands"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/state"
)

// runCols runs with COLUMNS set (the terminal's width).
func (a *inproc) runCols(cols int, args ...string) (string, string, int) {
	a.t.Helper()
	var out, errOut bytes.Buffer
	env := &commands.Env{Stdout: &out, Stderr: &errOut, Clock: a.clock,
		Connect: func(string, time.Duration) (commands.Engine, error) { return a.fake, nil },
		Getenv: func(k string) string {
			if k == "COLUMNS" {
				return fmt.Sprint(cols)
			}
			return os.Getenv(k)
		}}
	code := commands.Run(ctxBG, env, append([]string{"baton", "--spec", a.spec, "--state", a.state, "--lock-timeout", "0s"}, args...))
	return out.String(), errOut.String(), code
}

func noTrailingSpaces(t *testing.T, what, out string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, " ") {
			t.Errorf("%s: trailing space in %q", what, l)
		}
	}
}

func TestStatusSaysACrashLoop(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 1))
	a.fake.ImageSet = []fleet.Image{{ID: "sha256:1", Tags: []string{"web:1"}}}
	a.must(0, "scale")
	for i := 0; i < 6; i++ {
		if i > 0 {
			a.clock.Advance(100 * time.Second)
		}
		for _, c := range a.fake.Containers {
			c.State = "exited"
		}
		a.run("heal")
	}
	out := a.must(0, "status")
	if !strings.Contains(out, "crash-looping") {
		t.Errorf("a crash-looping app does not say so:\n%s", out)
	}
	noTrailingSpaces(t, "status", out)
	// One row per replica: every container of web, the exited ones too,
	// each with its restarts and its last event.
	out = a.must(0, "status", "web")
	if !strings.Contains(out, "REPLICA") || !strings.Contains(out, "RESTARTS") || !strings.Contains(out, "exited") {
		t.Errorf("status web:\n%s", out)
	}
	noTrailingSpaces(t, "status web", out)
	var st struct {
		Apps     []struct{ App, Why string }
		Replicas []struct {
			Container string
			State     string
			Restarts  int
			LastEvent string `json:"last_event"`
		}
	}
	if err := json.Unmarshal([]byte(a.must(0, "status", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Apps) != 1 || !strings.HasPrefix(st.Apps[0].Why, "crash-looping: ") || len(st.Replicas) < 2 {
		t.Fatalf("status -o json: %+v", st)
	}
	restarts := 0
	for _, r := range st.Replicas {
		restarts = max(restarts, r.Restarts)
		if r.LastEvent == "" {
			t.Errorf("replica %s has no last event", r.Container)
		}
	}
	if restarts < 5 {
		t.Errorf("restarts %d, want at least 5: %+v", restarts, st.Replicas)
	}
}

func TestStatusSaysTheImageIsMissing(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "apps:\n  - {name: web, image: \"web:9\", pull: never, port: 8080, replicas: 1, lb: {}}\n")
	a.fake.Fail["start web"] = fmt.Errorf(`image "web:9" is not present and pull is "never"`)
	a.run("scale")
	out := a.must(0, "status")
	if !strings.Contains(out, "image web:9 is not on this host and pull is never") {
		t.Errorf("status:\n%s", out)
	}
	// With the image pulled by policy: it says the next start pulls it,
	// or why the last one failed.
	a.write(`"true"`, "apps:\n  - {name: web, image: \"web:9\", port: 8080, replicas: 1, lb: {}}\n")
	if out := a.must(0, "status"); !strings.Contains(out, "image web:9 is not on this host; the last start failed") {
		t.Errorf("status, pull missing:\n%s", out)
	}
}

func TestStatusFitsTheTerminal(t *testing.T) {
	a := newInproc(t)
	long := strings.Repeat("x", 150)
	a.write(`"true"`, fmt.Sprintf("apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: 2, lb: {}, env: {A: %s}}\n", long))
	a.fake.ImageSet = []fleet.Image{{ID: "sha256:1", Tags: []string{"web:1"}}}
	a.fake.Fail["start web"] = fmt.Errorf("a very long error message from the daemon %s", long)
	a.run("scale")
	a.fake.Add(fleet.Container{ID: "c1", Name: "ip-web-1-aaaaaa", App: "web", Replica: 1, State: "running", Image: "web:1",
		Created: t0, Addr: "127.0.0.1:1", Labels: map[string]string{fleet.LabelProject: "ip"}})
	for _, args := range [][]string{{"status"}, {"status", "web"}, {"-o", "wide", "status"}} {
		out, _, code := a.runCols(100, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		noTrailingSpaces(t, strings.Join(args, " "), out)
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if n := len([]rune(l)); n > 100 && args[0] != "-o" {
				t.Errorf("%v: a line of %d columns in a terminal of 100:\n%s", args, n, l)
			}
		}
	}
	// Without a terminal nothing is cut; -o wide cuts nothing either.
	if out := a.must(0, "status"); !strings.Contains(out, long) {
		t.Errorf("status to a pipe was cut:\n%s", out)
	}
	if out, _, _ := a.runCols(100, "-o", "wide", "status"); !strings.Contains(out, long) {
		t.Errorf("status -o wide was cut:\n%s", out)
	}
}

func TestVerboseSaysWhatHealAndScaleDo(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 1))
	_, errOut, _ := a.run("--verbose", "scale")
	if !strings.Contains(errOut, "scale: observed web: want 1, 0 running") || !strings.Contains(errOut, "scale: decided 1 steps") ||
		!strings.Contains(errOut, "start web replica 0: have 0 running replicas, want 1") {
		t.Errorf("scale --verbose:\n%s", errOut)
	}
	_, errOut, _ = a.run("heal", "--verbose")
	if !strings.Contains(errOut, "heal: observed web: want 1, 1 running, 1 ready") || !strings.Contains(errOut, "heal: decided: nothing to do") {
		t.Errorf("heal --verbose on a healthy fleet:\n%s", errOut)
	}
	if _, errOut, _ := a.run("heal", "--verbose", "-q"); errOut != "" {
		t.Errorf("-q --verbose printed:\n%s", errOut)
	}
}

// metricFamilies parses a textfile with Prometheus' own parser.
func metricFamilies(t *testing.T, path string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			v := m.GetGauge().GetValue()
			if f.GetType().String() == "COUNTER" {
				v = m.GetCounter().GetValue()
				if !strings.HasSuffix(name, "_total") {
					t.Errorf("counter %s lacks _total", name)
				}
			}
			out[name+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

func TestCountersSurvivePasses(t *testing.T) {
	a := newInproc(t)
	dir := filepath.Join(a.dir, "metrics")
	a.write(`"true"`, fmt.Sprintf(webApp, 1))
	// A first pass that fails before the state: the series are there.
	lock, _ := stateOpen(a.state)
	a.run("--metrics-dir", dir, "heal")
	lock.Close()
	m := metricFamilies(t, filepath.Join(dir, "baton_heal.prom"))
	if v, ok := m[`baton_last_success_timestamp_seconds{command="heal"}`]; !ok || v != 0 {
		t.Errorf("no last success (0) from the first run on: %v", m)
	}
	if m[`baton_passes_total{command="heal",exit_code="75"}`] != 1 {
		t.Errorf("the locked pass is not counted: %v", m)
	}
	a.must(0, "--metrics-dir", dir, "scale")
	a.must(0, "--metrics-dir", dir, "heal")
	// A replacement under heal, then passes that change nothing: the
	// counter keeps it.
	for _, c := range a.fake.Containers {
		c.State = "exited"
	}
	a.must(0, "--metrics-dir", dir, "heal")
	for i := 0; i < 3; i++ {
		a.clock.Advance(5 * time.Second)
		a.must(0, "--metrics-dir", dir, "heal")
	}
	m = metricFamilies(t, filepath.Join(dir, "baton_heal.prom"))
	for series, want := range map[string]float64{
		`baton_actions_total{app="web",command="heal",kind="start",result="ok"}`:     1,
		`baton_actions_total{app="web",command="heal",kind="replace",result="ok"}`:   0,
		`baton_actions_total{app="web",command="heal",kind="start",result="failed"}`: 0,
		`baton_passes_total{command="heal",exit_code="0"}`:                           5,
		`baton_passes_total{command="heal",exit_code="75"}`:                          1,
		`baton_probe_failures_total{app="web",command="heal"}`:                       0,
		`baton_pass_actions{command="heal"}`:                                         0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if m[`baton_last_success_timestamp_seconds{command="heal"}`] < 1.7e9 {
		t.Errorf("last success: %v", m)
	}
	s := metricFamilies(t, filepath.Join(dir, "baton_scale.prom"))
	if s[`baton_actions_total{app="web",command="scale",kind="start",result="ok"}`] != 1 {
		t.Errorf("scale's start is not counted: %v", s)
	}
	// A failed probe counts.
	for _, c := range a.fake.Containers {
		if c.State == "running" {
			c.Addr = "127.0.0.1:1"
		}
	}
	a.run("--metrics-dir", dir, "heal")
	m = metricFamilies(t, filepath.Join(dir, "baton_heal.prom"))
	if m[`baton_probe_failures_total{app="web",command="heal"}`] != 1 {
		t.Errorf("a failed probe is not counted: %v", m)
	}
}

var ctxBG = context.Background()

func stateOpen(path string) (*state.File, error) { return state.Open(ctxBG, path, 0) }
