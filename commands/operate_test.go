package commands_test

// Tests for operating baton: generated files kept in step with the app,
// scheduling files that systemd accepts, validate on every fixture, the
// spec's JSON Schema, textfile metrics that Prometheus parses, hooks.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/baton-orchestrator/baton/commands"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the generated files checked into the repository")

// The specs the scheduling examples are rendered from: a single host (the
// demo), and one where every pass has something to do.
var (
	demoSpec       = filepath.Join(testenv.Root(), "testdata", "demo", "baton.yaml")
	everythingSpec = filepath.Join(testenv.Root(), "testdata", "specs", "good", "everything.yaml")
)

// runApp runs the whole app in-process and returns stdout, stderr and the
// exit code.
func runApp(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &commands.Env{Stdout: &out, Stderr: &errOut}
	code := commands.Run(context.Background(), env, append([]string{"baton"}, args...))
	return out.String(), errOut.String(), code
}

// generated lists every checked-in file the app generates, with the
// arguments that print it.
func generated(t *testing.T) map[string][]string {
	files := map[string][]string{
		"completions/baton.bash":           {"completion", "bash"},
		"completions/_baton":               {"completion", "zsh"},
		"completions/baton.fish":           {"completion", "fish"},
		"docs/man/baton.1":                 {"man"},
		"docs/baton.schema.json":           {"validate", "--schema"},
		"docs/examples/crontab":            {"--spec", demoSpec, "--state", "/var/lib/baton/state.json", "schedule", "crontab", "--spec-path", "/etc/baton/baton.yaml"},
		"docs/examples/crontab-everything": {"--spec", everythingSpec, "--state", "/var/lib/baton/state.json", "schedule", "crontab", "--spec-path", "/etc/baton/baton.yaml"},
		"docs/examples/systemd/*":          {"--spec", demoSpec, "--state", "/var/lib/baton/state.json", "schedule", "systemd", "--spec-path", "/etc/baton/baton.yaml", "--out"},
	}
	return files
}

func TestGeneratedFilesAreUpToDate(t *testing.T) {
	root := testenv.Root()
	for rel, args := range generated(t) {
		t.Run(rel, func(t *testing.T) {
			if strings.HasSuffix(rel, "/*") {
				dir := t.TempDir()
				if _, errOut, code := runApp(t, append(args, dir)...); code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				want := filepath.Join(root, strings.TrimSuffix(rel, "/*"))
				compareDirs(t, dir, want)
				return
			}
			out, errOut, code := runApp(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			path := filepath.Join(root, rel)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run: go test ./commands -run TestGeneratedFilesAreUpToDate -update)", err)
			}
			if string(b) != out {
				t.Errorf("%s differs from what the app generates (run: go test ./commands -run TestGeneratedFilesAreUpToDate -update)", rel)
			}
		})
	}
}

