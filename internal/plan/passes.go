package plan

// passes.go turns each pass's decisions into one Plan of Steps: what the
// runner prints, executes, records and turns into the exit status. Each
// function is pure: what the pass observed and now in, the plan out,
// including what the pass must remember afterwards (Commit).

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// CrashloopHint is printed when an app crash-loops.
const CrashloopHint = "see `baton events --type crashloop` and the container logs (`docker logs`) of the exited replicas"

// ActionStep is a scale or heal action as a step.
func ActionStep(a Action) Step {
	return Step{Kind: a.Kind, App: a.App, Target: a.Target(), Reason: a.Reason, Do: &a}
}

// HoldSteps are findings for replica slots whose starts wait; a crash
// loop makes the pass partly done. Each is an incident: one event when it
// begins, one when it ends.
func HoldSteps(holds []Hold) []Step {
	out := make([]Step, 0, len(holds))
	for _, h := range holds {
		target := fmt.Sprintf("%s replica %d", h.App, h.Replica)
		s := NewFinding("hold", h.App, target, h.Reason)
		if h.Crashloop {
			s.Type, s.Hint = "crashloop", CrashloopHint
			s.Partial = fmt.Sprintf("app %q is %s (replica %d)", h.App, h.Reason, h.Replica)
		}
		s.Key = s.Type + " " + target
		out = append(out, s)
	}
	return out
}

// ServiceStep is a swarm app's service change as a step.
func ServiceStep(a ServiceAction) Step {
	target := a.Want.Name
	if target == "" {
		target = a.Service.Name
	}
	return Step{Kind: Service, Type: ServiceEventType(a.Kind), App: a.App, Target: target, Reason: a.Reason, Do: a}
}

// ServiceEventType is the event type of a service action: "scale-service".
func ServiceEventType(k ServiceActionKind) string { return Step{Kind: Kind(k)}.EventType() }

// ScaleInput is what a scale pass decides from.
type ScaleInput struct {
	Spec       *spec.Spec
	Want       Wanted
	Containers []fleet.Container
	Ready      map[string]bool
	// Attempts are each replica slot's recent crash-loop attempts and
	// Paused each app's paused rollout (state).
	Attempts map[Slot][]time.Time
	Paused   map[string]*state.Pause
	// Retry forgets the backoffs and pauses (scale --retry).
	Retry bool
	// Exits are the inspected stopped replicas of slots that back off
	// (ToInspect): one that served long does not hold its slot.
	Exits map[string]fleet.Exit
	// Services are the Swarm's services, when the spec has swarm apps.
	Services []fleet.Service
	// Counts are the running and ready replicas per app, containers and
	// swarm tasks, for depends_on; nil: counted from Containers and Ready.
	Counts map[string]Counts
}

