package plan

import (
	"sort"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// AppStatus is one app as a pass saw it.
type AppStatus struct {
	App          string    `json:"app"`
	Want         int       `json:"want"`
	Running      int       `json:"running"`
	Ready        int       `json:"ready"`
	Current      int       `json:"current"`
	Stopped      int       `json:"stopped"`
	Health       string    `json:"health"` // ok, degraded, failing or down
	Addresses    []string  `json:"addresses"`
	LastAction   string    `json:"last_action,omitempty"`
	LastActionAt time.Time `json:"last_action_at,omitzero"`
}

// Status counts each spec app's replicas: replicas(a) are where the app's
// replicas are observed (its containers, or its swarm tasks; other apps'
// entries may be mixed in). The health class:
//   - down: replicas wanted, none running;
//   - ok: every running replica ready and at least as many as wanted (or
//     none wanted and none running);
//   - failing: replicas running, none ready;
//   - degraded: anything in between.
func Status(s *spec.Spec, want Wanted, replicas func(*spec.App) []fleet.Container, ready map[string]bool, st *state.State) []AppStatus {
	out := []AppStatus{}
	for _, a := range s.Apps {
		as := AppStatus{App: a.Name, Want: want.Of(a.Name), Addresses: []string{}}
		hash := s.HashOf(a)
		for _, c := range replicas(a) {
			if c.App != a.Name {
				continue
			}
			if !c.Running() {
				as.Stopped++
				continue
			}
			as.Running++
			if c.Hash == hash {
				as.Current++
			}
			if ready[c.ID] {
				as.Ready++
				if c.Addr != "" {
					as.Addresses = append(as.Addresses, c.Addr)
				}
			}
		}
		sort.Strings(as.Addresses)
		as.Health = healthClass(as)
		if rec := st.App(a.Name); rec != nil {
			as.LastAction, as.LastActionAt = rec.LastAction, rec.LastActionAt
		}
		out = append(out, as)
	}
	return out
}

func healthClass(as AppStatus) string {
	switch {
	case as.Want == 0 && as.Running == 0:
		return "ok"
	case as.Running == 0:
		return "down"
	case as.Ready == as.Running && as.Running >= as.Want:
		return "ok"
	case as.Ready == 0:
		return "failing"
	}
	return "degraded"
}
