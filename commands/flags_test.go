package commands_test

// Global flags before or after the subcommand (issue #18, acceptance 1):
// every subcommand runs with every global flag after it and gives the
// same stdout, stderr and exit code as with the flag before it.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/commands"
	"github.com/baton-orchestrator/baton/internal/fleet"
)

// commandArgs are the arguments each command path runs with in the test
// (after the path itself). Every visible command must be listed.
func commandArgs(a *inproc) map[string][]string {
	compose := filepath.Join(a.dir, "compose.yaml")
	return map[string][]string{
		"scale":            nil,
		"heal":             nil,
		"lb render":        nil,
		"gc":               nil,
		"mods refresh":     nil,
		"labels sync":      nil,
		"rebalance":        nil,
		"swarm join":       nil,
		"events":           {"--since", "1h"},
		"status":           nil,
		"logs":             {"web"},
		"doctor":           nil,
		"validate":         nil,
		"import compose":   {compose},
		"schedule crontab": {"--bin", "/usr/bin/baton"},
		"schedule systemd": nil,
		"completion":       {"bash"},
		"version":          nil,
	}
}

// leafPaths are the app's visible commands that run something.
func leafPaths(app *cli.App) []string {
	var out []string
	var walk func(prefix string, cs []*cli.Command)
	walk = func(prefix string, cs []*cli.Command) {
		for _, c := range cs {
			if c.Hidden || c.Name == "help" {
				continue
			}
			p := strings.TrimSpace(prefix + " " + c.Name)
			if len(c.Subcommands) > 0 {
				walk(p, c.Subcommands)
				continue
			}
			out = append(out, p)
		}
	}
	walk("", app.Commands)
	return out
}

// flagFixture is an in-process baton with a converged one-replica app,
// an event, a compose file and a metrics directory.
func flagFixture(t *testing.T) *inproc {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 1))
	a.must(0, "scale")
	if err := os.WriteFile(filepath.Join(a.dir, "compose.yaml"), []byte("services:\n  web:\n    image: web:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return a
}

// normalize removes what differs between two runs of one command on one
// fixture for reasons other than the flags (none expected: the clock is
// fake and the fleet converged).
func normalize(a *inproc, s string) string { return strings.ReplaceAll(s, a.dir, "DIR") }

func TestGlobalFlagsBeforeOrAfterTheSubcommand(t *testing.T) {
	a := flagFixture(t)
	metrics := filepath.Join(a.dir, "metrics")
	args := commandArgs(a)
	app := commands.NewApp(&commands.Env{})
	for _, p := range leafPaths(app) {
		if _, ok := args[p]; !ok {
			t.Errorf("command %q has no arguments in commandArgs: add it", p)
		}
	}
	// Each global flag (every name, both spellings of a value) alone, and
	// all of them at once.
	variants := [][]string{
		{"--spec", a.spec}, {"-f", a.spec}, {"--spec=" + a.spec},
		{"--state", a.state}, {"--state=" + a.state},
		{"--docker-host", "unix:///nowhere.sock"}, {"-H", "unix:///nowhere.sock"},
		{"--context", "nowhere"}, {"-c", "nowhere"},
		{"--dry-run"}, {"-n"},
		{"--output", "json"}, {"-o", "json"}, {"-o=json"}, {"--output=wide"},
		{"--docker-timeout", "5s"}, {"--lock-timeout", "1s"},
		{"--quiet"}, {"-q"}, {"--verbose"},
		{"--log-format", "json"}, {"--metrics-dir", metrics},
		{"-n", "-q", "--verbose", "-o", "json", "--log-format=json", "--lock-timeout", "2s", "--metrics-dir", metrics},
	}
	base := []string{"baton", "--spec", a.spec, "--state", a.state, "--lock-timeout", "0s"}
	for _, p := range leafPaths(app) {
		path := strings.Fields(p)
		local := commandLocal(app, path)
		for _, v := range variants {
			if local[strings.TrimLeft(strings.SplitN(v[0], "=", 2)[0], "-")] {
				continue // the subcommand's own flag of that name (logs -f) wins
			}
			before := append(append(append(append([]string{}, base...), v...), path...), args[p]...)
			after := append(append(append(append([]string{}, base...), path...), args[p]...), v...)
			between := append(append(append(append([]string{}, base...), path...), v...), args[p]...)
			bOut, bErr, bCode := a.runArgs(before...)
			for _, other := range [][]string{after, between} {
				out, errOut, code := a.runArgs(other...)
				if code != bCode || normalize(a, out) != normalize(a, bOut) || normalize(a, errOut) != normalize(a, bErr) {
					t.Errorf("%q vs %q:\nexit %d vs %d\nstdout:\n%s\nvs\n%s\nstderr:\n%s\nvs\n%s",
						strings.Join(before[1:], " "), strings.Join(other[1:], " "), bCode, code, bOut, out, bErr, errOut)
				}
			}
			if strings.Contains(bErr, "flag provided but not defined") {
				t.Errorf("%q: %s", strings.Join(before[1:], " "), bErr)
			}
		}
	}
}

// commandLocal is the set of flag names the command at path defines.
func commandLocal(app *cli.App, path []string) map[string]bool {
	cs := app.Commands
	var cmd *cli.Command
	for _, name := range path {
		for _, c := range cs {
			if c.Name == name {
				cmd = c
			}
		}
		cs = cmd.Subcommands
	}
	set := map[string]bool{}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			set[n] = true
		}
	}
	return set
}

