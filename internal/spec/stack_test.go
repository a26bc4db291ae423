package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestStackSpec loads the full web + worker + database example and checks
// what baton resolves from it.
func TestStackSpec(t *testing.T) {
	s, err := Load("../../testdata/specs/good/stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db, web, worker := s.App("db"), s.App("web"), s.App("worker")
	if db == nil || web == nil || worker == nil {
		t.Fatal("want apps db, web and worker")
	}
	dir := s.Dir
	checks := []struct {
		name      string
		got, want any
	}{
		{"the database's volume is named after the project", s.MountsOf(db), []Mount{{Type: "volume", Source: "shop_pgdata", Target: "/var/lib/postgresql/data", Volume: "pgdata"}}},
		{"a relative bind resolves against the spec's directory", s.MountsOf(web)[1], Mount{Type: "bind", Source: filepath.Join(dir, "stack/nginx-snippets"), Target: "/etc/shop/snippets", ReadOnly: true}},
		{"a fixed port keeps its address", s.PortsOf(db), []PortMap{{IP: "127.0.0.1", Host: 5432, Container: 5432, Proto: "tcp"}}},
		{"apps join the networks they list", s.NetworksOf(worker), []string{"backend"}},
		{"network names carry the project", s.NetworkName("default"), "shop_default"},
		{"env overrides the env file", db.Environment()["POSTGRES_PASSWORD"] + " " + db.Environment()["POSTGRES_DB"], "s3cret shop"},
		{"an env file's inline comment and export are dropped", web.Environment()["LOG_LEVEL"] + " " + web.Environment()["FEATURE_X"], "info on"},
		{"update order", db.Order() + " " + web.Order(), "stop-first start-first"},
		{"depends_on defaults to ready", worker.Dependencies(), []Dep{{"db", "ready"}, {"web", "started"}}},
		{"the database is exclusive because of its volume", s.Exclusive(db) != "", true},
		{"a shared volume is not exclusive", s.Exclusive(web), ""},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	driver, opts := worker.LogConfig()
	if driver != "local" || opts["max-size"] != "10m" || opts["max-file"] != "3" {
		t.Errorf("local driver without max-size: got %s %v, want the 10m×3 cap", driver, opts)
	}
	driver, opts = web.LogConfig()
	if driver != "json-file" || opts["max-size"] != "50m" || opts["max-file"] != "5" {
		t.Errorf("explicit log options: got %s %v", driver, opts)
	}
}

func TestLogCapIsTheDefault(t *testing.T) {
	a := &App{Name: "x", Image: "x"}
	driver, opts := a.LogConfig()
	if driver != "json-file" || !reflect.DeepEqual(opts, map[string]string{"max-size": "10m", "max-file": "3"}) {
		t.Errorf("got %s %v", driver, opts)
	}
	a.Logging = &Logging{Driver: "json-file", Options: map[string]string{"max-size": "-1"}}
	if _, opts := a.LogConfig(); !reflect.DeepEqual(opts, map[string]string{"max-size": "-1"}) {
		t.Errorf("an explicit max-size is kept as written, got %v", opts)
	}
	a.Logging = &Logging{Driver: "journald"}
	if driver, opts := a.LogConfig(); driver != "journald" || len(opts) != 0 {
		t.Errorf("another driver gets no json-file options, got %s %v", driver, opts)
	}
}

// TestStackHash: what changes a container rolls it; how it is replaced
// and when it starts do not.
func TestStackHash(t *testing.T) {
	base := `
project: p
volumes: {data: {}, other: {}}
networks: {default: {}, side: {}}
apps:
  - name: db
    image: db:1
    port: 5432
    update: {order: stop-first}
    volumes: ["data:/data"]
    ports: ["127.0.0.1:5432:5432"]
  - name: web
    image: web:1
`
	hashOf := func(t *testing.T, y string) string {
		t.Helper()
		s, err := Parse(filepath.Join(t.TempDir(), "s.yaml"), []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return s.HashOf(s.App("db"))
	}
	h := hashOf(t, base)
	cases := []struct {
		name  string
		from  string
		to    string
		rolls bool
	}{
		{"another volume rolls", `"data:/data"`, `"other:/data"`, true},
		{"a read-only mount rolls", `"data:/data"`, `"data:/data:ro"`, true},
		{"another host port rolls", `"127.0.0.1:5432:5432"`, `"127.0.0.1:5433:5432"`, true},
		{"the update order does not roll", `order: stop-first}`, `order: stop-first}
    depends_on: {web: {}}`, false},
		{"a log option rolls", `port: 5432`, `port: 5432
    logging: {options: {max-size: 1m}}`, true},
		{"another network rolls", `port: 5432`, `port: 5432
    networks: [side]`, true},
		{"a user rolls", `port: 5432`, `port: 5432
    user: "999"`, true},
		{"a restart policy rolls", `port: 5432`, `port: 5432
    restart: always`, true},
		{"another project renames the volume and rolls", "project: p", "project: q", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(base, c.from) {
				t.Fatalf("base has no %q", c.from)
			}
			if got := hashOf(t, strings.Replace(base, c.from, c.to, 1)) != h; got != c.rolls {
				t.Errorf("hash changed: %v, want %v", got, c.rolls)
			}
		})
	}
	swarm := &App{Name: "s", Image: "x", Engine: "swarm"}
	plain := &App{Name: "s", Image: "x", Engine: "docker"}
	if swarm.Hash("") == plain.Hash("") {
		t.Error("a docker app's hash carries its log settings, a swarm app's none")
	}
}

func TestEnvFileChangeRolls(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "s.yaml")
	y := []byte("apps:\n  - {name: web, image: web:1, env_file: [web.env]}\n")
	hash := func(content string) string {
		if err := os.WriteFile(filepath.Join(dir, "web.env"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Parse(spec, y)
		if err != nil {
			t.Fatal(err)
		}
		return s.HashOf(s.App("web"))
	}
	if hash("A=1\n") == hash("A=2\n") {
		t.Error("a changed env file must roll the app")
	}
	if hash("A=1\n") != hash("# comment\nA=1\n\n") {
		t.Error("comments and blank lines in an env file must not roll the app")
	}
}

func TestParsePort(t *testing.T) {
	good := map[string]PortMap{
		"5432:5432":           {Host: 5432, Container: 5432, Proto: "tcp"},
		"127.0.0.1:8443:443":  {IP: "127.0.0.1", Host: 8443, Container: 443, Proto: "tcp"},
		"0.0.0.0:53:53/udp":   {IP: "0.0.0.0", Host: 53, Container: 53, Proto: "udp"},
		"[::1]:5432:5432/tcp": {IP: "::1", Host: 5432, Container: 5432, Proto: "tcp"},
	}
	for in, want := range good {
		if got, err := ParsePort(in); err != nil || got != want {
			t.Errorf("%q: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"5432", "8000-8010:8000-8010", "1.2.3:80:80", "0:80", "80:70000", "80:80/sctp", "[1.2.3.4]:80:80", "a:b:c:d"} {
		if _, err := ParsePort(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestParseEnvFile(t *testing.T) {
	env, err := parseEnvFile([]byte("# c\n\nA=1\nexport B = two words # note\nC=\"x\\ny # kept\"\nD='$literal'\nE=\n"))
	want := map[string]string{"A": "1", "B": "two words", "C": "x\ny # kept", "D": "$literal", "E": ""}
	if err != nil || !reflect.DeepEqual(env, want) {
		t.Errorf("got %v, %v; want %v", env, err, want)
	}
	for _, bad := range []string{"NOVALUE\n", "1BAD=x\n", "A B=c\n"} {
		if _, err := parseEnvFile([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// TestStackRefusals: combinations that cannot work, and inputs that look
// harmless but are not, are refused with a reason.
func TestStackRefusals(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "inside"), filepath.Join(dir, "link-in")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "reserved.env"), []byte("BATON_APP=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		yaml string
		want string // a substring of the one problem; empty: accepted
	}{
		{"a bind mount leaving the spec's directory by .. is refused",
			`apps: [{name: a, image: x, volumes: ["../etc:/etc/x"]}]`, "leaves the spec's directory"},
		{"a bind mount through a symlink out of the spec's directory is refused",
			`apps: [{name: a, image: x, volumes: ["./escape:/x"]}]`, "is a symlink to"},
		{"a symlink that stays inside the spec's directory is accepted",
			`apps: [{name: a, image: x, volumes: ["./link-in:/x"]}]`, ""},
		{"an absolute bind source is taken as written",
			`apps: [{name: a, image: x, volumes: ["/srv/data:/x:ro"]}]`, ""},
		{"a ~ path is refused: cron's HOME is not the user's",
			`apps: [{name: a, image: x, volumes: ["~/data:/x"]}]`, "~ is not expanded"},
		{"a volume key with odd characters is refused",
			`volumes: {"pg data;rm": {}}
apps: [{name: a, image: x}]`, "invalid volume key"},
		{"a volume name override with odd characters is refused",
			`volumes: {pg: {name: "../x"}}
apps: [{name: a, image: x}]`, "invalid volume name"},
		{"an undeclared volume is refused",
			`apps: [{name: a, image: x, volumes: ["pgdata:/x"]}]`, `no volume "pgdata"`},
		{"a mode other than ro or rw is refused",
			`volumes: {v: {}}
apps: [{name: a, image: x, update: {order: stop-first}, volumes: ["v:/x:z"]}]`, "invalid mode"},
		{"two mounts on one container path are refused",
			`apps: [{name: a, image: x, volumes: ["/a:/x"], tmpfs: [/x]}]`, "already mounted"},
		{"two apps claiming one host port are refused",
			`apps:
  - {name: a, image: x, update: {order: stop-first}, ports: ["8080:80"]}
  - {name: b, image: x, update: {order: stop-first}, ports: ["127.0.0.1:8080:81"]}`, "already claimed by app \"a\""},
		{"all addresses overlap a specific one",
			`apps:
  - {name: a, image: x, update: {order: stop-first}, ports: ["10.0.0.1:8080:80"]}
  - {name: b, image: x, update: {order: stop-first}, ports: ["0.0.0.0:8080:80"]}`, "already claimed"},
		{"the same host port on two addresses is accepted",
			`apps:
  - {name: a, image: x, update: {order: stop-first}, ports: ["10.0.0.1:8080:80"]}
  - {name: b, image: x, update: {order: stop-first}, ports: ["10.0.0.2:8080:80"]}`, ""},
		{"tcp and udp on one host port are accepted",
			`apps:
  - {name: a, image: x, update: {order: stop-first}, ports: ["53:53/udp"]}
  - {name: b, image: x, update: {order: stop-first}, ports: ["53:53"]}`, ""},
		{"an app port on the balancer's listen address is refused",
			`nginx: {config: c, test: [t], reload: [r], listen: "127.0.0.1:8080"}
apps: [{name: a, image: x, update: {order: stop-first}, ports: ["8080:80"]}]`, "nginx.listen: 127.0.0.1:8080 is also claimed"},
		{"start-first with a fixed host port is refused, suggesting stop-first",
			`apps: [{name: a, image: x, ports: ["5432:5432"]}]`, "set update: {order: stop-first}"},
		{"start-first with an exclusive volume is refused",
			`volumes: {pg: {}}
apps: [{name: a, image: x, volumes: ["pg:/data"]}]`, `volume "pg" is exclusive`},
		{"start-first with a shared volume is accepted",
			`volumes: {up: {shared: true}}
apps: [{name: a, image: x, replicas: 3, volumes: ["up:/data"]}]`, ""},
		{"start-first with a read-only named volume is accepted",
			`volumes: {conf: {}}
apps: [{name: a, image: x, replicas: 2, volumes: ["conf:/etc/x:ro"]}]`, ""},
		{"a fixed host port with two replicas is refused",
			`apps: [{name: a, image: x, replicas: 2, update: {order: stop-first}, ports: ["5432:5432"]}]`, "replicas must be 0 or 1"},
		{"an exclusive volume with autoscaling past one is refused",
			`volumes: {pg: {}}
apps: [{name: a, image: x, update: {order: stop-first}, volumes: ["pg:/d"], autoscale: {max: 3, targets: {cpu: 50%}}}]`, "autoscale max must be 1"},
		{"stop-first with several replicas and nothing exclusive is accepted",
			`apps: [{name: a, image: x, replicas: 3, update: {order: stop-first}}]`, ""},
		{"two writers on one exclusive volume are refused",
			`volumes: {pg: {}}
apps:
  - {name: a, image: x, update: {order: stop-first}, volumes: ["pg:/d"]}
  - {name: b, image: x, update: {order: stop-first}, volumes: ["pg:/d"]}`, `app "a" writes to it too`},
		{"a second reader of an exclusive volume is accepted",
			`volumes: {pg: {}}
apps:
  - {name: a, image: x, update: {order: stop-first}, volumes: ["pg:/d"]}
  - {name: b, image: x, volumes: ["pg:/d:ro"]}`, ""},
		{"an unknown update order is refused",
			`apps: [{name: a, image: x, update: {order: blue-green}}]`, "must be one of start-first, stop-first"},
		{"an undeclared network is refused",
			`apps: [{name: a, image: x, networks: [backend]}]`, `no network "backend"`},
		{"an external volume with a driver is refused",
			`volumes: {v: {external: true, driver: local}}
apps: [{name: a, image: x}]`, "an external volume exists already"},
		{"Docker's host network is refused: no names there",
			`networks: {h: {external: true, name: host}}
apps: [{name: a, image: x}]`, "predefined networks"},
		{"a dependency cycle is refused",
			`apps:
  - {name: a, image: x, depends_on: {b: {}}}
  - {name: b, image: x, depends_on: {c: {}}}
  - {name: c, image: x, depends_on: {a: {}}}`, "dependency cycle: a → b → c → a"},
		{"a dependency on an unknown app is refused",
			`apps: [{name: a, image: x, depends_on: {db: {}}}]`, `no app named "db"`},
		{"an unknown condition is refused",
			`apps:
  - {name: a, image: x, depends_on: {b: {condition: service_healthy}}}
  - {name: b, image: x}`, "must be one of ready, started"},
		{"a missing env file is refused",
			`apps: [{name: a, image: x, env_file: [nope.env]}]`, "read env file"},
		{"an env file setting a BATON_ variable is refused",
			`apps: [{name: a, image: x, env_file: [reserved.env]}]`, "reserved for baton"},
		{"a restart count is only for on-failure",
			`apps: [{name: a, image: x, restart: "always:3"}]`, "only on-failure takes a retry count"},
		{"on-failure with a count is accepted",
			`apps: [{name: a, image: x, restart: "on-failure:5"}]`, ""},
		{"an extra host needs an address",
			`apps: [{name: a, image: x, extra_hosts: ["db:not-an-ip"]}]`, "invalid address"},
		{"an extra host may point at the host gateway",
			`apps: [{name: a, image: x, extra_hosts: ["host.docker.internal:host-gateway", "v6=::1"]}]`, ""},
		{"a capability with odd characters is refused",
			`apps: [{name: a, image: x, cap_add: ["NET_ADMIN;x"]}]`, "invalid capability"},
		{"a user with a space is refused",
			`apps: [{name: a, image: x, user: "root --privileged"}]`, "invalid user"},
		{"a relative working directory is refused",
			`apps: [{name: a, image: x, working_dir: srv}]`, "must be an absolute path"},
		{"an app with a port only on internal networks is refused: nothing reaches it",
			`networks: {db: {internal: true}}
apps: [{name: a, image: x, port: 5432, networks: [db]}]`, "every network of the app is internal"},
		{"an app without a port only on internal networks is accepted",
			`networks: {db: {internal: true}}
apps: [{name: a, image: x, networks: [db]}]`, ""},
		{"an internal network beside another is accepted",
			`networks: {db: {internal: true}, default: {}}
apps: [{name: a, image: x, port: 5432, networks: [db, default]}]`, ""},
		{"a stack field on a swarm app is refused",
			`apps: [{name: a, image: x, engine: swarm, ports: ["80:80"]}]`, "not for a swarm app"},
		{"a swarm app does not wait for others: Swarm starts its tasks",
			`apps: [{name: a, image: x, engine: swarm, depends_on: {b: {}}}, {name: b, image: x}]`, "apps[0].depends_on: not for a swarm app"},
		{"an app may wait for a swarm app's tasks",
			`apps: [{name: a, image: x, depends_on: {b: {}}}, {name: b, image: x, engine: swarm}]`, ""},
		{"a null volume entry is the default volume",
			`volumes: {pg: }
apps: [{name: a, image: x, update: {order: stop-first}, volumes: ["pg:/d"]}]`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(filepath.Join(dir, "s.yaml"), []byte(c.yaml))
			if c.want == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("want a spec error containing %q, got %v", c.want, err)
			}
			if len(se.Problems) != 1 || !strings.Contains(se.Problems[0].String(), c.want) {
				t.Errorf("want one problem containing %q, got:\n%v", c.want, err)
			}
		})
	}
}