// ScalePass decides a scale pass: the holds of slots that back off and
// the paused rollouts, the container actions that remain (Scale,
// ApplyHolds, ApplyPauses) and the swarm apps' service changes.
// Afterwards a failed start or replacement is an attempt against its
// slot, and a failed replacement of an outdated replica pauses the app's
// rollout to its current spec.
func ScalePass(in ScaleInput, now time.Time) Plan {
	attempts, paused := in.Attempts, in.Paused
	if in.Retry {
		attempts, paused = nil, nil
	}
	stable := StableSlots(in.Spec, in.Want, in.Containers, in.Exits)
	crashed := CrashedSlots(in.Spec, in.Want, in.Containers, in.Exits)
	scaled := Scale(in.Spec, in.Want, in.Containers, in.Ready)
	for i, a := range scaled {
		if c := crashed[Slot{a.App, a.Replica}]; c != nil && a.Kind == Start {
			scaled[i].Reason += fmt.Sprintf("; replica %d %s (%s)", a.Replica, in.Exits[c.ID].String(), c.Name)
		}
	}
	actions, holds := ApplyHolds(in.Spec, scaled, attempts, stable, now)
	actions = ApplyPauses(in.Spec, actions, paused)
	pauses := PauseFindings(in.Spec, in.Containers, paused)
	if in.Counts == nil {
		in.Counts = CountReplicas(in.Containers, in.Ready)
	}
	actions, waiting := GateDependencies(in.Spec, actions, in.Counts)
	steps := append(append(HoldSteps(holds), pauses...), waiting...)
	for _, a := range RunOrder(in.Spec, actions) {
		steps = append(steps, ActionStep(a))
	}
	if in.Spec.HasSwarmApps() {
		for _, sa := range ScaleServices(in.Spec, in.Want, in.Services) {
			steps = append(steps, ServiceStep(sa))
		}
	}
	return Plan{Steps: steps, Want: in.Want, Commit: func(st *state.State, outs []Outcome) {
		for _, a := range in.Spec.Apps {
			if rec := st.App(a.Name); rec != nil && (in.Retry || (rec.Paused != nil && rec.Paused.Hash != in.Spec.HashOf(a))) {
				rec.Paused = nil // the spec moved on, or asked to retry
				if in.Retry {
					rec.Slots = nil
				}
			}
		}
		rememberStarted(st, outs, now)
		for slot := range stable {
			st.ResetSlot(slot.App, slot.Replica)
		}
		for _, o := range outs {
			a, ok := o.Step.Do.(*Action)
			if ok && o.Err == nil && a.Kind == Start && crashed[Slot{a.App, a.Replica}] != nil {
				// A start after a crash is an attempt against the slot, as
				// heal's is: a replica that keeps exiting soon after it
				// started backs off, however often cron runs scale.
				app := in.Spec.App(a.App)
				st.AddSlotAttempt(a.App, a.Replica, now, app.Health.CrashloopWindow.D, in.Spec.HashOf(app))
				continue
			}
			if !ok || o.Err == nil || !a.CountsAsAttempt() {
				continue
			}
			app := in.Spec.App(a.App)
			hash := in.Spec.HashOf(app)
			var na *NotAttempted
			var nr *NotReady
			if !errors.As(o.Err, &na) {
				st.AddSlotAttempt(a.App, a.Replica, now, app.Health.CrashloopWindow.D, hash)
			}
			if a.Kind == Replace && a.Old.Hash != hash && (errors.As(o.Err, &nr) || (na != nil && na.Paused)) && st.AppState(a.App).Paused == nil {
				st.AppState(a.App).Paused = &state.Pause{Hash: hash, Since: now.UTC(), Reason: o.Err.Error()}
			}
		}
	}}
}

// rememberStarted gives every replica a pass started, and that answered
// before it entered the balancer, probe counters: it was ready, it is in
// rotation. The next pass's first failed probe then does not take it out
// (leave_after), and panic routing counts it.
func rememberStarted(st *state.State, outs []Outcome, now time.Time) {
	for _, o := range outs {
		if c, ok := o.Data.(*fleet.Container); ok && c != nil && o.Err == nil {
			if st.Probes == nil {
				st.Probes = map[string]*state.Probe{}
			}
			st.Probes[c.ID] = &state.Probe{Successes: 1, LastAt: now.UTC(), InRotation: true, Ever: true}
		}
	}
}

// PanicHoldSteps are one hold per app in panic whose failing replicas
// heal replaces one per pass: one incident for the app, not one per
// replica.
func PanicHoldSteps(s *spec.Spec, held map[string][]int) []Step {
	var out []Step
	for _, app := range slices.Sorted(maps.Keys(held)) {
		rs := held[app]
		f := NewFinding("hold", app, app, fmt.Sprintf("%d more failing replica(s) (%s) wait: %s is at or below health.panic %s, so heal replaces one failing replica per pass",
			len(rs), joinInts(rs), app, pct(s.App(app).Health.Panic.Fraction)))
		f.Key = "hold panic " + app
		out = append(out, f)
	}
	return out
}

func joinInts(is []int) string {
	ss := make([]string, len(is))
	for i, n := range is {
		ss[i] = strconv.Itoa(n)
	}
	return strings.Join(ss, ", ")
}

// SlotOfTarget reads the slot of a hold's or crash loop's target ("web
// replica 2", HoldSteps).
func SlotOfTarget(target string) (Slot, bool) {
	app, r, ok := strings.Cut(target, " replica ")
	n, err := strconv.Atoi(r)
	return Slot{app, n}, ok && err == nil
}

// SlotsOf are the replica slots' attempts the state remembers, made at
// each app's current spec hash (a new spec starts every slot afresh), and
// PausesOf the apps' paused rollouts.
func SlotsOf(st *state.State, s *spec.Spec) map[Slot][]time.Time {
	out := map[Slot][]time.Time{}
	for name, a := range st.Apps {
		if app := s.App(name); app == nil || (a.SlotsHash != "" && a.SlotsHash != s.HashOf(app)) {
			continue
		}
		for k, ts := range a.Slots {
			if r, err := strconv.Atoi(k); err == nil {
				out[Slot{name, r}] = ts
			}
		}
	}
	return out
}

