package commands_test

// Every pass subcommand on every failing path (issue #18, acceptance 2;
// issues #15, #19): with -o json stdout is exactly one JSON object, which
// jq parses and which carries the error fields of docs/exit-codes.md; and
// every exit code a pass returns is one its help lists.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/commands"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/state"
)

// passCase is one pass subcommand: the spec it runs with (all nodes ready,
// it exits 0) and, where the pass has actions that can fail, what makes
// one fail (it then exits 3, the rest done).
type passCase struct {
	args []string
	body string // the spec after the nginx section (inproc.write)
	// fail, when set, arranges a failed action and says what the error
	// must contain.
	fail func(t *testing.T, a *inproc) string
}

// passCases are every pass subcommand, each with a spec that has a swarm
// section (so a node can be down) and a fake swarm.
func passCases(t *testing.T) []passCase {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "a mod")
	}))
	t.Cleanup(srv.Close)
	app := "apps: [{name: web, image: \"web:1\", port: 8080, lb: {}, health: {type: http, path: /}, replicas: 0}]\n"
	return []passCase{
		{args: []string{"scale"}, body: swarmSpec + app, fail: func(t *testing.T, a *inproc) string {
			a.write(`"true"`, swarmSpec+strings.Replace(app, "replicas: 0", "replicas: 2", 1))
			a.fake.Fail["start web"] = errors.New("no space left on device")
			return "2 of 2 actions failed"
		}},
		{args: []string{"heal"}, body: swarmSpec + app, fail: func(t *testing.T, a *inproc) string {
			a.fake.Add(fleet.Container{ID: "dead", Name: "ip-web-0-dead", App: "web", Replica: 0, State: "exited", Created: t0.Add(-time.Hour),
				Labels: map[string]string{fleet.LabelProject: "ip", fleet.LabelApp: "web", fleet.LabelReplica: "0"}})
			a.write(`"true"`, swarmSpec+strings.Replace(app, "replicas: 0", "replicas: 1", 1))
			a.fake.Fail["start web"] = errors.New("no space left on device")
			return "actions failed"
		}},
		{args: []string{"lb", "render"}, body: swarmSpec + app}, // no action of its own can partly fail
		{args: []string{"gc"}, body: swarmSpec + "gc: {grace: 1h}\n" + app, fail: func(t *testing.T, a *inproc) string {
			a.fake.Add(fleet.Container{ID: "old", Name: "ip-web-0-old", App: "web", State: "exited", Created: t0.Add(-5 * time.Hour),
				Labels: map[string]string{fleet.LabelProject: "ip"}})
			a.fake.Fail["remove old"] = errors.New("device busy")
			return "1 of 1 actions failed"
		}},
		{args: []string{"mods", "refresh"}, body: swarmSpec + app, fail: func(t *testing.T, a *inproc) string {
			a.write(`"true"`, swarmSpec+app+fmt.Sprintf("mods:\n  dir: %s\n  files:\n    - {url: %s/a, dest: a.jar}\n    - {url: %s/gone, dest: b.jar}\n",
				filepath.Join(a.dir, "cache"), srv.URL, srv.URL))
			return "1 of 2 actions failed"
		}},
		{args: []string{"labels", "sync"}, body: swarmSpec + app, fail: func(t *testing.T, a *inproc) string {
			a.write(`"true"`, strings.Replace(swarmSpec, "zone: a", "zone: b", 1)+app)
			a.fake.Fail["label node node1"] = errors.New("update out of sequence")
			return "1 of 1 actions failed"
		}},
		{args: []string{"rebalance"}, body: "swarm:\n  nodes:\n    node1: {labels: {zone: a}}\n  rebalance: {threshold: 70%, target: 60%, wait: 10s}\n" + app,
			fail: func(t *testing.T, a *inproc) string {
				a.fake.AddService(fleet.Service{ID: "s1", Name: "api", Replicas: 1, ReserveMemory: 400 << 20}, "n1")
				a.fake.AddService(fleet.Service{ID: "s2", Name: "heavy", Replicas: 1, ReserveMemory: 410 << 20}, "n1")
				a.fake.Fail["pin service api node2"] = errors.New("update out of sequence")
				return "1 of 1 actions failed"
			}},
		{args: []string{"swarm", "join"}, body: swarmSpec + app, fail: func(t *testing.T, a *inproc) string {
			a.write(`"true"`, "swarm:\n  nodes:\n    node2: {docker: \"unix:///n2.sock\", role: manager, advertise_addr: 10.0.0.2}\n"+app)
			a.fake.Member = fleet.Membership{State: "active", ClusterID: "another"}
			return "in another swarm (cluster another)"
		}},
	}
}

