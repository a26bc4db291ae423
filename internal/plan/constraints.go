package plan

// constraints.go reads Swarm placement constraints: whether a node
// satisfies them, and whether a service's own constraints tie it to a node.

import (
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// Satisfies evaluates Swarm placement constraints against a node: the
// forms node.id, node.hostname, node.role and node.labels.K with == or
// !=. Any other form (engine labels, platform) counts as not satisfied,
// so rebalance never moves a service somewhere Swarm would refuse.
func Satisfies(n fleet.Node, constraints []string) bool {
	for _, c := range constraints {
		key, op, want, ok := parseConstraint(c)
		if !ok {
			return false
		}
		var have string
		var present bool
		switch {
		case key == "node.id":
			have, present = n.ID, true
		case key == "node.hostname":
			have, present = n.Hostname, true
		case key == "node.role":
			have, present = n.Role, true
		case strings.HasPrefix(key, "node.labels."):
			have, present = n.Labels[strings.TrimPrefix(key, "node.labels.")]
		default:
			return false
		}
		// Swarm compares case-insensitively.
		if (op == "==") != (present && strings.EqualFold(have, want)) {
			return false
		}
	}
	return true
}

// parseConstraint splits "key==value" or "key!=value" (whichever
// operator comes first), trimming spaces.
func parseConstraint(c string) (key, op, value string, ok bool) {
	op = "=="
	i := strings.Index(c, "==")
	if j := strings.Index(c, "!="); j >= 0 && (i < 0 || j < i) {
		i, op = j, "!="
	}
	if i < 0 {
		return "", "", "", false
	}
	return strings.TrimSpace(c[:i]), op, strings.TrimSpace(c[i+2:]), true
}

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
