package commands

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/internal/testenv"
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

// TestEventTypesAreDocumented: every type a hook may filter on is in the
// table of docs/commands/events.md and in hooks[].events of docs/spec.md.
func TestEventTypesAreDocumented(t *testing.T) {
	for _, page := range []string{"docs/commands/events.md", "docs/spec.md"} {
		b, err := os.ReadFile(filepath.Join(testenv.Root(), page))
		if err != nil {
			t.Fatal(err)
		}
		for _, ty := range spec.EventTypes {
			if !strings.Contains(string(b), "`"+ty+"`") {
				t.Errorf("%s does not name the event type %q", page, ty)
			}
		}
	}
}