func compareDirs(t *testing.T, got, want string) {
	t.Helper()
	entries, err := os.ReadDir(got)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		_ = os.RemoveAll(want)
		if err := os.MkdirAll(want, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		b, _ := os.ReadFile(filepath.Join(got, e.Name()))
		if *update {
			if err := os.WriteFile(filepath.Join(want, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		w, err := os.ReadFile(filepath.Join(want, e.Name()))
		if err != nil || !bytes.Equal(b, w) {
			t.Errorf("%s differs from what the app generates (%v)", filepath.Join(want, e.Name()), err)
		}
	}
	checked, _ := os.ReadDir(want)
	if len(checked) != len(names) {
		t.Errorf("%s has %d files, the app generates %d: %v", want, len(checked), len(names), names)
	}
}

// TestSystemdUnitsVerify renders the units (the same templates as the
// checked-in examples) for the built binary and runs systemd-analyze
// verify on them.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze := testenv.Tool(t, "systemd-analyze")
	bin := testenv.Baton(t)
	dir := t.TempDir()
	if _, errOut, code := runApp(t, "--spec", everythingSpec, "--state", "/var/lib/baton/state.json",
		"schedule", "systemd", "--bin", bin, "--out", dir, "--spec-path", "/etc/baton/baton.yaml"); code != 0 {
		t.Fatal(errOut)
	}
	units, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(units) < 6 {
		t.Fatalf("want a service and a timer per pass, got %v", units)
	}
	for _, u := range units {
		out, errOut, code := testenv.Run(t, dir, analyze, "verify", u)
		// verify prints warnings about the host (no /etc/baton, no
		// docker.service); only lines naming our unit file are ours.
		var ours []string
		for _, l := range strings.Split(out+errOut, "\n") {
			if strings.Contains(l, filepath.Base(u)) {
				ours = append(ours, l)
			}
		}
		if code != 0 || len(ours) > 0 {
			t.Errorf("systemd-analyze verify %s: exit %d\n%s", filepath.Base(u), code, strings.Join(ours, "\n")+out+errOut)
		}
		b, _ := os.ReadFile(u)
		if strings.HasSuffix(u, ".timer") && (!strings.Contains(string(b), "Persistent=true") || !strings.Contains(string(b), "RandomizedDelaySec=")) {
			t.Errorf("%s: a timer must be Persistent with a RandomizedDelaySec", u)
		}
		if strings.HasSuffix(u, ".service") && (!strings.Contains(string(b), "Type=oneshot") || !strings.Contains(string(b), "SuccessExitStatus=75")) {
			t.Errorf("%s: a service must be oneshot and treat 75 as success", u)
		}
	}
}

// TestCrontabRenders renders the crontab and checks every job line: five
// time fields, a user, and a baton command line that the app parses.
func TestCrontabRenders(t *testing.T) {
	out, errOut, code := runApp(t, "--spec", everythingSpec, "--state", "/var/lib/baton/state.json", "schedule", "crontab")
	if code != 0 {
		t.Fatal(errOut)
	}
	field := `(\*|\*/[0-9]+|[0-9,-]+)`
	job := regexp.MustCompile(`^` + strings.Repeat(field+` `, 5) + `root (/\S+/baton) (.*)$`)
	jobs := 0
	for _, line := range strings.Split(out, "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.Contains(line, "=") && !strings.Contains(line, "baton ") {
			continue
		}
		m := job.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("not a cron job line: %q", line)
			continue
		}
		jobs++
		args := strings.Fields(m[7])
		if _, errOut, code := runApp(t, append(args, "--help")...); code != 0 {
			t.Errorf("the app does not parse %q: %s", m[7], errOut)
		}
	}
	if jobs < 3 {
		t.Errorf("want a job per pass, got %d:\n%s", jobs, out)
	}
}

func TestValidateEveryFixture(t *testing.T) {
	root := testenv.Root()
	good, _ := filepath.Glob(filepath.Join(root, "testdata", "specs", "good", "*.yaml"))
	demo, _ := filepath.Glob(filepath.Join(root, "testdata", "demo", "*.yaml"))
	for _, f := range append(good, demo...) {
		if out, errOut, code := runApp(t, "--spec", f, "validate"); code != 0 || !strings.Contains(out, ": ok (") {
			t.Errorf("%s: exit %d\n%s%s", f, code, out, errOut)
		}
	}
	bad, _ := filepath.Glob(filepath.Join(root, "testdata", "specs", "bad", "*.yaml"))
	for _, f := range bad {
		b, _ := os.ReadFile(f)
		_, errOut, code := runApp(t, "--spec", f, "validate")
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", f, code)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if w, ok := strings.CutPrefix(line, "# want: "); ok && !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", f, w, errOut)
			}
		}
	}
}

// compiledSchema compiles the spec's JSON Schema with an independent
// validator, as an editor would use it.
func compiledSchema(t *testing.T) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	raw, err := spec.Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("baton.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("baton.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	return sch, tree
}

