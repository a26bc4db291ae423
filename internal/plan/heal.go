package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// HealInput is what a heal pass observed, plus what earlier passes left in
// the state file.
type HealInput struct {
	Spec *spec.Spec
	// Want is every app's replica count (Desired).
	Want       Wanted
	Containers []fleet.Container
	// Probes holds this pass's probe result per running container of a spec
	// app (nil: passed). A container missing from it was not probed.
	Probes map[string]error
	// Exits holds the inspect result of the stopped containers that
	// ToInspect named.
	Exits map[string]fleet.Exit
	// Counters are the probe counters from the state file, by container ID.
	Counters map[string]*state.Probe
	// Attempts are the times of each replica slot's recent crash-loop
	// attempts (state.App.Slots); Paused the apps' paused rollouts.
	Attempts map[Slot][]time.Time
	Paused   map[string]*state.Pause
	// Counts are the running and ready replicas per app, containers and
	// swarm tasks, for depends_on; nil: counted from Containers and Probes.
	Counts map[string]Counts
}

// Slot is one replica index of an app: backoff and crash loops are
// counted per slot, so one replica's crash loop never holds another's
// replacement, a scale-up or a rollout.
type Slot struct {
	App     string
	Replica int
}

// Hold is a replica slot whose start waits, with the reason.
type Hold struct {
	App       string
	Replica   int
	Reason    string
	Until     time.Time
	Crashloop bool
}

// SlotAttempt is what a plan's action means for its slot's backoff: an
// attempt to count (its replica failed within stable_after of starting)
// or a reset (it served longer).
type SlotAttempt struct {
	Slot
	Reset bool
}

// Finding is a health change worth an event: a container started failing
// or recovered.
type Finding struct {
	App       string
	Container string
	Type      string // unhealthy or recovered
	Reason    string
}

// HealPlan is heal's decision.
type HealPlan struct {
	Actions []Action
	Holds   []Hold
	// Counters are the new probe counters, for the containers that exist.
	Counters map[string]*state.Probe
	// Attempts are the slots whose own replicas this plan replaces (not
	// their dependents'): an attempt each, or a reset.
	Attempts []SlotAttempt
	Findings []Finding
	// Pauses are the apps whose rollout stops: a replica of the spec they
	// roll to crash-looped while older replicas still serve.
	Pauses []Pause
	// PanicHeld are, per app in panic, the failing replicas not replaced
	// in this pass (one is: see Heal).
	PanicHeld map[string][]int
}

// Pause stops an app's rollout to Hash.
type Pause struct {
	App, Hash, Reason string
}

// Crashlooping returns the holds that are crash loops.
func (p HealPlan) Crashlooping() []Hold {
	var out []Hold
	for _, h := range p.Holds {
		if h.Crashloop {
			out = append(out, h)
		}
	}
	return out
}