func PausesOf(st *state.State) map[string]*state.Pause {
	out := map[string]*state.Pause{}
	for name, a := range st.Apps {
		if a.Paused != nil {
			out[name] = a.Paused
		}
	}
	return out
}

// HealPass decides a heal pass (Heal): its findings, holds and actions;
// afterwards the probe counters, each slot's attempt (or reset) and the
// rollouts it paused are remembered.
func HealPass(in HealInput, now time.Time) Plan {
	hp := Heal(in, now)
	var steps []Step
	for _, f := range hp.Findings {
		steps = append(steps, NewFinding(f.Type, f.App, f.Container, f.Reason))
	}
	steps = append(steps, HoldSteps(hp.Holds)...)
	steps = append(steps, PanicHoldSteps(in.Spec, hp.PanicHeld)...)
	steps = append(steps, PauseFindings(in.Spec, in.Containers, in.Paused)...)
	counts := in.Counts
	if counts == nil {
		ready := map[string]bool{}
		for id, err := range in.Probes {
			ready[id] = err == nil
		}
		counts = CountReplicas(in.Containers, ready)
	}
	var waiting []Step
	hp.Actions, waiting = GateDependencies(in.Spec, hp.Actions, counts)
	steps = append(steps, waiting...)
	acting := map[Slot]bool{}
	for _, a := range hp.Actions {
		acting[Slot{a.App, a.Replica}] = true
	}
	attempts := hp.Attempts[:0:0]
	for _, at := range hp.Attempts {
		if acting[at.Slot] {
			attempts = append(attempts, at) // a slot waiting for its app's dependencies was not replaced
		}
	}
	hp.Attempts = attempts
	for _, a := range RunOrder(in.Spec, hp.Actions) {
		steps = append(steps, ActionStep(a))
	}
	return Plan{Steps: steps, Commit: func(st *state.State, outs []Outcome) {
		st.Probes = hp.Counters
		rememberStarted(st, outs, now)
		for _, at := range hp.Attempts {
			if a := in.Spec.App(at.App); at.Reset {
				st.ResetSlot(at.App, at.Replica)
			} else {
				st.AddSlotAttempt(at.App, at.Replica, now, a.Health.CrashloopWindow.D, in.Spec.HashOf(a))
			}
		}
		for _, pz := range hp.Pauses {
			st.AppState(pz.App).Paused = &state.Pause{Hash: pz.Hash, Since: now.UTC(), Reason: pz.Reason}
		}
	}}
}

// Commits runs several commits in order.
func Commits(fns ...func(*state.State, []Outcome)) func(*state.State, []Outcome) {
	return func(st *state.State, outs []Outcome) {
		for _, f := range fns {
			if f != nil {
				f(st, outs)
			}
		}
	}
}

// AutoscaleApps decides every autoscaled app's count (Autoscale) from its
// input; afterwards each app's autoscaler memory is remembered (Remember).
func AutoscaleApps(ins []AutoscaleInput, now time.Time) ([]AutoscaleDecision, map[string]int, func(*state.State, []Outcome)) {
	ds := make([]AutoscaleDecision, len(ins))
	counts := map[string]int{}
	for i, in := range ins {
		ds[i] = Autoscale(in, now)
		counts[in.App.Name] = ds[i].Final
	}
	return ds, counts, func(st *state.State, _ []Outcome) {
		for i, in := range ins {
			mem := Remember(in.Memory, ds[i], in.App.Autoscale, now)
			st.AppState(in.App.Name).Autoscale = &mem
		}
	}
}

// Acts reports whether a plan has a step that is not a finding.
func Acts(steps []Step) bool {
	for _, s := range steps {
		if s.Kind != Report {
			return true
		}
	}
	return false
}

// StopsFirst reports whether a is a replacement made stop-first: its app
// says so (update.order), or it carries the old container's anonymous
// volumes (two containers never share one).
func StopsFirst(s *spec.Spec, a Action) bool {
	if a.Kind != Replace || a.Old == nil {
		return false
	}
	app := s.App(a.App)
	return app != nil && (app.Order() == spec.StopFirst || len(a.Carry) > 0)
}

// RunOrder is the order a pass's actions run in (rollout.Runner): starts
// and removals, then the start-first replacements one at a time, then the
// stop-first ones; each group in plan order. The plan lists them so, so
// a dry run prints what the pass then does, in the order it does it.
func RunOrder(s *spec.Spec, actions []Action) []Action {
	rank := func(a Action) int {
		switch {
		case StopsFirst(s, a):
			return 2
		case a.Kind == Replace:
			return 1
		}
		return 0
	}
	out := append([]Action(nil), actions...)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}
