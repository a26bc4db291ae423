package commands_test

// -o json on every failing path (issue #18, acceptance 2): exactly one
// JSON object on stdout, which jq parses, carrying the error, the exit
// code, the hints and the spec's problems (docs/exit-codes.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/commands"
	"github.com/baton-orchestrator/baton/internal/testenv"
	"github.com/baton-orchestrator/baton/state"
)

// jsonError is the documented shape of an error object.
type jsonError struct {
	Error    string   `json:"error"`
	ExitCode *int     `json:"exit_code"`
	Hints    []string `json:"hints"`
	Problems []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"problems"`
}

// oneObject checks with jq that out is exactly one JSON object, and
// decodes it.
func oneObject(t *testing.T, out string) (jsonError, map[string]json.RawMessage) {
	t.Helper()
	checkOneObject(t, out)
	var e jsonError
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(out), &raw)
	if raw["hints"] == nil || raw["problems"] == nil || e.ExitCode == nil {
		t.Errorf("error object lacks hints, problems or exit_code:\n%s", out)
	}
	return e, raw
}

// checkOneObject checks with jq that out is exactly one JSON object.
func checkOneObject(t *testing.T, out string) {
	t.Helper()
	jq := testenv.Tool(t, "jq")
	cmd := exec.Command(jq, "-e", "-s", `length == 1 and (.[0] | type) == "object"`)
	cmd.Stdin = strings.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("jq: not exactly one JSON object (%v: %s):\n%s", err, b, out)
	}
}

func TestJSONErrorOnEveryFailingPath(t *testing.T) {
	t.Run("bad spec", func(t *testing.T) {
		a := newInproc(t)
		if err := os.WriteFile(a.spec, []byte("apps:\n  - name: web\n    replicas: -1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range [][]string{{"validate"}, {"scale"}, {"status"}, {"heal"}} {
			out, errOut, code := a.run(append([]string{"-o", "json"}, cmd...)...)
			e, _ := oneObject(t, out)
			if code != 1 || *e.ExitCode != 1 || !strings.Contains(e.Error, "invalid spec (2 problems)") || len(e.Problems) != 2 {
				t.Fatalf("%v: exit %d\n%s\n%s", cmd, code, out, errOut)
			}
			p := e.Problems[0]
			if p.File != a.spec || p.Line != 2 || p.Column != 5 || p.Field != "apps[0].image" || !strings.Contains(p.Message, "missing") {
				t.Errorf("%v: problem %+v", cmd, p)
			}
			if !strings.Contains(errOut, "baton: error: invalid spec") {
				t.Errorf("%v: stderr lost the error:\n%s", cmd, errOut)
			}
		}
	})
	t.Run("missing spec", func(t *testing.T) {
		a := newInproc(t)
		out, _, code := a.run("-o", "json", "scale")
		e, _ := oneObject(t, out)
		if code != 1 || !strings.Contains(e.Error, "no spec at") || len(e.Hints) == 0 || !strings.Contains(e.Hints[0], "--spec") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("lock held", func(t *testing.T) {
		a := newInproc(t)
		a.write(`"true"`, fmt.Sprintf(webApp, 1))
		lock, err := state.Open(context.Background(), a.state, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close()
		out, _, code := a.run("-o", "json", "scale")
		e, _ := oneObject(t, out)
		if code != 75 || *e.ExitCode != 75 || !strings.Contains(e.Error, "locked") || len(e.Hints) == 0 {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("daemon down", func(t *testing.T) {
		a := newInproc(t)
		a.write(`"true"`, fmt.Sprintf(webApp, 1))
		gone := "unix://" + filepath.Join(a.dir, "gone.sock")
		var stdout, stderr bytes.Buffer
		env := &commands.Env{Stdout: &stdout, Stderr: &stderr, Clock: a.clock}
		code := commands.Run(context.Background(), env, []string{"baton", "--spec", a.spec, "--state", a.state, "scale", "-o", "json", "--docker-host", gone})
		e, _ := oneObject(t, stdout.String())
		if code != 1 || strings.Count(e.Error, gone) != 1 || len(e.Hints) == 0 || !strings.Contains(e.Hints[0], "dockerd") {
			t.Errorf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
		}
		if strings.Count(stderr.String(), gone) != 1 || strings.Contains(stderr.String(), "Cannot connect") {
			t.Errorf("the daemon is not named exactly once:\n%s", stderr.String())
		}
	})
	t.Run("partial failure", func(t *testing.T) {
		a := newInproc(t)
		a.write(`"true"`, fmt.Sprintf(webApp, 2))
		a.fake.Fail["start web"] = fmt.Errorf("no space left on device")
		out, _, code := a.run("scale", "-o", "json")
		e, raw := oneObject(t, out)
		if code != 3 || *e.ExitCode != 3 || !strings.Contains(e.Error, "2 of 2 actions failed") || raw["actions"] == nil {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("a converged pass has no error fields", func(t *testing.T) {
		a := newInproc(t)
		a.write(`"true"`, fmt.Sprintf(webApp, 0))
		out, _, code := a.run("scale", "-o", "json")
		var raw map[string]any
		if err := json.Unmarshal([]byte(out), &raw); err != nil || code != 0 || raw["error"] != nil {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("usage error", func(t *testing.T) {
		a := newInproc(t)
		out, _, code := a.run("-o", "json", "events", "--since", "yesterday")
		if e, _ := oneObject(t, out); code != 1 || !strings.Contains(e.Error, "--since") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
}

// TestJSONErrorFiftyProblems: a spec with 50 problems is one object with
// 50 problems, each with its position; --log-format json gives them as
// fields on stderr, not folded into one message.
func TestJSONErrorFiftyProblems(t *testing.T) {
	a := newInproc(t)
	var b strings.Builder
	b.WriteString("apps:\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "  - {name: app%d, image: \"x:1\", replicas: -%d}\n", i, i+1)
	}
	if err := os.WriteFile(a.spec, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := a.run("-o", "json", "--log-format", "json", "validate")
	e, _ := oneObject(t, out)
	if code != 1 || len(e.Problems) != 50 {
		t.Fatalf("exit %d, %d problems\n%s", code, len(e.Problems), out)
	}
	for i, p := range e.Problems {
		if p.Line != i+2 || p.Field != fmt.Sprintf("apps[%d].replicas", i) {
			t.Errorf("problem %d: %+v", i, p)
		}
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	var logged struct {
		Level    string `json:"level"`
		Msg      string `json:"msg"`
		Problems []struct {
			Line  int    `json:"line"`
			Field string `json:"field"`
		} `json:"problems"`
	}
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &logged) != nil || logged.Level != "error" ||
		logged.Msg != "invalid spec (50 problems)" || len(logged.Problems) != 50 || logged.Problems[49].Line != 51 {
		t.Errorf("--log-format json:\n%s", errOut)
	}
}

// TestJSONErrorWhenStdoutCloses runs the binary with stdout a pipe whose
// reader is gone: baton is not killed by SIGPIPE, exits with the error's
// own code and still reports the error on stderr.
func TestJSONErrorWhenStdoutCloses(t *testing.T) {
	bin := testenv.Baton(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "baton.yaml")
	if err := os.WriteFile(spec, []byte("apps: [{name: web, replicas: -1}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--spec", spec, "validate", "-o", "json")
	cmd.Stdout, cmd.Stderr = w, &stderr
	err = cmd.Run()
	w.Close()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || strings.Count(stderr.String(), "baton: error: invalid spec") != 1 {
		t.Errorf("closed stdout: %v\n%s", err, stderr.String())
	}

	// The same with a pass that had nothing to do: its output is lost,
	// which is an error of its own (exit 1), never a crash.
	state := filepath.Join(dir, "state.json")
	if err := os.WriteFile(spec, []byte("project: closed\napps: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, _ = os.Pipe()
	r.Close()
	stderr.Reset()
	cmd = exec.Command(bin, "--spec", spec, "--state", state, "--docker-host", "unix://"+filepath.Join(dir, "gone.sock"), "-o", "json", "gc")
	cmd.Stdout, cmd.Stderr = w, &stderr
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("baton hangs on a closed stdout")
	}
	w.Close()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "baton: error:") {
		t.Errorf("closed stdout, gc: %v\n%s", err, stderr.String())
	}
}
