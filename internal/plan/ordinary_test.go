package plan

// Ordinary failures never take an app down (issue 13): backoff per
// replica slot, paused rollouts, the membership floor, one alert per
// incident. Fixed clock (now0).

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/state"
)

const ordinarySpec = `nginx: {config: /tmp/b.conf, test: ["true"], reload: ["true"], listen: "127.0.0.1:1"}
apps:
  - {name: web, image: "web:2", port: 80, replicas: 4, lb: {}, health: {type: http, path: /, backoff: 10s, crashloop_attempts: 3}}
`

func ctrAt(id string, replica int, state string, hash string, created time.Time) fleet.Container {
	return fleet.Container{ID: id, Name: "web-" + id, App: "web", Replica: replica, State: state, Hash: hash, Created: created, Addr: "127.0.0.1:1"}
}

func TestAReplicaThatServedLongIsReplacedAtOnceRightAfterAnotherReplacement(t *testing.T) {
	s := specOf(t, ordinarySpec)
	h := s.HashOf(s.App("web"))
	cs := []fleet.Container{
		ctrAt("a", 0, "running", h, now0.Add(-time.Hour)),
		ctrAt("b", 1, "exited", h, now0.Add(-11*time.Minute)), // served 10 minutes, then was killed
		ctrAt("c", 2, "running", h, now0.Add(-time.Hour)),
		ctrAt("d", 3, "running", h, now0.Add(-time.Hour)),
	}
	exits := map[string]fleet.Exit{"b": {State: "exited", ExitCode: 137, FinishedAt: now0.Add(-time.Minute)}}
	// Slot 1 was replaced 2 s ago, slot 2 a second ago: backoff is 10 s.
	attempts := map[Slot][]time.Time{{"web", 1}: {now0.Add(-2 * time.Second)}, {"web", 2}: {now0.Add(-time.Second)}}
	p := Heal(HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: cs, Exits: exits, Attempts: attempts,
		Probes: map[string]error{"a": nil, "c": nil, "d": nil}}, now0)
	if len(p.Holds) != 0 || len(p.Actions) != 1 || p.Actions[0].Kind != Start || p.Actions[0].Replica != 1 {
		t.Fatalf("the killed replica is not replaced at once: actions %+v holds %+v", p.Actions, p.Holds)
	}
	if !strings.Contains(p.Actions[0].Reason, "served 10m0s") || len(p.Attempts) != 1 || !p.Attempts[0].Reset {
		t.Errorf("its slot starts afresh: %q %+v", p.Actions[0].Reason, p.Attempts)
	}
}

func TestACrashLoopingSlotBacksOffWhileAScaleUpStartsNewReplicas(t *testing.T) {
	s := specOf(t, ordinarySpec) // 4 replicas wanted
	h := s.HashOf(s.App("web"))
	cs := []fleet.Container{
		ctrAt("a", 0, "running", h, now0.Add(-time.Hour)),
		ctrAt("b", 1, "exited", h, now0.Add(-20*time.Second)), // crashed 5 s after it started
	}
	attempts := map[Slot][]time.Time{{"web", 1}: {now0.Add(-90 * time.Second), now0.Add(-60 * time.Second), now0.Add(-15 * time.Second)}}
	p := ScalePass(ScaleInput{Spec: s, Want: Desired(s, nil, nil), Containers: cs, Ready: map[string]bool{"a": true}, Attempts: attempts}, now0)
	var starts []int
	var crash []Step
	for _, st := range p.Steps {
		if a, ok := st.Do.(*Action); ok && a.Kind == Start {
			starts = append(starts, a.Replica)
		}
		if st.Type == "crashloop" {
			crash = append(crash, st)
		}
	}
	if len(starts) != 2 || starts[0] != 2 || starts[1] != 3 {
		t.Errorf("the scale-up starts replicas 2 and 3, got %v", starts)
	}
	if len(crash) != 1 || crash[0].Target != "web replica 1" || crash[0].Partial == "" || crash[0].Key == "" {
		t.Errorf("slot 1 crash-loops, alone: %+v", crash)
	}
}

