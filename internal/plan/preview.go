package plan

// preview.go predicts the balancer's members after a scale pass's
// actions, for the config diff a dry run prints with them: exact when the
// actions only remove replicas, and with a placeholder address for each
// replica the pass would start (its published port is Docker's choice,
// known once it runs).

import (
	"fmt"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// PlaceholderAddr is the address a dry run's config diff shows for a
// replica the pass would start.
func PlaceholderAddr(app string, replica int) string {
	return fmt.Sprintf("<new %s replica %d>", app, replica)
}

// PlannedMembers are members after steps: removed and replaced containers
// out, a placeholder in for each start and replacement. guessed names
// what the prediction cannot know (the new replicas, a swarm service's
// new tasks); empty when it is exact.
func PlannedMembers(members []fleet.Container, steps []Step) (out []fleet.Container, guessed []string) {
	gone := map[string]bool{}
	var added []fleet.Container
	for _, s := range steps {
		switch a := s.Do.(type) {
		case *Action:
			if a.Old != nil && (a.Kind == Remove || a.Kind == Replace) {
				gone[a.Old.ID] = true
			}
			if a.Kind == Start || a.Kind == Replace {
				addr := PlaceholderAddr(a.App, a.Replica)
				added = append(added, fleet.Container{ID: addr, Name: addr, App: a.App, Replica: a.Replica, State: "running", Addr: addr})
				guessed = append(guessed, fmt.Sprintf("%s replica %d", a.App, a.Replica))
			}
		case ServiceAction:
			guessed = append(guessed, "the tasks of service "+s.Target)
		}
	}
	for _, c := range members {
		if !gone[c.ID] {
			out = append(out, c)
		}
	}
	return append(out, added...), guessed
}