// asJSON reads a YAML file as the JSON an editor validates; ok is false
// when it is no JSON document at all (a YAML syntax error, a duplicate
// key, a value JSON cannot carry).
func asJSON(t *testing.T, path string) (any, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, false
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return nil, false
	}
	return out, true
}

// beyondSchema are the bad fixtures docs/spec.md lists as beyond what a
// JSON Schema can check: the `NAME.yaml` items of its "Beyond the JSON
// Schema" section.
func beyondSchema(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "docs", "spec.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Beyond the JSON Schema\n")
	if !ok {
		t.Fatal(`docs/spec.md has no "### Beyond the JSON Schema" section`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^- `([a-z0-9-]+\\.yaml)`").FindAllStringSubmatch(section, -1) {
		out[m[1]] = true
	}
	if len(out) == 0 {
		t.Fatal("the Beyond the JSON Schema section lists no fixture")
	}
	return out
}

// TestSchemaAgreesWithValidate (issue #18, acceptance 3): every good spec
// passes the schema; every bad-spec fixture is refused by validate and by
// the schema (with an independent validator), or docs/spec.md lists it as
// beyond JSON Schema; a listed one must really pass the schema (the list
// stays honest); and every property of the schema has a description.
func TestSchemaAgreesWithValidate(t *testing.T) {
	sch, tree := compiledSchema(t)
	root := testenv.Root()
	good, _ := filepath.Glob(filepath.Join(root, "testdata", "specs", "good", "*.yaml"))
	demo, _ := filepath.Glob(filepath.Join(root, "testdata", "demo", "*.yaml"))
	golden, _ := filepath.Glob(filepath.Join(root, "testdata", "compose", "golden", "*.yaml"))
	for _, f := range append(append(good, demo...), golden...) {
		v, ok := asJSON(t, f)
		if !ok {
			t.Errorf("%s: not JSON", f)
			continue
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("the schema refuses the good spec %s: %v", f, err)
		}
	}
	beyond := beyondSchema(t)
	bad, _ := filepath.Glob(filepath.Join(root, "testdata", "specs", "bad", "*.yaml"))
	if len(bad) < 20 {
		t.Fatalf("only %d bad fixtures", len(bad))
	}
	seen := map[string]bool{}
	for _, f := range bad {
		name := filepath.Base(f)
		seen[name] = true
		if _, errOut, code := runApp(t, "--spec", f, "validate"); code != 1 {
			t.Errorf("validate accepts %s: exit %d %s", name, code, errOut)
		}
		v, ok := asJSON(t, f)
		rejected := !ok || sch.Validate(v) != nil
		switch {
		case !rejected && !beyond[name]:
			t.Errorf("the schema accepts the bad spec %s, and docs/spec.md does not list it as beyond JSON Schema", name)
		case rejected && beyond[name]:
			t.Errorf("docs/spec.md lists %s as beyond JSON Schema, but the schema refuses it: take it off the list", name)
		}
	}
	for name := range beyond {
		if !seen[name] {
			t.Errorf("docs/spec.md lists %s, which is no bad fixture", name)
		}
	}
	// Every property is described: every type's schema (an object with
	// its properties and additionalProperties false; the partial schemas
	// of the if/then rules are not types).
	var walk func(path string, v any)
	described := 0
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if ps, ok := x["properties"].(map[string]any); ok && x["additionalProperties"] == false {
				for name, p := range ps {
					if d, _ := p.(map[string]any)["description"].(string); d == "" {
						t.Errorf("schema property %s/%s has no description", path, name)
					} else {
						described++
					}
				}
			}
			for k, c := range x {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s/%d", path, i), c)
			}
		}
	}
	walk("", tree)
	if described < 150 {
		t.Errorf("only %d described properties", described)
	}
	// The cases of issue #18 by name, each refused.
	for _, y := range []string{
		"apps: [{name: web, image: \"x:1\", replicas: -1}]",
		"apps: [{name: web}]",
		"nginx: {config: c, test: [t], reload: [r], listen: \"localhost:80; evil\"}",
		"mods: {dir: /m, files: [{url: \"http://127.0.0.1/x\", dest: a/../../x}]}",
		"apps: [{name: web, image: \"x:1\", env: {BATON_APP: x}}]",
		"apps: [{name: web, image: \"x:1\", labels: {baton.app: x}}]",
		"projcet: x",
	} {
		var v any
		if err := yaml.Unmarshal([]byte(y), &v); err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(v)
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err := sch.Validate(inst); err == nil {
			t.Errorf("the schema accepts %s", y)
		}
	}
}

