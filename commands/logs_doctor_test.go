package commands_test

// baton logs and baton doctor, in-process against the fake engine.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

func TestLogsInterleavesReplicas(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 2))
	a.must(0, "scale")
	ids := map[int]string{}
	for id, c := range a.fake.Containers {
		ids[c.Replica] = id
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	a.fake.LogLines[ids[0]] = []fleet.LogLine{{Time: at(1), Stream: "stdout", Text: "zero one"}, {Time: at(3), Stream: "stderr", Text: "zero three"}}
	a.fake.LogLines[ids[1]] = []fleet.LogLine{{Time: at(2), Stream: "stdout", Text: "one two"}, {Time: at(4), Stream: "stdout", Text: "one four"}}
	out := a.must(0, "logs", "web")
	want := "web-0 | zero one\nweb-1 | one two\nweb-0 | zero three\nweb-1 | one four\n"
	if out != want {
		t.Errorf("logs web:\n%s\nwant:\n%s", out, want)
	}
	if out := a.must(0, "logs", "web", "--tail", "1"); out != "web-0 | zero three\nweb-1 | one four\n" {
		t.Errorf("--tail 1:\n%s", out)
	}
	a.clock.Advance(at(10).Sub(a.clock.Now()))
	if out := a.must(0, "logs", "--since", "7500ms", "web"); out != "web-0 | zero three\nweb-1 | one four\n" {
		t.Errorf("--since 7500ms:\n%s", out)
	}
	if out := a.must(0, "logs", "-t", "web", "--tail", "1"); !strings.Contains(out, "web-0 | 2026-06-01T12:00:03Z zero three") {
		t.Errorf("-t:\n%s", out)
	}
	var j struct {
		App   string
		Lines []struct{ Replica, Container, Stream, Text string }
	}
	if err := json.Unmarshal([]byte(a.must(0, "logs", "web", "-o", "json")), &j); err != nil || len(j.Lines) != 4 || j.Lines[2].Stream != "stderr" || j.Lines[1].Replica != "web-1" {
		t.Errorf("-o json: %v %+v", err, j)
	}
	// -f: each line as it comes (the fake's containers print no more).
	if out := a.must(0, "logs", "-f", "web"); strings.Count(out, "\n") != 4 {
		t.Errorf("-f:\n%s", out)
	}
	out, _, code := a.run("logs", "-f", "web", "-o", "json")
	if e, _ := oneObject(t, out); code != 1 || !strings.Contains(e.Error, "--follow") {
		t.Errorf("-f -o json: exit %d\n%s", code, out)
	}
	if _, errOut, code := a.run("logs", "nope"); code != 1 || !strings.Contains(errOut, `no app "nope"`) {
		t.Errorf("unknown app: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := a.run("logs"); code != 1 || !strings.Contains(errOut, "want one APP") {
		t.Errorf("no app: exit %d\n%s", code, errOut)
	}
	// Two containers of one replica (a rollout): each under its name.
	a.fake.Add(fleet.Container{ID: "c9", Name: "ip-web-0-zzzzzz", App: "web", Replica: 0, State: "exited", Created: at(5),
		Labels: map[string]string{fleet.LabelProject: "ip"}})
	a.fake.LogLines["c9"] = []fleet.LogLine{{Time: at(6), Stream: "stdout", Text: "old one"}}
	if out := a.must(0, "logs", "web", "--tail", "1"); !strings.Contains(out, "ip-web-0-zzzzzz | old one") || !strings.Contains(out, "web-1           | one four") {
		t.Errorf("two containers of replica 0:\n%s", out)
	}
}

func TestDoctorChecksTheMachine(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 1))
	metrics := filepath.Join(a.dir, "metrics")
	cron := filepath.Join(a.dir, "cron.d", "baton")
	units := filepath.Join(a.dir, "systemd")
	doctor := func(extra ...string) (map[string]string, string, int) {
		out, errOut, code := a.run(append([]string{"--metrics-dir", metrics, "doctor", "--cron", cron, "--systemd", units, "-o", "json"}, extra...)...)
		var rep struct {
			Checks []struct{ Check, Result, Detail, Hint string }
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("doctor -o json: %v\n%s%s", err, out, errOut)
		}
		res := map[string]string{}
		for _, c := range rep.Checks {
			res[c.Check] = c.Result + ": " + c.Detail
			if c.Result == "fail" && c.Hint == "" {
				t.Errorf("check %s fails without a hint", c.Check)
			}
		}
		return res, out, code
	}
	// No schedule yet: that check fails, the others pass.
	res, out, code := doctor()
	if code != 1 || !strings.HasPrefix(res["schedule"], "fail") || !strings.HasPrefix(res["docker"], "ok: fake://engine") ||
		!strings.HasPrefix(res["balancer"], "ok") || !strings.HasPrefix(res["state"], "ok") || !strings.HasPrefix(res["clock"], "ok") || !strings.HasPrefix(res["spec"], "ok") ||
		!strings.HasPrefix(res["neighbours"], "skip: only for an engine on this host") {
		t.Fatalf("exit %d\n%v\n%s", code, res, out)
	}
	if e, _ := oneObject(t, out); !strings.Contains(e.Error, "1 of 7 checks failed: schedule") {
		t.Errorf("error: %q", e.Error)
	}
	// Installed, runs this spec, every pass ran: all ok, exit 0.
	crontab := a.must(0, "--metrics-dir", metrics, "schedule", "crontab")
	if err := os.MkdirAll(filepath.Dir(cron), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cron, []byte(crontab), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]string{{"scale"}, {"heal"}, {"lb", "render"}, {"gc"}} {
		a.must(0, append([]string{"--metrics-dir", metrics}, p...)...)
	}
	res, out, code = doctor()
	if code != 0 || !strings.HasPrefix(res["schedule"], "ok") || !strings.HasPrefix(res["last run: heal"], "ok: exit 0") {
		t.Errorf("exit %d\n%v\n%s", code, res, out)
	}
	// A pass that failed last, a stale pass, a failing balancer test, a
	// skewed daemon clock: each fails its own row.
	a.fake.Fail["start web"] = fmt.Errorf("no space left on device")
	a.write(`"true"`, fmt.Sprintf(webApp, 2))
	a.run("--metrics-dir", metrics, "scale")
	a.clock.Advance(20 * time.Minute)
	a.write(`"false"`, fmt.Sprintf(webApp, 2))
	a.fake.Daemon.SystemTime = a.clock.Now().Add(-3 * time.Minute)
	res, out, code = doctor()
	for _, c := range []string{"last run: scale", "last run: heal", "balancer", "clock"} {
		if !strings.HasPrefix(res[c], "fail") {
			t.Errorf("%s: %s", c, res[c])
		}
	}
	if code != 1 || !strings.Contains(res["last run: scale"], "exit 3") || !strings.Contains(res["last run: heal"], "expected every 1m0s") {
		t.Errorf("exit %d\n%v", code, res)
	}
	// The table: one row per check, no trailing spaces.
	tbl, _, _ := a.run("--metrics-dir", metrics, "doctor", "--cron", cron, "--systemd", units)
	noTrailingSpaces(t, "doctor", tbl)
	if !strings.Contains(tbl, "CHECK") || strings.Count(tbl, "\n") != len(res)+1 {
		t.Errorf("doctor table (%d checks):\n%s", len(res), tbl)
	}
	// A daemon that does not answer fails the docker row with its hint.
	a.fake.Fail["info"] = fmt.Errorf("cannot reach the Docker daemon")
	if res, _, code := doctor(); code != 1 || !strings.HasPrefix(res["docker"], "fail") {
		t.Errorf("daemon down: exit %d %v", code, res)
	}
}
