package plan

// constraints.go reads Swarm placement constraints: whether a node
// satisfies them, and whether a service's own constraints tie it to a node.

import (
	"github.com/baton-orchestrator/baton/internal/fleet"
)

// Satisfies evaluates Swarm placement constraints against a node (see
// fleet.Node.Satisfies).
func Satisfies(n fleet.Node, constraints []string) bool { return n.Satisfies(constraints) }

func parseConstraint(c string) (key, op, value string, ok bool) { return fleet.ParseConstraint(c) }

// pinnedByOwner: the service's own constraints (not baton's pin) tie it
// to one node.
func pinnedByOwner(s fleet.Service) bool {
	pin := s.Labels[fleet.LabelPin]
	for _, c := range s.Constraints {
		key, op, _, ok := parseConstraint(c)
		if ok && c != pin && op == "==" && (key == "node.hostname" || key == "node.id") {
			return true
		}
	}
	return false
}
