package commands_test

// Help and hints (issue #18): every command's help has EXAMPLES and the
// exit codes that command can return, no more; the messages of the common
// first-run mistakes carry a hint.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/commands"
	"github.com/baton-orchestrator/baton/internal/testenv"
)

// exitCodes are the codes an EXIT STATUS block lists.
func exitCodes(help string) []string {
	_, block, ok := strings.Cut(help, "EXIT STATUS:\n")
	if !ok {
		return nil
	}
	var codes []string
	for _, l := range strings.Split(block, "\n") {
		m := regexp.MustCompile(`^\s+([0-9]+)\s+\S`).FindStringSubmatch(l)
		if m == nil {
			break
		}
		codes = append(codes, m[1])
	}
	return codes
}

func TestEveryCommandHelpHasExamplesAndItsExitCodes(t *testing.T) {
	app := commands.NewApp(&commands.Env{})
	want := map[string]string{
		"scale": "0 1 3 75", "heal": "0 1 3 75", "lb render": "0 1 3 75", "gc": "0 1 3 75", "mods refresh": "0 1 3 75",
		"labels sync": "0 1 3 75", "rebalance": "0 1 3 75", "swarm join": "0 1 3 75",
		"events": "0 1", "status": "0 1", "logs": "0 1", "doctor": "0 1", "validate": "0 1", "import compose": "0 1",
		"schedule crontab": "0 1", "schedule systemd": "0 1", "completion": "0 1", "version": "0 1",
	}
	for _, p := range leafPaths(app) {
		out, errOut, code := runApp(t, append(strings.Fields(p), "--help")...)
		if code != 0 {
			t.Fatalf("%s --help: exit %d: %s", p, code, errOut)
		}
		if !strings.Contains(out, "EXAMPLES:\n     baton ") {
			t.Errorf("%s --help has no EXAMPLES:\n%s", p, out)
		}
		w, ok := want[p]
		if !ok {
			t.Errorf("%s: no expected exit codes in this test", p)
		}
		if got := strings.Join(exitCodes(out), " "); got != w {
			t.Errorf("%s --help lists exit codes %q, want %q:\n%s", p, got, w, out)
		}
		if !strings.Contains(out, "may come before or after the subcommand") {
			t.Errorf("%s --help does not say where global options go", p)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasSuffix(l, " ") {
				t.Errorf("%s --help: trailing space in %q", p, l)
			}
		}
	}
	out, _, _ := runApp(t, "--help")
	if got := strings.Join(exitCodes(out), " "); got != "0 1 3 75" {
		t.Errorf("baton --help lists %q", got)
	}
}

// TestNonRootStateHint runs the binary as nobody with the default state
// path: the error names the directory and the hint names --state and
// BATON_STATE.
func TestNonRootStateHint(t *testing.T) {
	setpriv := testenv.Tool(t, "setpriv")
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to nobody")
	}
	dir, err := os.MkdirTemp("", "baton-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "baton")
	copyFile(t, testenv.Baton(t), bin, 0o755)
	spec := filepath.Join(dir, "baton.yaml")
	if err := os.WriteFile(spec, []byte("apps: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := testenv.Run(t, dir, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "--spec", spec, "gc", "-o", "json")
	if code != 1 || !strings.Contains(errOut, "permission denied") || !strings.Contains(errOut, "baton: hint: /var/lib/baton needs root") ||
		!strings.Contains(errOut, "--state FILE or BATON_STATE") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	if e, _ := oneObject(t, out); len(e.Hints) == 0 {
		t.Errorf("no hint in JSON:\n%s", out)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMissingSpecHint: the first thing a new user runs.
func TestMissingSpecHint(t *testing.T) {
	dir := t.TempDir()
	for _, cmd := range [][]string{{"validate"}, {"scale"}, {"status"}} {
		_, errOut, code := runApp(t, append([]string{"--spec", filepath.Join(dir, "baton.yaml")}, cmd...)...)
		if code != 1 || !strings.Contains(errOut, "baton: error: no spec at") || !strings.Contains(errOut, "baton: hint: baton reads ./baton.yaml") ||
			!strings.Contains(errOut, "baton import compose") {
			t.Errorf("%v: exit %d\n%s", cmd, code, errOut)
		}
	}
}

// TestScaleExplainChangesNothing: --explain explains and acts on nothing,
// like kubectl explain; the actions it would take are listed.
func TestScaleExplainChangesNothing(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, fmt.Sprintf(webApp, 2))
	out, errOut, code := a.run("scale", "--explain")
	if code != 0 || a.fake.Count("start ") != 0 || a.stateBytes() != nil || !strings.Contains(out, "planned") ||
		!strings.Contains(errOut, "dry run: nothing was changed") {
		t.Errorf("scale --explain: exit %d, %d starts, state %q\n%s%s", code, a.fake.Count("start "), a.stateBytes(), out, errOut)
	}
}
