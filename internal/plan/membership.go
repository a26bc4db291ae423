package plan

import (
	"fmt"
	"math"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// Members decides which containers the balancer routes to, from the
// probe counters (UpdateProbes): the running containers of apps with an
// lb section and an address that are in rotation. An outdated container
// still serves until its replacement is ready.
//
// The membership floor: probes alone never take an app from some ready
// replicas to none. When the share of an app's replicas in rotation is at
// or below health.panic, the balancer routes to every running replica that
// was ever in rotation (it fails open, like Envoy's panic threshold) and a
// "panic" finding says so. A replica that never passed a probe is never
// routed to.
func Members(s *spec.Spec, observed []fleet.Container, counters map[string]*state.Probe) ([]fleet.Container, []Step) {
	type pool struct{ in, ever []fleet.Container }
	pools := map[string]*pool{}
	var order []string
	for _, c := range observed {
		a := s.App(c.App)
		cnt := counters[c.ID]
		if a == nil || a.LB == nil || !c.Running() || c.Retiring() || c.Addr == "" || cnt == nil || !cnt.Ever {
			continue
		}
		p := pools[c.App]
		if p == nil {
			p = &pool{}
			pools[c.App] = p
			order = append(order, c.App)
		}
		p.ever = append(p.ever, c)
		if cnt.InRotation {
			p.in = append(p.in, c)
		}
	}
	var out []fleet.Container
	var findings []Step
	for _, app := range order {
		p := pools[app]
		share := s.App(app).Health.Panic.Fraction
		if inPanic(share, len(p.in), len(p.ever)) {
			f := NewFinding("panic", app, app, fmt.Sprintf("%d of %d replicas pass their checks, at or below the panic share %s: the balancer routes to all %d",
				len(p.in), len(p.ever), pct(share), len(p.ever)))
			f.Key = "panic " + app
			findings = append(findings, f)
			out = append(out, p.ever...)
			continue
		}
		out = append(out, p.in...)
	}
	return out, findings
}

// inPanic reports whether in of ever replicas (those that were ever
// ready) passing their checks is at or below the panic share (0: off),
// with at least one failing.
func inPanic(share float64, in, ever int) bool {
	return in < ever && share > 0 && float64(in) <= math.Floor(share*float64(ever)+1e-9)
}
