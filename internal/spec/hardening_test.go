package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// problems parses yaml as dir/baton.yaml and returns the error text, or
// "" when the spec is accepted.
func problems(t *testing.T, dir, yaml string) string {
	t.Helper()
	_, err := Parse(filepath.Join(dir, "baton.yaml"), []byte(yaml))
	if err == nil {
		return ""
	}
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("not a spec error: %v", err)
	}
	return err.Error()
}

func mustParse(t *testing.T, path, yaml string) *Spec {
	t.Helper()
	s, err := Parse(path, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const app = "apps:\n  - name: web\n    image: web:1\n"

// TestDuplicateKeysAreProblems: a key written twice is a problem at the
// second, naming the first (YAML keeps the last: replicas 2 then 400
// planned 400 starts) — in structs, in maps, at any depth.
func TestDuplicateKeysAreProblems(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{app + "    replicas: 2\n    replicas: 400\n", `baton.yaml:5:5: apps[0].replicas: duplicate key "replicas" (first at line 4, column 5)`},
		{app + "    env: {A: x, B: y, A: z}\n", `baton.yaml:4:23: apps[0].env.A: duplicate key "A" (first at line 4, column 11)`},
		{"project: a\nproject: b\n" + app, `baton.yaml:2:1: project: duplicate key "project" (first at line 1, column 1)`},
		{app + "    health: {type: tcp, type: http}\n    port: 80\n", `baton.yaml:4:25: apps[0].health.type: duplicate key "type"`},
		{app + "    labels:\n      team: a\n      team: b\n", `baton.yaml:6:7: apps[0].labels.team: duplicate key "team"`},
		{app + "apps: []\n", `baton.yaml:4:1: apps: duplicate key "apps" (first at line 1, column 1)`},
	} {
		if got := problems(t, "/d", c.yaml); !strings.Contains(got, c.want) {
			t.Errorf("%q:\n got %s\nwant %s", c.yaml, got, c.want)
		}
	}
}

// TestNumbersThatSlipThrough: NaN, infinities and a CPU that rounds to 0
// (no limit at all) are problems.
func TestNumbersThatSlipThrough(t *testing.T) {
	auto := "apps:\n  - name: web\n    image: web:1\n    port: 80\n    lb: {}\n    resources: {memory: 64m}\n    autoscale: {min: 1, max: 3, "
	nginx := "}\nnginx: {config: /x/b.conf, test: [true], reload: [true], listen: \"127.0.0.1:80\"}\n"
	for _, c := range []struct{ yaml, field string }{
		{app + "    resources: {cpu: NaN}\n", "apps[0].resources.cpu"},
		{app + "    resources: {cpu: nan}\n", "apps[0].resources.cpu"},
		{app + "    resources: {cpu: \"0.0001\"}\n", "apps[0].resources.cpu"},
		{app + "    resources: {cpu: \"1e-9\"}\n", "apps[0].resources.cpu"},
		{app + "    resources: {cpu: \"0.0004\"}\n", "apps[0].resources.cpu"},
		{app + "    resources: {memory: nan}\n", "apps[0].resources.memory"},
		{auto + "targets: {memory: nan}" + nginx, "apps[0].autoscale.targets.memory"},
		{auto + "targets: {cpu: NaN%}" + nginx, "apps[0].autoscale.targets.cpu"},
		{auto + "targets: {cpu: 50%}, tolerance: .nan" + nginx, "apps[0].autoscale.tolerance"},
		{auto + "targets: {cpu: 50%}, tolerance: -.inf" + nginx, "apps[0].autoscale.tolerance"},
		{auto + "targets: {rps: .inf}" + nginx, "apps[0].autoscale.targets.rps"},
		{auto + "targets: {rps: 1e999}" + nginx, "apps[0].autoscale.targets.rps"},
	} {
		if got := problems(t, "/d", c.yaml); !strings.Contains(got, c.field+":") {
			t.Errorf("%q: want a problem at %s, got %q", c.yaml, c.field, got)
		}
	}
	if got := problems(t, "/d", app+"    resources: {cpu: \"0.0005\"}\n"); got != "" {
		t.Errorf("0.0005 rounds to 1m, a real limit: %s", got)
	}
	if got := problems(t, "/d", app+"    resources: {cpu: NaN}\n"); !strings.Contains(got, `invalid cpu "NaN"`) {
		t.Errorf("got %s", got)
	}
	if got := problems(t, "/d", auto+"targets: {cpu: 50%}, tolerance: .nan"+nginx); !strings.Contains(got, "must be a finite number") {
		t.Errorf("got %s", got)
	}
}

// TestExplicitZerosAreKept: a field written as 0 is not replaced by the
// default; where 0 means nothing it is a problem instead.
func TestExplicitZerosAreKept(t *testing.T) {
	s := mustParse(t, "/d/baton.yaml", "mods:\n  dir: c\n  retries: 0\n  interval: 0s\n  files:\n    - {url: \"http://127.0.0.1/a\", dest: a, interval: 0s}\n    - {url: \"http://127.0.0.1/b\", dest: b}\n"+
		"swarm:\n  rebalance: {max_moves: 0, max_moves_per_node: 0}\n")
	m := s.Mods
	if m.Retries != 0 || m.Interval.D != 0 || m.Files[0].Interval.D != 0 || m.Files[1].Interval.D != 0 {
		t.Errorf("explicit zeros replaced: retries %d interval %s files %s %s", m.Retries, m.Interval.D, m.Files[0].Interval.D, m.Files[1].Interval.D)
	}
	if r := s.Swarm.Rebalance; r.MaxMoves != 0 || r.MaxMovesPerNode != 0 {
		t.Errorf("rebalance zeros replaced: %d %d", r.MaxMoves, r.MaxMovesPerNode)
	}
	d := mustParse(t, "/d/baton.yaml", "mods:\n  dir: c\n  files:\n    - {url: \"http://127.0.0.1/a\", dest: a}\nswarm:\n  rebalance: {}\n")
	if d.Mods.Retries != 3 || d.Mods.Interval.D != 12*time.Hour || d.Mods.Files[0].Interval.D != 12*time.Hour || d.Mods.Parallel != 4 || d.Swarm.Rebalance.MaxMoves != 5 {
		t.Errorf("absent fields lost their defaults: %+v %+v", d.Mods, d.Swarm.Rebalance)
	}
	null := mustParse(t, "/d/baton.yaml", "mods:\n  dir: c\n  retries: null\n")
	if null.Mods.Retries != 3 {
		t.Errorf("an explicit null is absent: retries %d", null.Mods.Retries)
	}
	for _, c := range []struct{ yaml, field string }{
		{"mods: {dir: c, parallel: 0}\n", "mods.parallel"},
		{"mods: {dir: c, max_size: 0}\n", "mods.max_size"},
		{"mods: {dir: c, timeout: 0s}\n", "mods.timeout"},
		{"hooks:\n  - {command: [true], timeout: 0s}\n", "hooks[0].timeout"},
		{app + "    health: {ready_timeout: 0s}\n", "apps[0].health.ready_timeout"},
		{app + "    health: {failure_threshold: 0}\n", "apps[0].health.failure_threshold"},
		{app + "    health: {success_threshold: 0}\n", "apps[0].health.success_threshold"},
		{app + "    health: {crashloop_attempts: 0}\n", "apps[0].health.crashloop_attempts"},
		{app + "    health: {crashloop_window: 0s}\n", "apps[0].health.crashloop_window"},
		{app + "    health: {backoff_max: 1s}\n", "apps[0].health.backoff_max"},
		{app + "    autoscale: {min: 1, max: 2, external: {command: [x], timeout: 0s}}\n", "apps[0].autoscale.external.timeout"},
		{app + "    autoscale: {min: 1, max: 2, external: {command: [x]}, scale_up: {max_step: 0}}\n", "apps[0].autoscale.scale_up"},
	} {
		if got := problems(t, "/d", c.yaml); !strings.Contains(got, c.field+":") {
			t.Errorf("%q: want a problem at %s, got %q", c.yaml, c.field, got)
		}
	}
	if got := problems(t, "/d", app+"    health: {backoff: 0s, backoff_max: 0s}\n"); got != "" {
		t.Errorf("backoff 0s with backoff_max 0s is no backoff at all: %s", got)
	}
}

// TestPathsResolveAgainstTheSpecsDirectory: every relative path field is
// absolute after loading, against the spec's directory whatever the
// working directory (mods.dir used to land under the working directory).
func TestPathsResolveAgainstTheSpecsDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"web.env", "tpl.tmpl"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("A=b\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yaml := `nginx:
  config: conf/baton.conf
  template: tpl.tmpl
  access_log: logs/access.log
  test: [./test.sh, -q, ./x]
  reload: [nginx, -s, reload]
  listen: 127.0.0.1:8080
  listen_tls: 127.0.0.1:8443
mods: {dir: cache}
hooks:
  - command: [bin/notify, ./arg]
apps:
  - name: web
    image: web:1
    port: 8080
    env_file: [web.env]
    lb: {host: a.example.com, tls: {cert: certs/a.crt, key: certs/a.key}}
    autoscale: {min: 1, max: 2, external: {command: [./scaler]}}
`
	t.Chdir(t.TempDir()) // somewhere else
	s := mustParse(t, filepath.Join(dir, "baton.yaml"), yaml)
	a := s.Apps[0]
	for _, c := range [][2]string{
		{s.Nginx.Config, filepath.Join(dir, "conf/baton.conf")},
		{s.Nginx.Template, filepath.Join(dir, "tpl.tmpl")},
		{s.Nginx.AccessLog, filepath.Join(dir, "logs/access.log")},
		{s.Nginx.Test[0], filepath.Join(dir, "test.sh")},
		{s.Nginx.Test[2], "./x"}, // an argument: the command runs in the spec's directory
		{s.Nginx.Reload[0], "nginx"},
		{s.Mods.Dir, filepath.Join(dir, "cache")},
		{s.Hooks[0].Command[0], filepath.Join(dir, "bin/notify")},
		{a.EnvFile[0], filepath.Join(dir, "web.env")},
		{a.LB.TLS.Cert, filepath.Join(dir, "certs/a.crt")},
		{a.LB.TLS.Key, filepath.Join(dir, "certs/a.key")},
		{a.Autoscale.External.Command[0], filepath.Join(dir, "scaler")},
	} {
		if got, want := c[0], c[1]; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	// A relative spec path resolves against the working directory once,
	// at load: the spec's own directory then anchors everything.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	r := mustParse(t, "sub/baton.yaml", "mods: {dir: cache}\n")
	if r.Mods.Dir != filepath.Join(sub, "cache") {
		t.Errorf("got %q", r.Mods.Dir)
	}
}

// TestValidateCatchesWhatRenderOrNginxRejects: control characters and
// invalid UTF-8 in paths, invalid UTF-8 or control characters in the file
// (with line:column), a port nginx refuses.
func TestValidateCatchesWhatRenderOrNginxRejects(t *testing.T) {
	nginx := func(kv string) string {
		return "nginx:\n  config: /x/baton.conf\n  test: [true]\n  reload: [true]\n  listen: 127.0.0.1:8080\n  " + kv + "\n"
	}
	for _, c := range []struct{ yaml, want string }{
		{strings.Replace(nginx("kind: nginx"), "/x/baton.conf", "\"/x/baton.conf\\r\"", 1), "nginx.config: invalid file path"},
		{nginx("template: \"/x/t\\x01.tmpl\""), "nginx.template: invalid file path"},
		{nginx("access_log: \"/x/a\\rb.log\""), "nginx.access_log:"},
		{strings.Replace(nginx("kind: nginx"), "127.0.0.1:8080", "\"127.0.0.1:+80\"", 1), "nginx.listen:"},
		{"mods: {dir: \"/x/c\\u0085\"}\n", "mods.dir: invalid directory"},
		{"mods:\n  dir: /c\n  files:\n    - {url: \"http://127.0.0.1/a\", dest: \"a\\tb\"}\n", "mods.files[0].dest: invalid characters"},
		{"mods:\n  dir: /c\n  files:\n    - {url: \"http://127.0.0.1/a\", dest: a.jar}\n    - {url: \"http://127.0.0.1/b\", dest: .a.jar123}\n", "mods.files[1].dest: \".a.jar123\" is named like a temporary file"},
		{"project: ok\napps:\n  - name: w\xffb\n", "baton.yaml:3:12: invalid UTF-8 (byte 0xff)"},
		{"project: ok\n# caf\xc3\xa9 \x01\n", "baton.yaml:2:8: control character U+0001"},
		{"project: \"\x7f\"\n", "baton.yaml:1:11: control character U+007F"},
	} {
		if got := problems(t, "/d", c.yaml); !strings.Contains(got, c.want) {
			t.Errorf("%q:\n got %s\nwant %s", c.yaml, got, c.want)
		}
	}
}

// TestNoFileWrittenOverAnother: nginx.config (or a mod) that is the spec
// itself, the template, the access log, another output, or (through
// CheckStatePath) one of the state's files, is refused with the field's
// position. The render used to overwrite the spec.
func TestNoFileWrittenOverAnother(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "baton.yaml")
	nginx := func(config, extra string) string {
		return "nginx:\n  config: " + config + "\n  test: [true]\n  reload: [true]\n  listen: 127.0.0.1:8080\n" + extra
	}
	if err := os.WriteFile(filepath.Join(dir, "t.tmpl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "t.tmpl"), filepath.Join(dir, "hard.conf")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ yaml, want string }{
		{nginx("baton.yaml", ""), "baton.yaml:2:11: nginx.config: baton writes " + spec + " here, which is the spec file itself"},
		{nginx("./baton.yaml", ""), "which is the spec file itself"},
		{nginx(spec, ""), "which is the spec file itself"},
		{nginx("t.tmpl", "  template: t.tmpl\n"), "which is also nginx.template"},
		{nginx("hard.conf", "  template: t.tmpl\n"), "which is also nginx.template"},
		{nginx("a.log", "  access_log: a.log\n"), "which is also nginx.access_log"},
		{nginx("/c/m.conf", "mods:\n  dir: /c\n  files:\n    - {url: \"http://127.0.0.1/a\", dest: m.conf}\n"), "which is also mods.files[0].dest"},
		{"mods:\n  dir: .\n  files:\n    - {url: \"http://127.0.0.1/a\", dest: baton.yaml}\n", "mods.files[0].dest: baton writes " + spec + " here, which is the spec file itself"},
	} {
		_, err := Parse(spec, []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %s", c.yaml, err, c.want)
		}
	}
	s := mustParse(t, spec, nginx("conf/baton.conf", "  template: t.tmpl\n"))
	if err := s.CheckStatePath(filepath.Join(dir, "state.json")); err != nil {
		t.Errorf("a state of its own: %v", err)
	}
	for _, c := range []struct{ state, want string }{
		{filepath.Join(dir, "conf/baton.conf"), "baton.yaml:2:11: nginx.config:"},
		{spec, "the state's own files"},
		{filepath.Join(dir, "t.tmpl"), "nginx.template:"},
	} {
		err := s.CheckStatePath(c.state)
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("state %s: want a spec problem with %q, got %v", c.state, c.want, err)
		}
	}
	// The state's lock and event log count too.
	l := mustParse(t, spec, nginx("s.json.lock", ""))
	if err := l.CheckStatePath(filepath.Join(dir, "s.json")); err == nil || !strings.Contains(err.Error(), "s.json.lock") {
		t.Errorf("config at the lock file: got %v", err)
	}
	e := mustParse(t, spec, nginx("s.events.jsonl", ""))
	if err := e.CheckStatePath(filepath.Join(dir, "s.json")); err == nil {
		t.Error("config at the event log: accepted")
	}
}