func TestARolloutToAnImageThatNeverGetsReadyPausesWithTheOldReplicasServing(t *testing.T) {
	s := specOf(t, ordinarySpec)
	h := s.HashOf(s.App("web"))
	var cs []fleet.Container
	ready := map[string]bool{}
	for i, id := range []string{"a", "b", "c", "d"} {
		cs = append(cs, ctrAt(id, i, "running", "oldhash", now0.Add(-time.Hour)))
		ready[id] = true
	}
	in := ScaleInput{Spec: s, Want: Desired(s, nil, nil), Containers: cs, Ready: ready}
	p := ScalePass(in, now0)
	var replaces []Step
	for _, st := range p.Steps {
		if st.Kind == Replace {
			replaces = append(replaces, st)
		}
	}
	if len(replaces) != 4 {
		t.Fatalf("the rollout plans 4 replacements, got %d", len(replaces))
	}
	// The first replacement's new replica never answers.
	st := state.New()
	p.Commit(st, []Outcome{{Step: replaces[1], Err: errors.New("create container: the daemon did not answer")}})
	if st.App("web").Paused != nil {
		t.Fatal("an engine failure paused the rollout")
	}
	p.Commit(st, []Outcome{{Step: replaces[0], Err: fmt.Errorf("new replica web-0-x: %w", &NotReady{Err: errors.New("not ready within 30s")})}})
	if st.App("web").Paused == nil || st.App("web").Paused.Hash != h {
		t.Fatalf("the rollout is not paused: %+v", st.App("web"))
	}
	// The next pass replaces nothing: the old replicas keep serving.
	in.Paused, in.Attempts = PausesOf(st), SlotsOf(st, s)
	p = ScalePass(in, now0.Add(time.Minute))
	for _, s := range p.Steps {
		if s.Kind == Replace {
			t.Errorf("a paused rollout replaced %s", s.Target)
		}
	}
	if len(p.Steps) != 1 || p.Steps[0].Type != "paused" || p.Steps[0].Partial == "" {
		t.Errorf("want one paused finding that makes the pass partly done, got %+v", p.Steps)
	}
	// --retry resumes it.
	in.Retry = true
	if p := ScalePass(in, now0.Add(2*time.Minute)); len(p.Steps) != 4 {
		t.Errorf("--retry plans %d steps, want the 4 replacements", len(p.Steps))
	}
	// So does a spec change: a pause for another hash does not hold.
	in.Retry = false
	in.Paused = map[string]*state.Pause{"web": {Hash: "somethingelse"}}
	if p := ScalePass(in, now0); len(p.Steps) != 4 {
		t.Errorf("a pause of an older spec held the rollout: %+v", p.Steps)
	}
}

func TestTwoOfFourReplicasFailingAtOnceStayRoutedUnderThePanicRule(t *testing.T) {
	s := specOf(t, ordinarySpec)
	h := s.HashOf(s.App("web"))
	var cs []fleet.Container
	counters := map[string]*state.Probe{}
	for i, id := range []string{"a", "b", "c", "d"} {
		cs = append(cs, ctrAt(id, i, "running", h, now0.Add(-time.Hour)))
		counters[id] = &state.Probe{Successes: 5, InRotation: true, Ever: true}
	}
	fail := errors.New("status 500")
	probes := map[string]error{"a": nil, "b": nil, "c": fail, "d": fail}
	// One failed probe: nothing leaves (leave_after 2).
	pr := UpdateProbes(s, cs, probes, counters, now0)
	if m, f := Members(s, cs, pr.Counters); len(m) != 4 || len(f) != 0 {
		t.Fatalf("one failed probe changed the membership: %d members, %+v", len(m), f)
	}
	// The second: c and d would leave; 2 of 4 is at the panic share.
	pr = UpdateProbes(s, cs, probes, pr.Counters, now0.Add(5*time.Second))
	m, f := Members(s, cs, pr.Counters)
	if len(m) != 4 || len(f) != 1 || f[0].Type != "panic" || f[0].Key == "" {
		t.Errorf("2 of 4 failing: %d members (want all 4), findings %+v", len(m), f)
	}
	// With one more healthy than the share, the failing ones leave.
	probes["b"] = nil
	cs = append(cs, ctrAt("e", 4, "running", h, now0.Add(-time.Hour)))
	pr.Counters["e"] = &state.Probe{Successes: 5, InRotation: true, Ever: true}
	probes["e"] = nil
	pr = UpdateProbes(s, cs, probes, pr.Counters, now0.Add(10*time.Second))
	if m, f := Members(s, cs, pr.Counters); len(m) != 3 || len(f) != 0 {
		t.Errorf("3 of 5 healthy: %d members, findings %+v", len(m), f)
	}
	// A replica that never passed a probe is never routed to.
	cs = append(cs, ctrAt("new", 5, "running", h, now0))
	probes = map[string]error{"new": fail}
	pr = UpdateProbes(s, cs, probes, pr.Counters, now0.Add(15*time.Second))
	for _, c := range func() []fleet.Container { m, _ := Members(s, cs, pr.Counters); return m }() {
		if c.ID == "new" {
			t.Error("a replica that never passed is routed to")
		}
	}
}

