package plan

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/state"
)

const healSpec = `
apps:
  - name: db
    image: db:1
    port: 5432
    replicas: 1
    health: {type: tcp, failure_threshold: 3, success_threshold: 2, start_period: 30s, backoff: 10s, backoff_max: 1m, crashloop_attempts: 3, crashloop_window: 10m}
  - name: web
    image: web:1
    port: 8080
    replicas: 2
    restart_with: [db]
    health: {type: http, path: /healthz}
`

func healCtr(id, app string, replica int, state string, age time.Duration) fleet.Container {
	return fleet.Container{ID: id, Name: app + "-" + id, App: app, Replica: replica, State: state, Created: t0.Add(-age), Addr: "127.0.0.1:1"}
}

func TestHealCounters(t *testing.T) {
	s := testSpec(t, healSpec)
	boom := errors.New("connection refused")
	cases := []struct {
		name         string
		prev         *state.Probe
		probe        error
		probed       bool
		age          time.Duration
		wantFailures int
		wantReplace  bool
	}{
		{"a first failure counts one", nil, boom, true, time.Hour, 1, false},
		{"the third failure in a row replaces", &state.Probe{Failures: 2}, boom, true, time.Hour, 3, true},
		{"a failure inside the start period gives no verdict", &state.Probe{Failures: 2}, boom, true, 10 * time.Second, 2, false},
		{"one success below the success threshold keeps the failures", &state.Probe{Failures: 2}, nil, true, time.Hour, 2, false},
		{"success_threshold successes clear the failures", &state.Probe{Failures: 2, Successes: 1}, nil, true, time.Hour, 0, false},
		{"an unprobed container keeps its counters", &state.Probe{Failures: 2}, nil, false, time.Hour, 2, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := healCtr("d0", "db", 0, "running", c.age)
			in := HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: []fleet.Container{db}, Probes: map[string]error{}, Counters: map[string]*state.Probe{}}
			if c.prev != nil {
				in.Counters["d0"] = c.prev
			}
			if c.probed {
				in.Probes["d0"] = c.probe
			}
			p := Heal(in, t0)
			if got := p.Counters["d0"].Failures; got != c.wantFailures {
				t.Errorf("failures %d, want %d", got, c.wantFailures)
			}
			replaced := false
			for _, a := range p.Actions {
				if a.Kind == Replace && a.Old.ID == "d0" {
					replaced = true
					if !strings.Contains(a.Reason, "failed its health check 3 times in a row: connection refused") {
						t.Errorf("reason %q", a.Reason)
					}
				}
			}
			if replaced != c.wantReplace {
				t.Errorf("replaced=%v, want %v", replaced, c.wantReplace)
			}
		})
	}
}

func TestHealExitedReplicaNamesTheOOMKill(t *testing.T) {
	s := testSpec(t, healSpec)
	dead := healCtr("d0", "db", 0, "exited", time.Hour)
	older := healCtr("d9", "db", 0, "exited", 2*time.Hour)
	in := HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: []fleet.Container{dead, older},
		Exits: map[string]fleet.Exit{"d0": {State: "exited", ExitCode: 137, OOMKilled: true}}}
	if got := ToInspect(s, Desired(s, nil, nil), in.Containers); len(got) != 1 || got[0].ID != "d0" {
		t.Fatalf("ToInspect must name only the newest stopped container, got %v", got)
	}
	p := Heal(in, t0)
	if len(p.Actions) == 0 || p.Actions[0].Kind != Start || !strings.Contains(p.Actions[0].Reason, "exited with code 137 (OOM killed)") {
		t.Fatalf("got %+v", p.Actions)
	}
}

func TestHealReplacedReplicaIsNotInspectedAgain(t *testing.T) {
	s := testSpec(t, healSpec)
	cs := []fleet.Container{healCtr("old", "db", 0, "exited", time.Hour), healCtr("new", "db", 0, "running", time.Minute)}
	if got := ToInspect(s, Desired(s, nil, nil), cs); len(got) != 0 {
		t.Errorf("a replica with a running container needs no inspect, got %v", got)
	}
	if p := Heal(HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: cs, Probes: map[string]error{"new": nil}}, t0); len(p.Actions) != 0 {
		t.Errorf("got actions %+v", p.Actions)
	}
}

func TestHealDependentsRestartWithTheirAnchor(t *testing.T) {
	s := testSpec(t, healSpec)
	cs := []fleet.Container{
		healCtr("d0", "db", 0, "exited", time.Hour),
		healCtr("w0", "web", 0, "running", time.Hour),
		healCtr("w1", "web", 1, "running", time.Hour),
	}
	p := Heal(HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: cs, Probes: map[string]error{"w0": nil, "w1": nil}}, t0)
	if got := summary(p.Actions); got != "start 0, replace w0, replace w1" {
		t.Fatalf("got %q", got)
	}
	if !strings.Contains(p.Actions[1].Reason, "restarts with db") {
		t.Errorf("reason %q", p.Actions[1].Reason)
	}
	if len(p.Attempts) != 1 || p.Attempts[0].App != "db" || p.Attempts[0].Replica != 0 {
		t.Errorf("only db's own replacement counts for backoff, got %v", p.Attempts)
	}
}

