package commands_test

// Ordinary failures against a real dockerd and nginx (issue 13): one
// incident is one hook delivery however many passes it lasts.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneIncidentIsOneHookDelivery runs 10 heal passes while a replica
// slot crash-loops, with a command hook that appends each event's type to
// a file: the crash loop is delivered once, its end once, and the passes
// in between exit 3 printing nothing.
func TestOneIncidentIsOneHookDelivery(t *testing.T) {
	e := newE2E(t)
	deliveries := filepath.Join(e.dir, "deliveries")
	crash := `  - name: crash
    image: baton-test:v1
    pull: never
    port: 8080
    env: {EXIT_AFTER: 0s}
    health: {type: http, path: /healthz, ready_timeout: 10s, backoff: 0s, crashloop_attempts: 2, crashloop_window: 10m}
`
	hook := filepath.Join(e.dir, "hook.sh")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\ncat >> "+deliveries+"\necho >> "+deliveries+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	hooks := fmt.Sprintf("hooks:\n  - {command: [%s], events: [crashloop]}\n", hook)
	write := func(apps string) {
		e.writeSpec(1, "baton-test:v1", apps)
		b, _ := os.ReadFile(e.spec)
		if err := os.WriteFile(e.spec, append([]byte(hooks), b...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(crash)
	if _, errOut, code := e.baton("scale"); code != 3 {
		t.Fatalf("first scale: exit %d\n%s", code, errOut)
	}
	quiet := 0
	for i := 0; i < 10; i++ {
		out, errOut, code := e.baton("heal")
		if code != 3 {
			t.Fatalf("heal %d during the crash loop: exit %d\n%s%s", i, code, out, errOut)
		}
		if out == "" && errOut == "" {
			quiet++
		}
	}
	got := func() []string {
		b, _ := os.ReadFile(deliveries)
		var types []string
		for _, line := range strings.Split(string(b), "\n") {
			var ev struct {
				Type     string
				Resolved bool
			}
			if json.Unmarshal([]byte(line), &ev) == nil {
				if ev.Resolved {
					ev.Type += " over"
				}
				types = append(types, ev.Type)
			}
		}
		return types
	}
	if d := got(); strings.Join(d, ",") != "crashloop" {
		t.Fatalf("10 passes of one crash loop delivered %v, want one crashloop", d)
	}
	if quiet < 8 {
		t.Errorf("only %d of 10 passes of a known crash loop printed nothing", quiet)
	}
	// The crashing app leaves the spec: the incident is over, once.
	write("")
	e.mustBaton(0, "scale")
	e.mustBaton(0, "heal")
	e.mustBaton(0, "heal")
	if d := got(); strings.Join(d, ",") != "crashloop,crashloop over" {
		t.Errorf("after the crash loop ended: %v, want the crash loop, then its end (a hook filtering on crashloop gets both)", d)
	}
}