func types(ts ...string) func(*state.Incident) bool {
	return func(inc *state.Incident) bool { return slices.Contains(ts, inc.Type) }
}

func TestAnIncidentIsOneEventWhenItBeginsAndOneWhenItEnds(t *testing.T) {
	crash := NewFinding("crashloop", "web", "web replica 1", "crash-looping")
	crash.Key, crash.Partial = "crashloop web replica 1", "app web is crash-looping"
	st := state.New()
	var kinds []string
	for pass := 0; pass < 10; pass++ {
		var outs []Outcome
		if pass < 6 {
			outs = append(outs, Outcome{Step: crash})
		}
		outs, commit := TrackIncidents(outs, st.Incidents, types("crashloop"), "heal", now0.Add(time.Duration(pass)*time.Minute))
		commit(st, outs)
		for _, o := range outs {
			if !o.Quiet {
				k := o.Step.Type
				if o.Step.Resolved {
					k += " over"
				}
				kinds = append(kinds, k)
			}
		}
	}
	if strings.Join(kinds, ",") != "crashloop,crashloop over" {
		t.Errorf("10 passes, 6 of them in the crash loop, printed and recorded %v", kinds)
	}
	if len(st.Incidents) != 0 {
		t.Errorf("the incident is kept after it ended: %v", st.Incidents)
	}
	// A pass that does not evaluate crash loops never ends one.
	outs, commit := TrackIncidents([]Outcome{{Step: crash}}, st.Incidents, types("crashloop"), "heal", now0)
	commit(st, outs)
	outs, _ = TrackIncidents(nil, st.Incidents, types("panic"), "heal", now0)
	if len(outs) != 0 {
		t.Errorf("lb render ended a crash loop: %+v", outs)
	}
}

func TestAPassKilledMidRolloutKeepsTheReadyOldReplica(t *testing.T) {
	s := specOf(t, ordinarySpec)
	h := s.HashOf(s.App("web"))
	oldOne := ctrAt("old", 0, "running", "oldhash", now0.Add(-time.Hour))
	newOne := ctrAt("new", 0, "running", h, now0.Add(-time.Minute)) // started by the killed pass, never answered
	acts := Scale(s, Wanted{"web": 1}, []fleet.Container{oldOne, newOne}, map[string]bool{"old": true})
	if len(acts) != 2 || acts[0].Kind != Remove || acts[0].Old.ID != "new" || acts[1].Kind != Replace || acts[1].Old.ID != "old" {
		t.Fatalf("want the unready new one removed and the old one replaced start-first: %+v", acts)
	}
}

func TestAStableSlotIsNotHeldByScale(t *testing.T) {
	s := specOf(t, ordinarySpec)
	h := s.HashOf(s.App("web"))
	gone := ctrAt("gone", 0, "exited", h, now0.Add(-10*time.Minute))
	exits := map[string]fleet.Exit{"gone": {State: "exited", ExitCode: 137, FinishedAt: now0.Add(-time.Second)}}
	attempts := map[Slot][]time.Time{{"web", 0}: {now0.Add(-5 * time.Second)}}
	in := ScaleInput{Spec: s, Want: Wanted{"web": 1}, Containers: []fleet.Container{gone}, Attempts: attempts, Exits: exits}
	p := ScalePass(in, now0)
	if len(p.Of(Start)) != 1 || len(p.Of(Report)) != 0 {
		t.Fatalf("a slot whose replica served 10 minutes is started at once: %+v", p.Steps)
	}
	st := state.New()
	st.AddSlotAttempt("web", 0, now0.Add(-5*time.Second), time.Hour, h)
	p.Commit(st, []Outcome{{Step: p.Of(Start)[0]}})
	if len(st.SlotAttempts("web", 0)) != 0 {
		t.Errorf("its slot was not started afresh: %v", st.SlotAttempts("web", 0))
	}
	// Without the exit (not inspected) the slot backs off as before.
	in.Exits = nil
	if p := ScalePass(in, now0); len(p.Of(Start)) != 0 {
		t.Errorf("an unknown exit counts as a crash: %+v", p.Steps)
	}
}