// TestMetricsParseWithThePrometheusParser runs real passes with
// --metrics-dir and parses the textfiles with Prometheus' own parser.
func TestMetricsParseWithThePrometheusParser(t *testing.T) {
	e := newE2E(t)
	metrics := t.TempDir()
	e.writeSpec(2, "baton-test:v1", "")
	e.mustBaton(0, "--metrics-dir", metrics, "scale")
	e.mustBaton(0, "--metrics-dir", metrics, "lb", "render")
	// A failing pass keeps the last success time and records its exit code.
	e.host = "unix://" + filepath.Join(e.dir, "gone.sock")
	e.baton("--metrics-dir", metrics, "scale")
	e.host = ""

	files, _ := filepath.Glob(filepath.Join(metrics, "*"))
	sort.Strings(files)
	if len(files) != 2 || filepath.Base(files[0]) != "baton_lb_render.prom" || filepath.Base(files[1]) != "baton_scale.prom" {
		t.Fatalf("metrics files: %v (no temporary files may be left)", files)
	}
	b, _ := os.ReadFile(files[1])
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Prometheus parser: %v\n%s", err, b)
	}
	value := func(name string) float64 {
		f := families[name]
		if f == nil || len(f.Metric) == 0 {
			t.Fatalf("no %s in\n%s", name, b)
		}
		return f.Metric[0].GetGauge().GetValue()
	}
	if value("baton_pass_exit_code") != 1 {
		t.Errorf("exit code of the failing pass not recorded:\n%s", b)
	}
	if value("baton_last_success_timestamp_seconds") < 1.7e9 {
		t.Errorf("last success lost by the failing pass:\n%s", b)
	}
	lb, _ := os.ReadFile(files[0])
	families, err = parser.TextToMetricFamilies(bytes.NewReader(lb))
	if err != nil {
		t.Fatal(err)
	}
	if f := families["baton_app_replicas_ready"]; f == nil || f.Metric[0].GetGauge().GetValue() != 2 {
		t.Errorf("ready replicas not 2:\n%s", lb)
	}
}