func TestHealBacksOffAndReportsCrashLoops(t *testing.T) {
	s := testSpec(t, healSpec)
	dead := []fleet.Container{healCtr("d0", "db", 0, "exited", time.Hour)}
	cases := []struct {
		name      string
		history   []time.Duration // ages of earlier replacements
		wantStart bool
		wantHold  bool
		wantCrash bool
	}{
		{"no history replaces at once", nil, true, false, false},
		{"one replacement 5s ago waits the 10s backoff", []time.Duration{5 * time.Second}, false, true, false},
		{"one replacement 11s ago may replace again", []time.Duration{11 * time.Second}, true, false, false},
		{"two replacements double the wait to 20s", []time.Duration{40 * time.Second, 15 * time.Second}, false, true, false},
		{"replacements outside the window do not count", []time.Duration{20 * time.Minute, 15 * time.Minute}, true, false, false},
		{"three in the window is a crash loop, held", []time.Duration{90 * time.Second, 60 * time.Second, 30 * time.Second}, false, true, true},
		{"a crash loop past its backoff stays held until the window slides", []time.Duration{5 * time.Minute, 4 * time.Minute, 3 * time.Minute}, false, true, true},
		{"once the oldest attempt leaves the window, one more is allowed", []time.Duration{10*time.Minute + time.Second, 4 * time.Minute, 3 * time.Minute}, true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hist []time.Time
			for _, age := range c.history {
				hist = append(hist, t0.Add(-age))
			}
			p := Heal(HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: dead, Attempts: map[Slot][]time.Time{{"db", 0}: hist}}, t0)
			started := len(p.Actions) > 0 && p.Actions[0].Kind == Start
			if started != c.wantStart || (len(p.Holds) > 0) != c.wantHold || (len(p.Crashlooping()) > 0) != c.wantCrash {
				t.Errorf("start=%v holds=%+v", started, p.Holds)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for k, want := range map[int]time.Duration{0: 0, 1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 4: time.Minute, 10: time.Minute} {
		if got := Backoff(k, 10*time.Second, time.Minute); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", k, got, want)
		}
	}
}

// TestStartsCarryTheSlotsVolumes: a replica whose container exited (a
// database that crashed) is started again with that container's anonymous
// volumes, by heal and by scale alike, and the reason says so; one only
// created shares nothing (it may run yet); a paused one, or one Docker's
// restart policy is restarting, holds its slot: no twin starts beside it
// on a fresh volume; an unhealthy replica's replacement carries its volume
// too.
func TestStartsCarryTheSlotsVolumes(t *testing.T) {
	s := testSpec(t, healSpec)
	vol := strings.Repeat("0f", 32)
	withVol := func(c fleet.Container) fleet.Container {
		c.Mounts = []fleet.Mount{{Type: "volume", Name: vol, Target: "/var/lib/db"}, {Type: "bind", Source: "/srv", Target: "/srv"}}
		return c
	}
	for _, c := range []struct {
		state        string
		start, carry bool
	}{{"exited", true, true}, {"dead", true, true}, {"created", true, false}, {"paused", false, false}, {"restarting", false, false}} {
		dead := withVol(healCtr("d0", "db", 0, c.state, time.Hour))
		in := HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: []fleet.Container{dead}, Exits: map[string]fleet.Exit{"d0": {State: c.state, ExitCode: 1}}}
		heal := Heal(in, t0).Actions
		scale := Scale(s, Desired(s, nil, nil), in.Containers, nil)
		for name, as := range map[string][]Action{"heal": heal, "scale": scale} {
			var start *Action
			for i := range as {
				if as[i].Kind == Start && as[i].App == "db" {
					start = &as[i]
				}
			}
			if (start != nil) != c.start {
				t.Fatalf("%s, %s: a start of db: %v, want %v (%+v)", c.state, name, start != nil, c.start, as)
			}
			if start == nil {
				continue // a paused replica, or one Docker restarts, holds its slot: no twin
			}
			carries := start.Carry["/var/lib/db"] == vol && len(start.Carry) == 1 && strings.HasSuffix(start.Reason, "; its anonymous volume /var/lib/db carries over")
			if carries != c.carry || (!c.carry && start.Carry != nil) {
				t.Errorf("%s, %s: carry %v (%q), want %v", c.state, name, start.Carry, start.Reason, c.carry)
			}
		}
	}
	sick := withVol(healCtr("s0", "db", 0, "running", time.Hour))
	in := HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: []fleet.Container{sick},
		Probes: map[string]error{"s0": errors.New("refused")}, Counters: map[string]*state.Probe{"s0": {Failures: 2}}}
	p := Heal(in, t0)
	if len(p.Actions) != 1 || p.Actions[0].Kind != Replace || p.Actions[0].Carry["/var/lib/db"] != vol ||
		!strings.HasSuffix(p.Actions[0].Reason, "; stop-first, so its anonymous volume /var/lib/db carries over") {
		t.Errorf("the unhealthy replica's replacement: %+v", p.Actions)
	}
}
