package commands_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDryRunSaysWhatChanged (issue #18): a dry run names the fields that
// changed, and with actions shows the balancer config they lead to,
// saying where it is not exact.
func TestDryRunSaysWhatChanged(t *testing.T) {
	a := newInproc(t)
	app := "apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: %d, lb: {}, health: {type: http, path: /}, env: {GREETING: %s}, resources: {memory: %s}}\n"
	a.write(`"true"`, fmt.Sprintf(app, 2, "hello", "32m"))

	// Starts: the config shows placeholders and says it is not exact.
	out, errOut := a.must(0, "-n", "scale"), ""
	if !strings.Contains(out, "the balancer config after the pass (not exact: the addresses of web replica 0, web replica 1 are known once they run") ||
		!strings.Contains(out, "+    server <new web replica 0> ") {
		t.Errorf("dry run of two starts:\n%s%s", out, errOut)
	}
	a.must(0, "scale")
	conf, _ := os.ReadFile(a.conf)

	// A spec edit: the roll names the fields.
	a.write(`"true"`, fmt.Sprintf(app, 2, "hi", "64m"))
	out = a.must(0, "-n", "scale")
	if !strings.Contains(out, "env.GREETING: hello → hi, resources.memory: 32m → 64m") {
		t.Errorf("dry run of a roll:\n%s", out)
	}
	var rep struct {
		Actions []struct{ Reason string }
		Preview *struct {
			Exact bool
			Note  string
			Diff  string
		} `json:"balancer_preview"`
	}
	if err := json.Unmarshal([]byte(a.must(0, "-n", "-o", "json", "scale")), &rep); err != nil || len(rep.Actions) != 2 ||
		rep.Actions[0].Reason != "env.GREETING: hello → hi, resources.memory: 32m → 64m" || rep.Preview == nil || rep.Preview.Exact {
		t.Errorf("-n -o json: %v %+v", err, rep)
	}

	// Scale-in only: the diff is exact, and the real pass writes it.
	a.write(`"true"`, fmt.Sprintf(app, 1, "hello", "32m"))
	out = a.must(0, "-n", "scale")
	if !strings.Contains(out, "the balancer config after the pass (exact):") || strings.Count(out, "\n-    server ") != 1 {
		t.Errorf("dry run of a scale-in:\n%s", out)
	}
	if now, _ := os.ReadFile(a.conf); string(now) != string(conf) {
		t.Error("a dry run changed the config")
	}
	// A real pass prints no preview.
	if out := a.must(0, "scale"); strings.Contains(out, "after the pass") {
		t.Errorf("a real pass printed a preview:\n%s", out)
	}
}