// TestHooksDeliverEventsAndNeverHoldAPass runs scale with two webhooks on
// 127.0.0.1: one records the events, one never answers. The events arrive
// with the documented fields; the hanging one costs at most its timeout
// and a warning, never the pass's exit code.
func TestHooksDeliverEventsAndNeverHoldAPass(t *testing.T) {
	e := newE2E(t)
	var mu sync.Mutex
	var got []map[string]any
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		_ = json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	}))
	defer rec.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer func() { close(release); hang.Close() }()

	e.writeSpec(2, "baton-test:v1", "")
	b, _ := os.ReadFile(e.spec)
	hooks := "hooks:\n  - {url: " + rec.URL + "}\n  - {url: " + hang.URL + ", timeout: 1s}\n"
	if err := os.WriteFile(e.spec, append([]byte(hooks), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := e.baton("scale")
	if code != 0 {
		t.Fatalf("a hook failure must not fail the pass: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "baton: warning: hook: hooks[1]") || !strings.Contains(errOut, "deadline exceeded") {
		t.Errorf("the hanging hook's timeout is not reported:\n%s", errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("want 2 start events, got %d: %v", len(got), got)
	}
	for _, ev := range got {
		for _, f := range []string{"time", "command", "type", "app", "target", "container", "reason"} {
			if ev[f] == nil || ev[f] == "" {
				t.Errorf("event lacks %q: %v", f, ev)
			}
		}
		if ev["type"] != "start" || ev["command"] != "scale" {
			t.Errorf("event %v", ev)
		}
	}
}

// TestEveryCommandHasItsPage keeps docs/commands/ in step with the app.
func TestEveryCommandHasItsPage(t *testing.T) {
	app := commands.NewApp(&commands.Env{})
	var walk func(prefix string, cs []*cli.Command)
	walk = func(prefix string, cs []*cli.Command) {
		for _, c := range cs {
			if c.Hidden || c.Name == "help" {
				continue
			}
			name := strings.TrimPrefix(prefix+"-"+c.Name, "-")
			if len(c.Subcommands) > 0 && name != "schedule" {
				walk(name, c.Subcommands)
				continue
			}
			if _, err := os.Stat(filepath.Join(testenv.Root(), "docs", "commands", name+".md")); err != nil {
				t.Errorf("no docs/commands/%s.md", name)
			}
		}
	}
	walk("", app.Commands)
}

// TestScheduleCoversEveryPass: every pass subcommand is in the crontab
// of a spec that configures everything, so scheduling never misses one.
func TestScheduleCoversEveryPass(t *testing.T) {
	out, errOut, code := runApp(t, "--spec", everythingSpec, "schedule", "crontab")
	if code != 0 {
		t.Fatal(errOut)
	}
	app := commands.NewApp(&commands.Env{})
	n := 0
	for _, c := range app.Commands {
		if c.Category != "passes" {
			continue
		}
		names := []string{c.Name}
		if len(c.Subcommands) > 0 {
			names = nil
			for _, s := range c.Subcommands {
				if s.Name != "help" {
					names = append(names, c.Name+" "+s.Name)
				}
			}
		}
		for _, name := range names {
			n++
			if !strings.Contains(out, " "+name+"\n") && !strings.Contains(out, " "+name+" --") {
				t.Errorf("pass %q is not scheduled in the crontab", name)
			}
		}
	}
	if n < 3 {
		t.Errorf("only %d passes found", n)
	}
}

// TestScheduleFollowsGCGraceAndSpreadsTimers: gc runs every hour, or
// every gc.grace when shorter (grace 0s too), at least every 5 minutes;
// every systemd timer but heal's (its --for fills the minute) has a
// RandomizedDelaySec, at most a quarter of its interval.
func TestScheduleFollowsGCGraceAndSpreadsTimers(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "baton.yaml")
	if err := os.WriteFile(spec, []byte("project: p\ngc: {grace: 0s}\napps: [{name: web, image: \"web:1\"}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runApp(t, "--spec", spec, "schedule", "crontab")
	if code != 0 || !strings.Contains(out, "*/5 * * * * root") || !regexp.MustCompile(`\*/5 \* \* \* \* root .* gc\n`).MatchString(out) {
		t.Errorf("gc with grace 0s is not every 5 minutes: exit %d\n%s%s", code, out, errOut)
	}
	units := filepath.Join(dir, "units")
	if _, errOut, code := runApp(t, "--spec", spec, "schedule", "systemd", "--out", units); code != 0 {
		t.Fatal(errOut)
	}
	timers, _ := filepath.Glob(filepath.Join(units, "*.timer"))
	if len(timers) < 3 {
		t.Fatalf("timers: %v", timers)
	}
	for _, f := range timers {
		b, _ := os.ReadFile(f)
		zero := strings.Contains(string(b), "RandomizedDelaySec=0\n")
		if heal := strings.Contains(f, "heal"); zero != heal {
			t.Errorf("%s: RandomizedDelaySec=0 is %v\n%s", filepath.Base(f), zero, b)
		}
	}
}
