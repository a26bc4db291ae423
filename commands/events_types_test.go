package commands

import (
	"slices"
	"testing"

	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// TestSwarmEventTypesAreKnown: hooks may filter on every event type the
// swarm passes and the balancer write.
func TestSwarmEventTypesAreKnown(t *testing.T) {
	types := []string{"rebalance-move", "rebalance-unpin", "label", "balancer", "remove-secret", "remove-config", "move-failed", "quorum", "replace"}
	for _, k := range []plan.ServiceActionKind{plan.CreateService, plan.RollService, plan.ScaleReplicas, plan.RemoveService, plan.PlaceService} {
		types = append(types, plan.ServiceEventType(k))
	}
	for _, ty := range types {
		if !slices.Contains(spec.EventTypes, ty) {
			t.Errorf("event type %q is not in spec.EventTypes", ty)
		}
	}
}
