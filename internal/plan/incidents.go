package plan

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/baton-orchestrator/baton/state"
)

// TrackIncidents makes each incident one event when it begins and one
// when it ends, not one per pass it lasts (one alert per incident). Of a
// pass's outcomes, a finding whose Key names an incident the state knows
// is quiet: not printed, not recorded, though a Partial one still makes
// the pass exit 3. A known incident of one of the types this pass
// evaluates that it did not find again is over: a finding of its type
// // marked Resolved is added (a hook filtering on the type gets both);
// evaluates says which known incidents the pass evaluated. The commit keeps
// the incidents that hold, with when they began.
func TrackIncidents(outs []Outcome, known map[string]*state.Incident, evaluates func(*state.Incident) bool, by string, now time.Time) ([]Outcome, func(*state.State, []Outcome)) {
	found := map[string]Step{}
	for i, o := range outs {
		if k := o.Step.Key; k != "" && o.Step.Kind == Report {
			if _, ok := known[k]; ok {
				outs[i].Quiet = true
			}
			found[k] = o.Step
		}
	}
	var over []string
	for _, k := range slices.Sorted(maps.Keys(known)) {
		inc := known[k]
		if _, still := found[k]; !still && evaluates(inc) {
			over = append(over, k)
			r := NewFinding(inc.Type, inc.App, inc.Target, fmt.Sprintf("over (since %s): %s", inc.Since.UTC().Format(time.RFC3339), inc.Reason))
			r.Resolved = true
			outs = append(outs, Outcome{Step: r})
		}
	}
	return outs, func(st *state.State, _ []Outcome) {
		for _, k := range over {
			delete(st.Incidents, k)
		}
		for k, s := range found {
			if _, ok := known[k]; ok {
				continue
			}
			if st.Incidents == nil {
				st.Incidents = map[string]*state.Incident{}
			}
			st.Incidents[k] = &state.Incident{Type: s.Type, App: s.App, Target: s.Target, Reason: s.Reason, Since: now.UTC(), By: by}
		}
	}
}
