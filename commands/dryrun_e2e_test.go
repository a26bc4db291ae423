package commands_test

import (
	"strings"
	"testing"
)

// TestDryRunNamesChangedFieldsAgainstDocker: the record label goes on
// real containers, and a dry run of a spec edit names the fields.
func TestDryRunNamesChangedFieldsAgainstDocker(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(1, "baton-test:v1", "    env: {GREETING: hello}\n    resources: {memory: 32m}\n")
	e.mustBaton(0, "scale")
	e.writeSpec(1, "baton-test:v2", "    env: {GREETING: hi}\n    resources: {memory: 64m}\n")
	out := e.mustBaton(0, "-n", "scale")
	if !strings.Contains(out, "image baton-test:v1 → baton-test:v2, env.GREETING: hello → hi, resources.memory: 32m → 64m") {
		t.Errorf("dry run:\n%s", out)
	}
	if !strings.Contains(out, "the balancer config after the pass (not exact") {
		t.Errorf("no config preview:\n%s", out)
	}
}
