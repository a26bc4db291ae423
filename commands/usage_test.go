package commands_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestUsageErrorsAreErrors: a command group without its subcommand, an
// unknown or misspelt command, arguments to a command that takes none and
// flags that do not parse are errors (exit 1) that name what is wrong —
// the closest command for a typo — never the help on stdout with exit 0
// (`baton schedule > /etc/cron.d/baton` would install the help), never a
// pass over everything (`baton scale web`) nor an empty answer to a typo
// (`events --type crashlop`); with -o json, anywhere on the line, each is
// one JSON object.
func TestUsageErrorsAreErrors(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "apps: []\n")
	for _, c := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"schedule"}, "baton schedule needs a subcommand: crontab, systemd"},
		{[]string{"lb"}, "baton lb needs a subcommand: render"},
		{[]string{"lb", "rendr"}, `did you mean "baton lb render"?`},
		{[]string{"sacle"}, `did you mean "baton scale"?`},
		{[]string{"scale", "web"}, `baton scale takes no arguments, got ["web"]`},
		{[]string{"status", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--lock-timeout", "abc", "scale"}, `invalid value "abc" for flag -lock-timeout`},
		{[]string{"heal", "--for", "-5s"}, "--for must not be negative, got -5s"},
		{[]string{"events", "--type", "crashlop"}, `did you mean "crashloop"?`},
	} {
		out, errOut, code := a.run(c.args...)
		if code != 1 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("baton %v: exit %d, stdout %q\n%s", c.args, code, out, errOut)
		}
		for _, args := range [][]string{append([]string{"-o", "json"}, c.args...), append(append([]string{}, c.args...), "-o", "json")} {
			out, _, code := a.run(args...)
			var obj struct {
				Error    string `json:"error"`
				ExitCode int    `json:"exit_code"`
			}
			if err := json.Unmarshal([]byte(out), &obj); err != nil || code != 1 || obj.ExitCode != 1 || obj.Error == "" {
				t.Errorf("baton %v: exit %d, not one JSON error object: %v\n%s", args, code, err, out)
			}
		}
	}
	if a.fake.Count("") != 0 {
		t.Errorf("a usage error reached the engine: %v", a.fake.Calls())
	}
	// baton alone prints its help, as docker does.
	if out, _, code := a.run(); code != 0 || !strings.Contains(out, "USAGE") {
		t.Errorf("baton alone: exit %d\n%s", code, out)
	}
}

// TestInProcessDryRunListsActionsInTheOrderThePassRuns: scaling 2 → 1
// while the spec changes removes the extra replica and then rolls the
// other; the dry run lists them in that order, as the real pass prints
// them.
func TestInProcessDryRunListsActionsInTheOrderThePassRuns(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 2))
	a.must(0, "scale")
	a.write(`"true"`, "apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: 1, env: {A: b}, lb: {}, health: {type: http, path: /}}\n")
	order := func(out string) []string {
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "web" {
				got = append(got, f[1])
			}
		}
		return got
	}
	dry := order(a.must(0, "-n", "scale"))
	real := order(a.must(0, "scale"))
	if fmt.Sprint(dry) != "[remove replace]" || fmt.Sprint(real) != fmt.Sprint(dry) {
		t.Errorf("dry run %v, real pass %v; want [remove replace] both", dry, real)
	}
}