// TestGlobalFlagsAdversarial: a flag repeated before and after (the last
// wins, as with cobra), `--` ends the flags (nothing after it moves), a
// subcommand flag's value that looks like a global flag stays its value.
func TestGlobalFlagsAdversarial(t *testing.T) {
	a := flagFixture(t)
	// Repeated: the later one wins either way.
	j1, _, c1 := a.run("-o", "table", "status", "-o", "json")
	j2, _, c2 := a.run("-o", "table", "-o", "json", "status")
	if c1 != 0 || c1 != c2 || j1 != j2 || !strings.HasPrefix(j1, "{") {
		t.Errorf("repeated -o: %d %d\n%s\n%s", c1, c2, j1, j2)
	}
	t1, _, _ := a.run("-o", "json", "status", "-o", "table")
	if strings.HasPrefix(t1, "{") || !strings.Contains(t1, "APP") {
		t.Errorf("-o json status -o table printed JSON:\n%s", t1)
	}
	// After --, words are arguments (the -o json after -- did not move):
	// validate takes none and says so, not in JSON.
	out, errOut, code := a.run("validate", "--", "-o", "json")
	if code != 1 || strings.HasPrefix(out, "{") || !strings.Contains(errOut, `takes no arguments, got ["-o" "json"]`) {
		t.Errorf("validate -- -o json: exit %d\n%s%s", code, out, errOut)
	}
	// --since's value is its own even when it looks like a flag.
	_, errOut, code = a.run("events", "--since", "-n")
	if code != 1 || !strings.Contains(errOut, `--since "-n"`) {
		t.Errorf("events --since -n: exit %d\n%s", code, errOut)
	}
	// A global bool after the path and a positional argument.
	out, _, code = a.run("completion", "bash", "-q")
	if code != 0 || !strings.Contains(out, "complete -F _baton baton") {
		t.Errorf("completion bash -q: exit %d\n%s", code, out)
	}
	// Global flags between a group and its subcommand stay flags of the
	// app: `lb -n render` is `-n lb render`.
	a.fake.Add(fleet.Container{Name: "ip-web-9-aaaaaa", App: "web", Replica: 9, State: "running", Addr: "127.0.0.1:1",
		Labels: map[string]string{fleet.LabelProject: "ip"}})
	o1, _, c1 := a.run("lb", "render", "-n", "-o", "json")
	o2, _, c2 := a.run("-n", "-o", "json", "lb", "render")
	if c1 != c2 || o1 != o2 {
		t.Errorf("lb render -n -o json vs -n -o json lb render: %d %d\n%s\n%s", c1, c2, o1, o2)
	}
}

// runArgs runs argv (argv[0] is the program) as given.
func (a *inproc) runArgs(argv ...string) (string, string, int) {
	a.t.Helper()
	var out, errOut bytes.Buffer
	env := &commands.Env{Stdout: &out, Stderr: &errOut, Clock: a.clock,
		Connect: func(string, time.Duration) (commands.Engine, error) { return a.fake, nil }}
	code := commands.Run(context.Background(), env, argv)
	return out.String(), errOut.String(), code
}