// failingPath is one way a pass can fail (or not): name, what to arrange,
// how to run baton, and the exit code it must return.
type failingPath struct {
	name string
	code int
	// errText is what the error must contain ("" for exit 0).
	errText string
	// run arranges the path and runs baton with extra arguments.
	run func(t *testing.T, a *inproc, args ...string) (string, string, int)
}

// failingPaths are a pass's paths: converged (0), a bad spec (1), the
// lock held (75), the daemon down (1), a node down (3) and, where the pass
// has one, a failed action (3).
func failingPaths(p passCase) []failingPath {
	paths := []failingPath{
		{name: "converged", code: 0, run: func(t *testing.T, a *inproc, args ...string) (string, string, int) {
			a.nodes(true, true)
			return a.run(args...)
		}},
		{name: "bad spec", code: 1, errText: "invalid spec", run: func(t *testing.T, a *inproc, args ...string) (string, string, int) {
			a.writeRaw("apps: [{name: web, replicas: -1}]\n")
			return a.run(args...)
		}},
		{name: "lock held", code: 75, errText: "state is locked", run: func(t *testing.T, a *inproc, args ...string) (string, string, int) {
			lock, err := state.Open(context.Background(), a.state, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Close()
			return a.run(args...)
		}},
		{name: "daemon down", code: 1, run: func(t *testing.T, a *inproc, args ...string) (string, string, int) {
			return a.runAt("unix://"+filepath.Join(a.dir, "gone.sock"), args...)
		}},
		{name: "node down", code: 3, errText: "node node2 is down: skipped; the rest of the pass was done", run: func(t *testing.T, a *inproc, args ...string) (string, string, int) {
			a.nodes(true, false)
			return a.run(args...)
		}},
	}
	if p.args[0] == "mods" {
		// mods refresh does not need Docker: a daemon that does not
		// answer is a warning (it cannot list the swarm's nodes).
		paths[3].code = 0
	}
	if p.fail != nil {
		paths = append(paths, failingPath{name: "failed action", code: 3, run: func(t *testing.T, a *inproc, args ...string) (string, string, int) {
			a.nodes(true, true)
			want := p.fail(t, a)
			out, errOut, code := a.run(args...)
			if !strings.Contains(out+errOut, want) {
				t.Errorf("the failure does not say %q:\n%s\n%s", want, out, errOut)
			}
			return out, errOut, code
		}})
	}
	return paths
}

// writeRaw writes the spec as given.
func (a *inproc) writeRaw(y string) {
	a.t.Helper()
	if err := os.WriteFile(a.spec, []byte(y), 0o644); err != nil {
		a.t.Fatal(err)
	}
}

// runAt runs baton with the real Docker client at host (the in-process
// harness's fake is not used).
func (a *inproc) runAt(host string, args ...string) (string, string, int) {
	a.t.Helper()
	var out, errOut strings.Builder
	env := &commands.Env{Stdout: &out, Stderr: &errOut, Clock: a.clock}
	code := commands.Run(context.Background(), env, append([]string{"baton", "--spec", a.spec, "--state", a.state, "--lock-timeout", "0s", "--docker-host", host}, args...))
	return out.String(), errOut.String(), code
}

// eachFailingPath runs every pass on each of its paths, in a fresh
// in-process baton, and checks the exit code; check sees the output.
func eachFailingPath(t *testing.T, extra []string, check func(t *testing.T, p passCase, fp failingPath, out, errOut string, code int)) {
	for _, p := range passCases(t) {
		for _, fp := range failingPaths(p) {
			t.Run(strings.Join(p.args, " ")+"/"+fp.name, func(t *testing.T) {
				a := newInproc(t)
				a.write(`"true"`, p.body)
				out, errOut, code := fp.run(t, a, append(extra, p.args...)...)
				if code != fp.code {
					t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, fp.code, out, errOut)
				}
				if fp.errText != "" && !strings.Contains(errOut+out, fp.errText) {
					t.Errorf("the error does not say %q:\n%s\n%s", fp.errText, out, errOut)
				}
				check(t, p, fp, out, errOut, code)
			})
		}
	}
}

