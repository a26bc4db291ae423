package plan

// backoff.go holds the rules that keep ordinary failures from taking an
// app down: backoff per replica slot (HoldFor, ApplyHolds) and paused
// rollouts (ApplyPauses).

import (
	"fmt"
	"sort"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// HoldFor decides whether a replica slot's start must wait, given the
// times of its earlier attempts (replicas that failed soon after they
// started, starts that never got ready). After the k-th attempt in
// crashloop_window the next waits backoff·2^(k-1), at most backoff_max;
// with crashloop_attempts in the window the app is crash-looping and waits
// until the oldest of them leaves the window, so there are never more than
// crashloop_attempts attempts in any window.
func HoldFor(a *spec.App, attempts []time.Time, now time.Time) (Hold, bool) {
	h := a.Health
	recent := Recent(attempts, now, h.CrashloopWindow.D)
	if len(recent) == 0 {
		return Hold{}, false
	}
	until := recent[len(recent)-1].Add(Backoff(len(recent), h.Backoff.D, h.BackoffMax.D))
	crash := len(recent) >= h.CrashloopAttempts
	if crash {
		if slide := recent[len(recent)-h.CrashloopAttempts].Add(h.CrashloopWindow.D); slide.After(until) {
			until = slide
		}
	}
	if !now.Before(until) {
		return Hold{}, false
	}
	reason := fmt.Sprintf("backing off: %d attempts in the last %s; next attempt after %s",
		len(recent), h.CrashloopWindow.D, until.Format(time.RFC3339))
	if crash {
		reason = fmt.Sprintf("crash-looping: %d attempts in the last %s (limit %d); next attempt after %s",
			len(recent), h.CrashloopWindow.D, h.CrashloopAttempts, until.Format(time.RFC3339))
	}
	return Hold{App: a.Name, Reason: reason, Until: until, Crashloop: crash}, true
}

// ApplyHolds drops the starts of replica slots that back off (HoldFor)
// and returns what remains with the holds. Removals and replacements are
// kept: scaling in never waits, and a rollout is paused, not held
// (ApplyPauses). Only the slot backs off: another slot's start, a
// scale-up and a rollout go ahead. A slot whose last replica served long
// (stable: ServedLong) is not held.
func ApplyHolds(s *spec.Spec, actions []Action, attempts map[Slot][]time.Time, stable map[Slot]bool, now time.Time) ([]Action, []Hold) {
	var kept []Action
	var holds []Hold
	for _, a := range actions {
		slot := Slot{a.App, a.Replica}
		if a.Kind != Start || stable[slot] {
			kept = append(kept, a)
			continue
		}
		if h, hold := HoldFor(s.App(a.App), attempts[slot], now); hold {
			h.Replica = a.Replica
			holds = append(holds, h)
			continue
		}
		kept = append(kept, a)
	}
	return kept, holds
}

// StableSlots are the slots with no running replica whose newest stopped
// one served long (ServedLong), from the exits inspected (ToInspect).
func StableSlots(s *spec.Spec, want Wanted, observed []fleet.Container, exits map[string]fleet.Exit) map[Slot]bool {
	out := map[Slot]bool{}
	for k, group := range byIndex(s, want, observed) {
		if running(group) != nil {
			continue
		}
		if c := newestStopped(group); c != nil {
			if x, ok := exits[c.ID]; ok && ServedLong(s.App(k.app), c.Created, x.FinishedAt) {
				out[Slot{k.app, k.replica}] = true
			}
		}
	}
	return out
}

// CrashedSlots are the slots with no running container whose newest
// stopped one exited within stable_after of its start (its exit known:
// ToInspect), by slot: a start there is an attempt against the slot.
func CrashedSlots(s *spec.Spec, want Wanted, observed []fleet.Container, exits map[string]fleet.Exit) map[Slot]*fleet.Container {
	out := map[Slot]*fleet.Container{}
	for k, group := range byIndex(s, want, observed) {
		if running(group) != nil {
			continue
		}
		if c := newestStopped(group); c != nil && exited(*c) {
			if x, ok := exits[c.ID]; ok && !ServedLong(s.App(k.app), c.Created, x.FinishedAt) {
				out[Slot{k.app, k.replica}] = c
			}
		}
	}
	return out
}

// PauseFindings are the paused rollouts (state, for each app's current
// spec) of apps that still run older replicas: a finding each that makes
// the pass partly done, whether or not this pass would replace one.
func PauseFindings(s *spec.Spec, observed []fleet.Container, paused map[string]*state.Pause) []Step {
	var out []Step
	outdated := outdatedApps(s, observed)
	for _, a := range s.Apps {
		pz := paused[a.Name]
		if pz == nil || pz.Hash != s.HashOf(a) || !outdated[a.Name] {
			continue
		}
		f := NewFinding("paused", a.Name, a.Name, fmt.Sprintf("rollout to %s paused since %s: %s; the older replicas keep serving",
			pz.Hash, pz.Since.UTC().Format(time.RFC3339), pz.Reason))
		f.Partial = fmt.Sprintf("app %q: the rollout is paused (%s)", a.Name, pz.Reason)
		f.Hint = "it resumes when the spec changes, or now with `baton scale --retry`"
		f.Key = "paused " + a.Name
		out = append(out, f)
	}
	return out
}

// ApplyPauses drops the replacements of outdated replicas of apps whose
// rollout to their current spec is paused (paused: the state's pause per
// app), so the old replicas keep serving (PauseFindings says so). A pause
// for another hash (the spec changed since) does not hold.
func ApplyPauses(s *spec.Spec, actions []Action, paused map[string]*state.Pause) []Action {
	var kept []Action
	for _, a := range actions {
		app := s.App(a.App)
		pz := paused[a.App]
		if a.Kind != Replace || app == nil || pz == nil || pz.Hash != s.HashOf(app) || a.Old.Hash == pz.Hash {
			kept = append(kept, a)
		}
	}
	return kept
}

// Recent returns the times within window before now, oldest first.
func Recent(times []time.Time, now time.Time, window time.Duration) []time.Time {
	var out []time.Time
	for _, t := range times {
		if now.Sub(t) < window {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// Backoff is the wait after the k-th recent replacement: base·2^(k-1),
// capped at limit.
func Backoff(k int, base, limit time.Duration) time.Duration {
	if k <= 0 || base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < k; i++ {
		d *= 2
		if d >= limit {
			return limit
		}
	}
	return min(d, limit)
}
