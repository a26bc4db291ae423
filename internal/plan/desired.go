package plan

import (
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// Wanted are the replica counts in force, by app. The spec stays as it
// was loaded; every decider that needs a count takes Wanted.
type Wanted map[string]int

// Of is app's count (0 for an app not counted).
func (c Wanted) Of(app string) int { return c[app] }

// Desired decides every app's replica count: the spec's fixed count, or
// for an autoscaled app the autoscaler's decision — this pass's (decided)
// when it made one, else the last one the state remembers, else the
// spec's starting count — clamped to [min, max].
func Desired(s *spec.Spec, st *state.State, decided map[string]int) Wanted {
	out := Wanted{}
	for _, a := range s.Apps {
		n := 1
		if a.Replicas != nil {
			n = *a.Replicas
		}
		if as := a.Autoscale; as != nil {
			if rec := st.App(a.Name); rec != nil && rec.Autoscale != nil {
				n = rec.Autoscale.Desired
			}
			if d, ok := decided[a.Name]; ok {
				n = d
			}
			n = min(max(n, as.Min), as.Max)
		}
		out[a.Name] = n
	}
	return out
}
