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
	// Replacements are the times of each app's recent restart attempts
	// (state.App.Attempts), by app.
	Replacements map[string][]time.Time
	// Counts are the running and ready replicas per app, containers and
	// swarm tasks, for depends_on; nil: counted from Containers and Probes.
	Counts map[string]Counts
}

// Hold is an app whose replacements wait, with the reason.
type Hold struct {
	App       string
	Reason    string
	Until     time.Time
	Crashloop bool
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
	// Replaced lists the apps whose own containers this plan replaces (not
	// their dependents): each gets one entry in its replacement history.
	Replaced []string
	Findings []Finding
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
		if a == nil || c.Retiring() || c.Replica < 0 || c.Replica >= want.Of(a.Name) {
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

func newestStopped(group []fleet.Container) *fleet.Container {
	var best *fleet.Container
	for i := range group {
		c := &group[i]
		if c.Running() || c.State == "removing" {
			continue
		}
		if best == nil || c.Created.After(best.Created) {
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
//   - an app's replacements wait while it backs off (HoldFor); each heal
//     pass that replaces something of the app is one attempt;
//   - apps that restart_with a replaced app get every running replica
//     replaced too (one level, no cascade).
func Heal(in HealInput, now time.Time) HealPlan {
	s := in.Spec
	p := HealPlan{Counters: map[string]*state.Probe{}}
	unhealthy := map[string]*fleet.Container{}
	for i := range in.Containers {
		c := &in.Containers[i]
		a := s.App(c.App)
		if a == nil || !c.Running() || c.Retiring() {
			continue
		}
		cnt := state.Probe{}
		if prev := in.Counters[c.ID]; prev != nil {
			cnt = *prev
		}
		err, probed := in.Probes[c.ID]
		switch {
		case !probed:
		case err == nil:
			cnt.Successes++
			cnt.LastAt = now
			if cnt.Successes >= a.Health.SuccessThreshold && cnt.Failures > 0 {
				p.Findings = append(p.Findings, Finding{App: c.App, Container: c.Name, Type: "recovered",
					Reason: fmt.Sprintf("probe passed after %d failures", cnt.Failures)})
				cnt.Failures, cnt.LastError = 0, ""
			}
		case now.Sub(c.Created) < a.Health.StartPeriod.D || (a.Health.Type == "docker" && c.Health == "starting"):
			// No verdict while the container warms up.
		default:
			cnt.Successes = 0
			cnt.Failures++
			cnt.LastError = err.Error()
			cnt.LastAt = now
			if cnt.Failures == 1 {
				p.Findings = append(p.Findings, Finding{App: c.App, Container: c.Name, Type: "unhealthy",
					Reason: fmt.Sprintf("probe failed (1 of %d): %s", a.Health.FailureThreshold, err)})
			}
		}
		p.Counters[c.ID] = &cnt
		if cnt.Failures >= a.Health.FailureThreshold {
			unhealthy[c.ID] = c
		}
	}

	// Candidates per app.
	cands := map[string][]Action{}
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
	for _, k := range keys {
		group := groups[k]
		run := running(group)
		for _, c := range run {
			if u := unhealthy[c.ID]; u != nil {
				cnt := p.Counters[c.ID]
				cands[k.app] = append(cands[k.app], Action{Kind: Replace, App: k.app, Replica: k.replica, Old: u,
					Reason: fmt.Sprintf("failed its health check %d times in a row: %s", cnt.Failures, cnt.LastError)})
			}
		}
		if len(run) > 0 {
			continue
		}
		if c := newestStopped(group); c != nil {
			how := c.State
			if x, ok := in.Exits[c.ID]; ok {
				how = x.String()
				if !x.FinishedAt.IsZero() {
					how += " at " + x.FinishedAt.Format(time.RFC3339)
				}
			}
			cands[k.app] = append(cands[k.app], Action{Kind: Start, App: k.app, Replica: k.replica,
				Reason: fmt.Sprintf("replica %d %s (%s)", k.replica, how, c.Name)})
		}
	}

	replaced := map[string]bool{}
	for _, a := range s.Apps {
		acts := cands[a.Name]
		if len(acts) == 0 {
			continue
		}
		if h, held := HoldFor(a, in.Replacements[a.Name], now); held {
			p.Holds = append(p.Holds, h)
			continue
		}
		p.Actions = append(p.Actions, acts...)
		p.Replaced = append(p.Replaced, a.Name)
		replaced[a.Name] = true
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
			p.Actions = append(p.Actions, Action{Kind: Replace, App: d.Name, Replica: c.Replica, Old: &c,
				Reason: fmt.Sprintf("restarts with %s, whose replicas were replaced", strings.Join(with, ", "))})
		}
	}
	return p
}

// HoldFor decides whether an app's starts and replacements must wait,
// given the times of its earlier attempts (heal passes that replaced
// something, scale passes whose starts failed). After the k-th attempt in
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

// ApplyHolds drops the starts and replacements of apps that must wait
// (HoldFor) and returns what remains with the holds. Removals are kept:
// scaling in never waits.
func ApplyHolds(s *spec.Spec, actions []Action, attempts map[string][]time.Time, now time.Time) ([]Action, []Hold) {
	var kept []Action
	var holds []Hold
	held := map[string]bool{}
	for _, a := range actions {
		if a.Kind == Remove {
			kept = append(kept, a)
			continue
		}
		app := s.App(a.App)
		if h, hold := HoldFor(app, attempts[a.App], now); hold {
			if !held[a.App] {
				held[a.App] = true
				holds = append(holds, h)
			}
			continue
		}
		kept = append(kept, a)
	}
	return kept, holds
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