// ToInspect names the stopped containers heal needs exit details for: per
// replica index of a spec app with no running container, the newest
// stopped one. Containers already replaced by a running one are never
// inspected again, so the cost stays with what is broken now.
func ToInspect(s *spec.Spec, want Wanted, observed []fleet.Container) []fleet.Container {
	var out []fleet.Container
	for _, group := range byIndex(s, want, observed) {
		if running(group) == nil {
			if c := newestStopped(group); c != nil {
				out = append(out, *c)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

type appIndex struct {
	app     string
	replica int
}

func byIndex(s *spec.Spec, want Wanted, observed []fleet.Container) map[appIndex][]fleet.Container {
	m := map[appIndex][]fleet.Container{}
	for _, c := range observed {
		a := s.App(c.App)
		// A retiring container is out of the balancer, leaving; one that
		// stopped still holds its slot's volumes (an interrupted stop-first
		// replacement), so a start of the slot carries them.
		if a == nil || (c.Retiring() && !exited(c)) || c.Replica < 0 || c.Replica >= want.Of(a.Name) {
			continue
		}
		k := appIndex{c.App, c.Replica}
		m[k] = append(m[k], c)
	}
	return m
}

func running(group []fleet.Container) []fleet.Container {
	var out []fleet.Container
	for _, c := range group {
		if c.Running() {
			out = append(out, c)
		}
	}
	return out
}

// newestStopped is the newest container of the group that stopped for
// good (exited, died), else the newest only created (a leftover); nil
// when the slot has neither, or when one occupies it (paused, or being
// restarted by Docker: nothing starts a twin beside it).
func newestStopped(group []fleet.Container) *fleet.Container {
	var best *fleet.Container
	for i := range group {
		c := &group[i]
		switch {
		case occupies(*c):
			return nil
		case c.State != "created" && !exited(*c):
			continue // running, removing
		case best == nil || exited(*c) && !exited(*best) || exited(*c) == exited(*best) && c.Created.After(best.Created):
			best = c
		}
	}
	return best
}

// Heal decides one heal pass.
//
// Rules:
//   - every running container of a spec app gets a verdict from this pass's
//     probe: pass, fail, or none (not probed; failing inside its start
//     period; Docker health "starting"). Fails count up, passes count
//     successes, and success_threshold passes in a row clear the failures;
//   - a running container with failure_threshold failures in a row is
//     replaced, start-first;
//   - a replica index whose newest container exited, died or never started
//     (and has no running one) is started anew; the reason names the exit
//     code and an OOM kill;
//   - a replica that failed (exited, or started failing its check) within
//     health.stable_after of starting is an attempt against its replica
//     slot, whose start waits while the slot backs off (HoldFor); one that
//     served longer resets its slot and is replaced at once; other slots
//     are never held;
//   - a crash-loop attempt of a replica of the current spec while older
//     replicas of the app still run pauses the app's rollout;
//   - apps that restart_with a replaced app get every running replica
//     replaced too (one level, no cascade).
func Heal(in HealInput, now time.Time) HealPlan {
	s := in.Spec
	pr := UpdateProbes(s, in.Containers, in.Probes, in.Counters, now)
	p := HealPlan{Counters: pr.Counters, Findings: pr.Findings, PanicHeld: map[string][]int{}}
	unhealthy := map[string]*fleet.Container{}
	for i := range in.Containers {
		c := &in.Containers[i]
		if a, cnt := s.App(c.App), pr.Counters[c.ID]; a != nil && cnt != nil && cnt.Failures >= a.Health.FailureThreshold {
			unhealthy[c.ID] = c
		}
	}

	// Candidates per slot, in app then replica order; a replica that
	// failed soon after it started is an attempt against its slot, which
	// backs off (HoldFor); one that served longer resets its slot.
	groups := byIndex(s, in.Want, in.Containers)
	keys := make([]appIndex, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].app != keys[j].app {
			return keys[i].app < keys[j].app
		}
		return keys[i].replica < keys[j].replica
	})
	replaced := map[string]bool{}
	outdated := outdatedApps(s, in.Containers)
	panicking := panicking(s, in.Containers, pr.Counters)
	failingReplaced := map[string]int{}
	for _, k := range keys {
		a := s.App(k.app)
		group := groups[k]
		run := running(group)
		var cand *Action
		var failed *fleet.Container
		var failedAt time.Time
		for _, c := range run {
			if u := unhealthy[c.ID]; u != nil {
				cnt := p.Counters[c.ID]
				r := carrying(s, a, Action{Kind: Replace, App: k.app, Replica: k.replica, Old: u,
					Reason: fmt.Sprintf("failed its health check %d times in a row: %s", cnt.Failures, cnt.LastError)}, u)
				cand = &r
				failed, failedAt = u, cnt.FailingSince
				break
			}
		}
		if len(run) == 0 {
			if c := newestStopped(group); c != nil {
				how := c.State
				x, ok := in.Exits[c.ID]
				if ok {
					how = x.String()
					if !x.FinishedAt.IsZero() {
						how += " at " + x.FinishedAt.Format(time.RFC3339)
					}
				}
				r := carrying(s, a, Action{Kind: Start, App: k.app, Replica: k.replica, Reason: fmt.Sprintf("replica %d %s (%s)", k.replica, how, c.Name)}, c)
				cand = &r
				failed, failedAt = c, x.FinishedAt
			}
		}
		if cand == nil {
			continue
		}
		slot := Slot{k.app, k.replica}
		if _, ok := panicking[k.app]; ok && cand.Old != nil && failingReplaced[k.app] >= 1 {
			// A failure that hits most of an app's replicas at once is
			// rarely the replicas' own (a network or dependency outage,
			// an overloaded host): replacing them all churns the app and
			// holds the lock for the whole rollout. One per pass.
			p.PanicHeld[k.app] = append(p.PanicHeld[k.app], k.replica)
			continue
		}
		if ServedLong(a, failed.Created, failedAt) {
			cand.Reason += fmt.Sprintf("; it served %s, so its slot starts afresh", failedAt.Sub(failed.Created).Round(time.Second))
			p.Attempts = append(p.Attempts, SlotAttempt{Slot: slot, Reset: true})
		} else {
			if h, held := HoldFor(a, in.Attempts[slot], now); held {
				h.Replica = k.replica
				p.Holds = append(p.Holds, h)
				continue
			}
			p.Attempts = append(p.Attempts, SlotAttempt{Slot: slot})
			if failed.Hash == s.HashOf(a) && outdated[k.app] {
				p.Pauses = append(p.Pauses, Pause{App: k.app, Hash: failed.Hash,
					Reason: fmt.Sprintf("replica %d of the new spec failed within stable_after (%s) of starting", k.replica, a.Health.StableAfter.D)})
			}
		}
		p.Actions = append(p.Actions, *cand)
		replaced[k.app] = true
		if cand.Old != nil {
			failingReplaced[k.app]++
		}
	}
	for app := range p.PanicHeld {
		delete(replaced, app) // its dependents restart once, when its last held replica is replaced
	}

	// Dependents restart with what they depend on.
	touched := map[string]bool{}
	for _, a := range p.Actions {
		if a.Old != nil {
			touched[a.Old.ID] = true
		}
	}
	for _, d := range s.Apps {
		var with []string
		for _, r := range d.RestartWith {
			if replaced[r] {
				with = append(with, r)
			}
		}
		if len(with) == 0 {
			continue
		}
		for i := range in.Containers {
			c := in.Containers[i]
			if c.App != d.Name || !c.Running() || touched[c.ID] || c.Replica < 0 || c.Replica >= in.Want.Of(d.Name) {
				continue
			}
			touched[c.ID] = true
			p.Actions = append(p.Actions, carrying(s, d, Action{Kind: Replace, App: d.Name, Replica: c.Replica, Old: &c,
				Reason: fmt.Sprintf("restarts with %s, whose replicas were replaced", strings.Join(with, ", "))}, &c))
		}
	}
	return p
}

// panicCount is how many of an app's replicas that were ever ready pass
// their checks.
type panicCount struct{ in, ever int }

// panicking are the apps at or below their panic share (as Members judges
// it for the balancer), with their counts.
func panicking(s *spec.Spec, observed []fleet.Container, counters map[string]*state.Probe) map[string]panicCount {
	counts := map[string]panicCount{}
	for _, c := range observed {
		cnt := counters[c.ID]
		if a := s.App(c.App); a == nil || a.LB == nil || c.Addr == "" || !c.Running() || c.Retiring() || cnt == nil || !cnt.Ever {
			continue // as Members counts: the panic rule is the balancer's
		}
		pc := counts[c.App]
		pc.ever++
		if cnt.InRotation {
			pc.in++
		}
		counts[c.App] = pc
	}
	out := map[string]panicCount{}
	for app, pc := range counts {
		if inPanic(s.App(app).Health.Panic.Fraction, pc.in, pc.ever) {
			out[app] = pc
		}
	}
	return out
}

// ServedLong reports whether a replica created at created that failed at
// failedAt served at least health.stable_after: its failure is no
// crash-loop attempt, and its slot starts afresh. An unknown failure time
// counts as a crash.
func ServedLong(a *spec.App, created, failedAt time.Time) bool {
	return !failedAt.IsZero() && failedAt.Sub(created) >= a.Health.StableAfter.D
}

// outdatedApps are the apps with a running replica of an older spec: a
// rollout is in progress.
func outdatedApps(s *spec.Spec, observed []fleet.Container) map[string]bool {
	out := map[string]bool{}
	for _, c := range observed {
		if a := s.App(c.App); a != nil && c.Running() && !c.Retiring() && c.Hash != s.HashOf(a) {
			out[c.App] = true
		}
	}
	return out
}
