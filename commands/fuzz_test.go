package commands_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/commands"
	"github.com/baton-orchestrator/baton/internal/clock"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/testenv"
	"github.com/baton-orchestrator/baton/state"
)

// FuzzDryRunOnAnyState: whatever state file decodes, a dry run of every
// pass over it never panics and exits with a documented code. The engine
// is the in-memory fake, with a replica of each app and one that exited.
func FuzzDryRunOnAnyState(f *testing.F) {
	f.Add([]byte(`{"version": 1}`))
	f.Add([]byte(`{"version": 1, "apps": {"web": null}}`))
	f.Add([]byte(`{"version": 1, "apps": {"web": {"slots": {"0": ["2026-06-01T11:59:59Z", "2026-06-01T11:59:58Z"]}, "paused": {"hash": "x", "since": "2026-06-01T11:00:00Z", "reason": "r"}}}}`))
	f.Add([]byte(`{"version": 1, "probes": {"c0001": {"failures": 9, "successes": 0, "last_at": "2026-06-01T11:59:59Z", "in_rotation": true, "ever": true}}}`))
	f.Add([]byte(`{"version": 1, "incidents": {"crashloop web replica 0": {"type": "crashloop", "app": "web", "reason": "r", "since": "2026-06-01T11:00:00Z"}}}`))
	f.Add([]byte(`{"version": 1, "apps": {"web": {"autoscale": {"desired": 4000}}}, "moved": {"x": "2026-06-01T11:00:00Z"}, "node_labels": {"n": ["a"]}}`))
	dir := f.TempDir()
	specPath := filepath.Join(dir, "baton.yaml")
	y := "project: fz\nnginx: {config: " + filepath.Join(dir, "b.conf") + ", test: [\"true\"], reload: [\"true\"], listen: \"127.0.0.1:1\"}\n" +
		"apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: 2, lb: {}, health: {type: tcp}, autoscale: {min: 1, max: 5, targets: {cpu: 50%}}}\n" +
		"mods: {dir: " + filepath.Join(dir, "mods") + ", files: []}\n"
	if err := os.WriteFile(specPath, []byte(y), 0o644); err != nil {
		f.Fatal(err)
	}
	passes := [][]string{{"scale"}, {"heal"}, {"lb", "render"}, {"gc"}, {"mods", "refresh"}, {"status"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := state.Decode("fuzz.json", data); err != nil {
			return
		}
		statePath := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(statePath, data, 0o600); err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
		fake := testenv.NewFakeEngine(func() string { return "127.0.0.1:1" }, clk.Now)
		fake.Add(fleet.Container{ID: "c0001", Name: "fz-web-0-a", App: "web", Replica: 0, State: "running", Addr: "127.0.0.1:1", Labels: map[string]string{fleet.LabelProject: "fz"}})
		fake.Add(fleet.Container{ID: "c0002", Name: "fz-web-1-b", App: "web", Replica: 1, State: "exited", Labels: map[string]string{fleet.LabelProject: "fz"}})
		for _, p := range passes {
			var out, errOut bytes.Buffer
			env := &commands.Env{Stdout: &out, Stderr: &errOut, Clock: clk,
				Connect: func(string, time.Duration) (commands.Engine, error) { return fake, nil }}
			code := commands.Run(context.Background(), env, append([]string{"baton", "--spec", specPath, "--state", statePath, "-n", "--lock-timeout", "0s"}, p...))
			if code != 0 && code != 1 && code != 3 {
				t.Fatalf("%s dry run on %s: exit %d\n%s", strings.Join(p, " "), data, code, errOut.String())
			}
		}
		if b, _ := os.ReadFile(statePath); !bytes.Equal(b, data) {
			t.Fatalf("a dry run changed the state file")
		}
	})
}