func TestANewSpecStartsEverySlotAfresh(t *testing.T) {
	s := specOf(t, ordinarySpec)
	st := state.New()
	st.AddSlotAttempt("web", 0, now0, time.Hour, "an-older-hash")
	if got := SlotsOf(st, s); len(got) != 0 {
		t.Errorf("attempts made at another spec hold the slot: %v", got)
	}
	st.AddSlotAttempt("web", 0, now0, time.Hour, s.HashOf(s.App("web")))
	if got := SlotsOf(st, s)[Slot{"web", 0}]; len(got) != 1 {
		t.Errorf("an attempt at the current hash: %v", got)
	}
}

func TestWhatWasNotAttemptedIsNoAttempt(t *testing.T) {
	s := specOf(t, ordinarySpec)
	a := Action{Kind: Replace, App: "web", Replica: 1, Old: &fleet.Container{ID: "o", Hash: "old"}}
	p := ScalePass(ScaleInput{Spec: s, Want: Wanted{"web": 4}}, now0)
	st := state.New()
	p.Commit(st, []Outcome{
		{Step: ActionStep(a), Err: &NotAttempted{Err: errors.New("left running: balancer sync failed")}},
	})
	if len(st.SlotAttempts("web", 1)) != 0 || (st.App("web") != nil && st.App("web").Paused != nil) {
		t.Errorf("a failed balancer test counted against a slot: %+v", st.App("web"))
	}
	p.Commit(st, []Outcome{{Step: ActionStep(a), Err: &NotAttempted{Paused: true, Err: errors.New("not attempted: the rollout stopped")}}})
	if st.App("web") == nil || st.App("web").Paused == nil || len(st.SlotAttempts("web", 1)) != 0 {
		t.Errorf("a rollout that stopped is paused, and no slot is blamed: %+v", st.App("web"))
	}
}

func TestAReplicaAPassStartedStaysRoutedAfterOneFailedProbe(t *testing.T) {
	s := specOf(t, ordinarySpec)
	h := s.HashOf(s.App("web"))
	started := ctrAt("n0", 0, "running", h, now0)
	p := ScalePass(ScaleInput{Spec: s, Want: Wanted{"web": 1}}, now0)
	st := state.New()
	p.Commit(st, []Outcome{{Step: p.Of(Start)[0], Data: &started}})
	pr := UpdateProbes(s, []fleet.Container{started}, map[string]error{"n0": errors.New("status 500")}, st.Probes, now0.Add(5*time.Second))
	if m, _ := Members(s, []fleet.Container{started}, pr.Counters); len(m) != 1 {
		t.Errorf("one failed probe of a replica the pass started took it out: %+v", pr.Counters["n0"])
	}
}

func TestHealReportsAPausedRollout(t *testing.T) {
	s := specOf(t, ordinarySpec)
	h := s.HashOf(s.App("web"))
	cs := []fleet.Container{ctrAt("a", 0, "running", "oldhash", now0.Add(-time.Hour)), ctrAt("b", 1, "running", h, now0.Add(-time.Hour))}
	p := HealPass(HealInput{Spec: s, Want: Wanted{"web": 2}, Containers: cs, Probes: map[string]error{"a": nil, "b": nil},
		Paused: map[string]*state.Pause{"web": {Hash: h, Reason: "never ready"}}}, now0)
	f := p.Of(Report)
	if len(f) != 1 || f[0].Type != "paused" || f[0].Partial == "" {
		t.Errorf("heal of a paused rollout: %+v", p.Steps)
	}
}

