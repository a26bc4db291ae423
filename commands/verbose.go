package commands

// verbose.go is what --verbose says about a pass besides its actions'
// progress: what it observed (each app's replicas, which answer) and what
// it decided, so `heal --verbose` on a healthy fleet still tells what it
// checked.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/baton-orchestrator/baton/internal/plan"
)

// logObserved prints each app's replica counts and why replicas are not
// ready.
func (x *pass) logObserved() {
	if !x.env.Verbose || x.env.Quiet {
		return
	}
	for _, a := range x.apps {
		line := fmt.Sprintf("%s: observed %s: want %d, %d running, %d ready, %d up to date, %d stopped", x.name, a.App, a.Want, a.Running, a.Ready, a.Current, a.Stopped)
		var bad []string
		for _, c := range x.fleet.containers {
			if err := x.fleet.probeErr[c.ID]; c.App == a.App && err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", c.Name, err))
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			line += " (" + strings.Join(bad, "; ") + ")"
		}
		x.env.logf("%s", line)
	}
}

// logPlan prints the decision: nothing to do, or each step with its
// reason.
func (x *pass) logPlan(steps []plan.Step) {
	if !x.env.Verbose || x.env.Quiet {
		return
	}
	if len(steps) == 0 {
		x.env.logf("%s: decided: nothing to do", x.name)
		return
	}
	x.env.logf("%s: decided %d steps", x.name, len(steps))
	for _, s := range steps {
		x.env.logf("%s:   %s %s: %s", x.name, s.EventType(), s.Target, s.Reason)
	}
}