// TestJSONOnEveryPassFailingPath: every pass subcommand, with -o json, on
// a bad spec, the lock held, the daemon down, a node down and a failed
// action prints exactly one JSON object (jq), whose exit_code is the exit
// status; a pass that ran carries its report too.
func TestJSONOnEveryPassFailingPath(t *testing.T) {
	eachFailingPath(t, []string{"-o", "json"}, func(t *testing.T, p passCase, fp failingPath, out, errOut string, code int) {
		if code == 0 {
			if e, raw := oneReport(t, out); raw["error"] != nil || e.ExitCode != nil {
				t.Errorf("exit 0 with error fields:\n%s", out)
			}
			return
		}
		e, raw := oneObject(t, out)
		if *e.ExitCode != code || e.Error == "" {
			t.Errorf("exit %d, object says %d: %q\n%s", code, *e.ExitCode, e.Error, out)
		}
		if string(raw["command"]) != strconv.Quote(strings.Join(p.args, " ")) {
			t.Errorf("command %s, want %q\n%s", raw["command"], strings.Join(p.args, " "), out)
		}
		if code == 3 && (raw["findings"] == nil || raw["dry_run"] == nil) {
			t.Errorf("a partly done pass's object lacks its report:\n%s", out)
		}
		if fp.name == "daemon down" && !strings.Contains(e.Error+strings.Join(e.Hints, " ")+errOut, "gone.sock") {
			t.Errorf("the daemon is not named:\n%s\n%s", out, errOut)
		}
	})
}

// oneReport checks with jq that out is exactly one JSON object, and
// decodes it (no error fields required).
func oneReport(t *testing.T, out string) (jsonError, map[string]any) {
	t.Helper()
	checkOneObject(t, out)
	var e jsonError
	var raw map[string]any
	if err := errors.Join(json.Unmarshal([]byte(out), &e), json.Unmarshal([]byte(out), &raw)); err != nil {
		t.Fatal(err)
	}
	return e, raw
}

// TestHelpListsEveryExitCodeObserved: every exit code a pass returns on
// the paths above is one its --help lists (the help's table cannot claim
// less than the code does).
func TestHelpListsEveryExitCodeObserved(t *testing.T) {
	seen := map[string][]int{}
	eachFailingPath(t, nil, func(t *testing.T, p passCase, fp failingPath, out, errOut string, code int) {
		k := strings.Join(p.args, " ")
		if !slices.Contains(seen[k], code) {
			seen[k] = append(seen[k], code)
		}
	})
	for _, cmd := range slices.Sorted(maps.Keys(seen)) {
		codes := seen[cmd]
		help, errOut, code := runApp(t, append(strings.Fields(cmd), "--help")...)
		if code != 0 {
			t.Fatalf("%s --help: exit %d: %s", cmd, code, errOut)
		}
		listed := exitCodes(help)
		for _, c := range codes {
			if !slices.Contains(listed, strconv.Itoa(c)) {
				t.Errorf("%s exited %d, but its help lists only %v", cmd, c, listed)
			}
		}
	}
}