// TestHealReplacesOneFailingReplicaPerPassInPanic: when most of an app's
// replicas fail their checks at once (an outage beyond them: the network,
// a dependency, an overloaded host), heal replaces one per pass and holds
// the others with a reason, instead of churning the whole app; below the
// panic share each failing replica is replaced at once, and an exited one
// always is.
func TestHealReplacesOneFailingReplicaPerPassInPanic(t *testing.T) {
	s := specOf(t, ordinarySpec)
	h := s.HashOf(s.App("web"))
	fail := errors.New("GET /: context deadline exceeded")
	for _, tc := range []struct {
		name     string
		failing  []string // past the failure threshold, out of rotation
		exited   []string
		replaced []int
		held     []int
	}{
		{name: "all four fail: one replaced, three held", failing: []string{"a", "b", "c", "d"}, replaced: []int{0}, held: []int{1, 2, 3}},
		{name: "two of four fail (at the 50% share): one replaced", failing: []string{"c", "d"}, replaced: []int{2}, held: []int{3}},
		{name: "one of four fails: replaced at once", failing: []string{"d"}, replaced: []int{3}},
		{name: "an exited replica is always started, beside the one failing", failing: []string{"b", "c", "d"}, exited: []string{"a"}, replaced: []int{0, 1}, held: []int{2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cs []fleet.Container
			counters := map[string]*state.Probe{}
			probes := map[string]error{}
			for i, id := range []string{"a", "b", "c", "d"} {
				st := "running"
				if slices.Contains(tc.exited, id) {
					st = "exited"
				}
				cs = append(cs, ctrAt(id, i, st, h, now0.Add(-time.Hour)))
				counters[id] = &state.Probe{Successes: 5, InRotation: true, Ever: true}
				if slices.Contains(tc.failing, id) {
					counters[id] = &state.Probe{Failures: 2, Ever: true, FailingSince: now0.Add(-10 * time.Second), LastError: fail.Error()}
					probes[id] = fail
				} else if st == "running" {
					probes[id] = nil
				}
			}
			exits := map[string]fleet.Exit{}
			for _, id := range tc.exited {
				exits[id] = fleet.Exit{State: "exited", ExitCode: 137, FinishedAt: now0.Add(-time.Minute)}
			}
			p := Heal(HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: cs, Exits: exits, Probes: probes, Counters: counters}, now0)
			var replaced, held []int
			for _, a := range p.Actions {
				replaced = append(replaced, a.Replica)
			}
			held = p.PanicHeld["web"]
			if steps := PanicHoldSteps(s, p.PanicHeld); len(tc.held) > 0 && (len(steps) != 1 || steps[0].Key != "hold panic web" ||
				!strings.Contains(steps[0].Reason, "heal replaces one failing replica per pass")) {
				t.Errorf("want one hold for the app: %+v", steps)
			}
			if fmt.Sprint(replaced) != fmt.Sprint(tc.replaced) || fmt.Sprint(held) != fmt.Sprint(tc.held) {
				t.Errorf("replaced %v held %v, want %v and %v", replaced, held, tc.replaced, tc.held)
			}
		})
	}
}

// TestPanicBudgetIsSpentOnlyOnAReplacement: a failing slot that backs off
// does not use up the one replacement of a pass in panic; an app whose
// failing replicas wait does not restart its restart_with dependents
// until the last of them is replaced.
func TestPanicBudgetIsSpentOnlyOnAReplacement(t *testing.T) {
	s := specOf(t, ordinarySpec+"  - {name: side, image: \"side:1\", port: 80, replicas: 1, restart_with: [web], health: {type: http, path: /}}\n")
	h := s.HashOf(s.App("web"))
	fail := errors.New("status 500")
	var cs []fleet.Container
	counters := map[string]*state.Probe{}
	probes := map[string]error{}
	for i, id := range []string{"a", "b", "c", "d"} {
		cs = append(cs, ctrAt(id, i, "running", h, now0.Add(-30*time.Second))) // failed soon after starting: attempts
		counters[id] = &state.Probe{Failures: 2, Ever: true, FailingSince: now0.Add(-10 * time.Second), LastError: fail.Error()}
		probes[id] = fail
	}
	side := fleet.Container{ID: "s", Name: "side-0", App: "side", Replica: 0, State: "running", Hash: s.HashOf(s.App("side")), Created: now0.Add(-time.Hour), Addr: "127.0.0.1:2"}
	cs = append(cs, side)
	probes["s"] = nil
	attempts := map[Slot][]time.Time{{"web", 0}: {now0.Add(-time.Second)}} // slot 0 backs off
	p := Heal(HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: cs, Probes: probes, Counters: counters, Attempts: attempts}, now0)
	var replaced []string
	for _, a := range p.Actions {
		replaced = append(replaced, fmt.Sprintf("%s/%d", a.App, a.Replica))
	}
	if fmt.Sprint(replaced) != "[web/1]" || len(p.Holds) != 1 || p.Holds[0].Replica != 0 || fmt.Sprint(p.PanicHeld["web"]) != "[2 3]" {
		t.Errorf("replaced %v, holds %+v, panic-held %v; want web/1 replaced, slot 0 backing off, 2 and 3 waiting", replaced, p.Holds, p.PanicHeld)
	}
}
