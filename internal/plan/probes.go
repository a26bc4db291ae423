package plan

import (
	"fmt"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// Probed is what a pass's probes change: every running replica's counters
// and the health changes worth an event.
type Probed struct {
	Counters map[string]*state.Probe
	Findings []Finding
}

// UpdateProbes folds this pass's probe results into the counters earlier
// passes left (state.Probes), for the running containers of spec apps.
// probes holds a result per probed container (nil: passed); a container
// missing from it was not probed and keeps its counters.
//
// Rules:
//   - a pass counts a success; success_threshold passes in a row clear the
//     failures (a "recovered" finding);
//   - a failure counts up, except while a fresh container warms up
//     (start_period, Docker health "starting"): no verdict; the first
//     failure of a run is an "unhealthy" finding and stamps FailingSince;
//   - membership: a container enters the balancer with its first passing
//     verdict when it never was in it, or with success_threshold passes
//     in a row after it left; it leaves after leave_after failures in a
//     row. One failed probe does not change what the balancer routes to.
func UpdateProbes(s *spec.Spec, containers []fleet.Container, probes map[string]error, counters map[string]*state.Probe, now time.Time) Probed {
	p := Probed{Counters: map[string]*state.Probe{}}
	for i := range containers {
		c := &containers[i]
		a := s.App(c.App)
		if a == nil || !c.Running() || c.Retiring() {
			continue
		}
		cnt := state.Probe{}
		prev := counters[c.ID]
		if prev != nil {
			cnt = *prev
		}
		h := a.Health
		err, probed := probes[c.ID]
		switch {
		case !probed:
		case err == nil:
			cnt.Successes++
			cnt.LastAt = now
			if cnt.Successes >= h.SuccessThreshold && cnt.Failures > 0 {
				p.Findings = append(p.Findings, Finding{App: c.App, Container: c.Name, Type: "recovered",
					Reason: fmt.Sprintf("probe passed after %d failures", cnt.Failures)})
				cnt.Failures, cnt.LastError, cnt.FailingSince = 0, "", time.Time{}
			}
			if prev == nil || !cnt.Ever || cnt.Successes >= h.SuccessThreshold {
				cnt.InRotation, cnt.Ever = true, true
			}
		case now.Sub(c.Created) < h.StartPeriod.D || (h.Type == "docker" && c.Health == "starting"):
			// No verdict while the container warms up.
		default:
			cnt.Successes = 0
			cnt.Failures++
			cnt.LastError = err.Error()
			cnt.LastAt = now
			if cnt.Failures == 1 {
				cnt.FailingSince = now.UTC()
				p.Findings = append(p.Findings, Finding{App: c.App, Container: c.Name, Type: "unhealthy",
					Reason: fmt.Sprintf("probe failed (1 of %d): %s", h.FailureThreshold, err)})
			}
			if cnt.Failures >= h.LeaveAfter {
				cnt.InRotation = false
			}
		}
		p.Counters[c.ID] = &cnt
	}
	return p
}
