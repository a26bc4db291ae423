package plan

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// TestWantFromTheStackExample builds the containers of the full stack
// example and checks what each gets.
func TestWantFromTheStackExample(t *testing.T) {
	s, err := spec.Load("../../testdata/specs/good/stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := Want(s, s.App("db"), 0, "x")
	web := Want(s, s.App("web"), 2, "y")
	worker := Want(s, s.App("worker"), 1, "z")
	checks := []struct {
		name      string
		got, want any
	}{
		{"the database mounts its named volume", db.Mounts, []fleet.Mount{{Type: "volume", Name: "shop_pgdata", Target: "/var/lib/postgresql/data"}}},
		{"the database needs its volume to exist", db.NeedVolumes, []fleet.VolumeWant{{Name: "shop_pgdata", Key: "pgdata"}}},
		{"the database's fixed port", db.Ports, []fleet.PortBinding{{HostIP: "127.0.0.1", HostPort: 5432, ContainerPort: 5432, Proto: "tcp"}}},
		{"the database is reachable as db on the backend", db.Networks, []fleet.Attach{{Network: "shop_backend", Aliases: []string{"db"}}}},
		{"the backend network is the stack's", db.NeedNetworks, []fleet.NetworkWant{{Name: "shop_backend", Key: "backend"}}},
		{"a tmpfs with options", db.Tmpfs, map[string]string{"/run/postgresql": "size=16m"}},
		{"the restart policy", db.Restart + " " + db.StopSignal, "unless-stopped SIGINT"},
		{"env files and env merge, baton's variables added", strings.Join(db.Env, " "),
			"BATON_APP=db BATON_REPLICA=0 POSTGRES_DB=shop POSTGRES_PASSWORD=s3cret POSTGRES_USER=shop"},
		{"web joins both networks, as web", web.Networks, []fleet.Attach{{Network: "shop_default", Aliases: []string{"web"}}, {Network: "shop_backend", Aliases: []string{"web"}}}},
		{"a relative bind is absolute, read-only", web.Mounts[1], fleet.Mount{Type: "bind", Source: filepath.Join(s.Dir, "stack/nginx-snippets"), Target: "/etc/shop/snippets", ReadOnly: true}},
		{"explicit log options are kept", web.LogDriver + " " + web.LogOptions["max-size"] + " " + web.LogOptions["max-file"], "json-file 50m 5"},
		{"container options", []any{web.User, web.WorkingDir, web.ReadOnly, web.CapDrop, web.ExtraHosts}, []any{"1000:1000", "/srv", true, []string{"ALL"}, []string{"payments.internal:10.0.0.7"}}},
		{"no restart policy unless the spec sets one", web.Restart, ""},
		{"a local driver is capped by default", worker.LogDriver + " " + worker.LogOptions["max-size"] + " " + worker.LogOptions["max-file"], "local 10m 3"},
		{"the hash is the app's", db.Hash, s.HashOf(s.App("db"))},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s:\n got  %#v\n want %#v", c.name, c.got, c.want)
		}
	}
	if s.App("web").ExtraHosts[0] != "payments.internal:10.0.0.7" {
		t.Error("Want must not change the spec")
	}
}

func TestWantNormalizesExtraHostsWithoutTouchingTheSpec(t *testing.T) {
	s := testSpec(t, `apps: [{name: a, image: x, extra_hosts: ["db=10.0.0.1", "v6:::1"]}]`)
	w := Want(s, s.App("a"), 0, "x")
	if !reflect.DeepEqual(w.ExtraHosts, []string{"db:10.0.0.1", "v6:::1"}) || s.App("a").ExtraHosts[0] != "db=10.0.0.1" {
		t.Errorf("got %v, spec %v", w.ExtraHosts, s.App("a").ExtraHosts)
	}
}

const depSpec = `
apps:
  - {name: db, image: db:1}
  - {name: cache, image: cache:1}
  - {name: web, image: web:1, replicas: 2, depends_on: {db: {condition: ready}, cache: {condition: started}}}
  - {name: lone, image: lone:1}
`

func TestHoldForDependencies(t *testing.T) {
	s := testSpec(t, depSpec)
	webC := ctr("w0", 0, "old", 0)
	starts := []Action{
		{Kind: Start, App: "web", Replica: 0, Reason: "have 0 running replicas, want 2"},
		{Kind: Start, App: "web", Replica: 1, Reason: "have 0 running replicas, want 2"},
		{Kind: Start, App: "lone", Replica: 0, Reason: "have 0 running replicas, want 1"},
	}
	cases := []struct {
		name     string
		actions  []Action
		counts   map[string]Counts
		run      string
		held     string
		findings []string
	}{
		{"a dependent waits while its dependency has no ready replica, with one finding that says why",
			starts, map[string]Counts{"cache": {1, 0}},
			"start lone", "start web, start web", []string{"web: waits for db: no ready replica (depends_on condition ready)"}},
		{"a running but unready dependency is named as such",
			starts, map[string]Counts{"db": {1, 0}, "cache": {1, 1}},
			"start lone", "start web, start web", []string{"web: waits for db: 1 running, none ready (depends_on condition ready)"}},
		{"condition started needs only a running replica",
			starts, map[string]Counts{"db": {1, 1}, "cache": {1, 0}},
			"start web, start web, start lone", "", nil},
		{"condition started still waits for a first running replica",
			starts, map[string]Counts{"db": {1, 1}},
			"start lone", "start web, start web", []string{"web: waits for cache: no running replica (depends_on condition started)"}},
		{"a replacement waits too: it would restart a replica that cannot work",
			[]Action{{Kind: Replace, App: "web", Replica: 0, Old: &webC, Reason: "image web:v2 → web:1"}}, nil,
			"", "replace web", []string{"web: waits for cache: no running replica (depends_on condition started)"}},
		{"a removal never waits",
			[]Action{{Kind: Remove, App: "web", Replica: 3, Old: &webC, Reason: "have 4 running replicas, want 2"}}, nil,
			"remove web", "", nil},
	}
	name := func(as []Action) string {
		var out []string
		for _, a := range as {
			out = append(out, string(a.Kind)+" "+a.App)
		}
		return strings.Join(out, ", ")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run, held, findings := HoldForDependencies(s, c.actions, c.counts)
			if name(run) != c.run || name(held) != c.held {
				t.Errorf("run %q held %q, want run %q held %q", name(run), name(held), c.run, c.held)
			}
			var fs []string
			for _, f := range findings {
				if f.Type != "waiting" || f.Reason == "" {
					t.Errorf("finding without type or reason: %+v", f)
				}
				fs = append(fs, f.App+": "+f.Reason)
			}
			if !reflect.DeepEqual(fs, c.findings) {
				t.Errorf("findings %q, want %q", fs, c.findings)
			}
		})
	}
}

// TestAStackComesUpInOnePass: run what may run, count what started, run
// what was held.
func TestAStackComesUpInOnePass(t *testing.T) {
	s := testSpec(t, depSpec)
	actions := Scale(s, Desired(s, nil, nil), nil, nil)
	counts := CountReplicas(nil, nil)
	var order []string
	for wave := 0; len(actions) > 0 && wave < 5; wave++ {
		run, held, _ := HoldForDependencies(s, actions, counts)
		var started []fleet.Container
		for _, a := range run {
			order = append(order, a.App)
			started = append(started, fleet.Container{App: a.App, State: "running"})
		}
		counts = AddStarted(counts, started)
		actions = held
	}
	if got := strings.Join(order, " "); got != "db cache lone web web" {
		t.Errorf("start order %q", got)
	}
}

func TestCountReplicas(t *testing.T) {
	retiring := ctr("r", 0, "h", 0)
	retiring.Name += fleet.RetiringSuffix
	exited := ctr("e", 1, "h", 0)
	exited.State = "exited"
	got := CountReplicas([]fleet.Container{ctr("a", 0, "h", 0), ctr("b", 1, "h", 0), retiring, exited}, map[string]bool{"a": true, "r": true})
	if !reflect.DeepEqual(got, map[string]Counts{"web": {Running: 2, Ready: 1}}) {
		t.Errorf("got %v", got)
	}
}

func TestPruneNetworks(t *testing.T) {
	s := testSpec(t, `
project: p
networks: {default: {}, spare: {}, outside: {external: true, name: shared-net}}
apps: [{name: web, image: w:1}]
`)
	ours := func(name, key string) fleet.Network {
		return fleet.Network{Name: name, Labels: map[string]string{fleet.LabelProject: "p", fleet.LabelNetwork: key}}
	}
	cases := []struct {
		name     string
		networks []fleet.Network
		want     []string
	}{
		{"a network an app joins stays", []fleet.Network{ours("p_default", "default")}, nil},
		{"a declared network no app joins goes", []fleet.Network{ours("p_spare", "spare")},
			[]string{`p_spare: no app of the spec joins it (network "spare" is declared, unused)`}},
		{"a network the spec no longer declares goes", []fleet.Network{ours("p_old", "old")},
			[]string{`p_old: no app of the spec joins it (network "old" is no longer declared)`}},
		{"another project's network is never touched", []fleet.Network{{Name: "q_default", Labels: map[string]string{fleet.LabelProject: "q", fleet.LabelNetwork: "default"}}}, nil},
		{"a network without baton's network label is never touched", []fleet.Network{{Name: "p_x", Labels: map[string]string{fleet.LabelProject: "p"}}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, r := range PruneNetworks(s, c.networks) {
				got = append(got, r.Network+": "+r.Reason)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	empty := testSpec(t, "project: p\napps: []\n")
	if got := PruneNetworks(empty, []fleet.Network{ours("p_default", "default")}); len(got) != 1 {
		t.Errorf("apps: [] removes baton's network, got %+v", got)
	}
}

func TestNeedsNetworks(t *testing.T) {
	plain := testSpec(t, "project: p\napps: [{name: web, image: w:1}]\n")
	withNet := testSpec(t, "project: p\nnetworks: {default: {}}\napps: [{name: web, image: w:1}]\n")
	onOurs := fleet.Container{Networks: []string{"p_default"}}
	onBridge := fleet.Container{Networks: []string{"bridge"}}
	cases := []struct {
		name string
		s    *spec.Spec
		cs   []fleet.Container
		want bool
	}{
		{"a spec without networks on the default bridge needs no network list", plain, []fleet.Container{onBridge}, false},
		{"a spec that declares networks lists them", withNet, nil, true},
		{"a container still on a network of the project lists them, to remove it", plain, []fleet.Container{onOurs}, true},
	}
	for _, c := range cases {
		if got := NeedsNetworks(c.s, c.cs); got != c.want {
			t.Errorf("%s: got %v", c.name, got)
		}
	}
}

// TestGCAndStackVolumes: gc never removes a stack's named volume unless
// the spec opts in and no longer declares it; a replacement's anonymous
// volume is kept for the grace; an orphan volume that is not this
// project's (no baton.project label of it) only goes with gc.scope host.
func TestGCAndStackVolumes(t *testing.T) {
	stackVol := func(name, project, key string) fleet.Volume {
		return fleet.Volume{Name: name, Labels: map[string]string{fleet.LabelProject: project, fleet.LabelVolume: key}, Created: t0.Add(-48 * time.Hour)}
	}
	anonOf := func(project, c string, age time.Duration) fleet.Volume {
		v := fleet.Volume{Name: strings.Repeat(c, 64), Created: t0.Add(-age)}
		if project != "" {
			v.Labels = map[string]string{fleet.LabelProject: project, fleet.LabelApp: "db"}
		}
		return v
	}
	anon := func(c string, age time.Duration) fleet.Volume { return anonOf("shop", c, age) }
	cases := []struct {
		name    string
		spec    string
		volumes []fleet.Volume
		mounted []string
		want    []string
	}{
		{"a declared volume with no container stays, even with volumes: all and the opt-in",
			"volumes: {pgdata: {}}\ngc: {volumes: all, project_volumes: true}", []fleet.Volume{stackVol("shop_pgdata", "shop", "pgdata")}, nil, nil},
		{"a volume the spec dropped stays without the opt-in, even with volumes: all",
			"gc: {volumes: all}", []fleet.Volume{stackVol("shop_pgdata", "shop", "pgdata")}, nil, nil},
		{"a volume the spec dropped goes with the opt-in, with a reason",
			"gc: {project_volumes: true}", []fleet.Volume{stackVol("shop_pgdata", "shop", "pgdata")}, nil,
			[]string{`shop_pgdata: orphan volume "pgdata" of this project: the spec no longer declares it and gc.project_volumes is set`}},
		{"a dropped volume still mounted stays",
			"gc: {project_volumes: true}", []fleet.Volume{stackVol("shop_pgdata", "shop", "pgdata")}, []string{"shop_pgdata"}, nil},
		{"another project's stack volume is never touched",
			"gc: {volumes: all, project_volumes: true}", []fleet.Volume{stackVol("other_pgdata", "other", "pgdata")}, nil, nil},
		{"an anonymous volume orphaned inside the grace stays, an older one goes",
			"gc: {grace: 1h}", []fleet.Volume{anon("a", 10*time.Minute), anon("b", 2*time.Hour)}, nil,
			[]string{strings.Repeat("b", 12) + ": orphan anonymous volume: no container mounts it"}},
		{"an orphan anonymous volume that is not this project's stays: another's, or nobody's (docker run)",
			"gc: {grace: 1h, volumes: all}", []fleet.Volume{anonOf("other", "c", 2*time.Hour), anonOf("", "d", 2*time.Hour), {Name: "pgdata"}}, nil, nil},
		{"gc.scope host reaches every orphan anonymous volume",
			"gc: {grace: 1h, scope: host}", []fleet.Volume{anonOf("other", "c", 2*time.Hour), anonOf("", "d", 2*time.Hour)}, nil,
			[]string{strings.Repeat("c", 12) + ": orphan anonymous volume: no container mounts it", strings.Repeat("d", 12) + ": orphan anonymous volume: no container mounts it"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testSpec(t, "project: shop\n"+c.spec+"\napps: []\n")
			in := GCInput{Spec: s, Volumes: c.volumes}
			if c.mounted != nil {
				in.Containers = []fleet.Container{{ID: "c", State: "running", Volumes: c.mounted}}
			}
			var got []string
			for _, it := range GC(in, t0).Remove {
				got = append(got, it.Name+": "+it.Reason)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestWantPutsANetworkThatPublishesFirst(t *testing.T) {
	s := testSpec(t, `
project: p
networks: {db: {internal: true}, default: {}}
apps: [{name: a, image: x, port: 80, networks: [db, default]}]
`)
	w := Want(s, s.App("a"), 0, "x")
	if w.Networks[0].Network != "p_default" || w.Networks[1].Network != "p_db" {
		t.Errorf("got %+v: the primary network must not be the internal one", w.Networks)
	}
}

func TestGateDependencies(t *testing.T) {
	s := testSpec(t, depSpec)
	start := func(app string, replica int) Action {
		return Action{Kind: Start, App: app, Replica: replica, Reason: "have 0 running replicas, want 1"}
	}
	cases := []struct {
		name     string
		actions  []Action
		counts   map[string]Counts
		keep     []string
		findings []string
	}{
		{"a dependent whose dependencies start in this pass runs after them, and says so",
			[]Action{start("db", 0), start("cache", 0), start("web", 0)}, nil,
			[]string{"db: have 0 running replicas, want 1", "cache: have 0 running replicas, want 1",
				"web: have 0 running replicas, want 1; after cache, db (depends_on)"}, nil},
		{"a dependent whose dependency does not start in this pass waits, with a finding",
			[]Action{start("cache", 0), start("web", 0)}, nil,
			[]string{"cache: have 0 running replicas, want 1"},
			[]string{"web: waits for db: no ready replica (depends_on condition ready)"}},
		{"a dependent whose dependencies are met runs at once",
			[]Action{start("web", 0)}, map[string]Counts{"db": {1, 1}, "cache": {1, 0}},
			[]string{"web: have 0 running replicas, want 1"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keep, findings := GateDependencies(s, c.actions, c.counts)
			var got, fs []string
			for _, a := range keep {
				got = append(got, a.App+": "+a.Reason)
			}
			for _, f := range findings {
				if f.Kind != Report || f.Type != "waiting" {
					t.Errorf("not a waiting finding: %+v", f)
				}
				fs = append(fs, f.App+": "+f.Reason)
			}
			if !reflect.DeepEqual(got, c.keep) || !reflect.DeepEqual(fs, c.findings) {
				t.Errorf("kept %q\nfindings %q\nwant %q\n%q", got, fs, c.keep, c.findings)
			}
		})
	}
}

func TestNetworkSteps(t *testing.T) {
	s := testSpec(t, "project: p\napps: []\n")
	steps := NetworkSteps(s, []fleet.Network{{Name: "p_default", Labels: map[string]string{fleet.LabelProject: "p", fleet.LabelNetwork: "default"}}})
	if len(steps) != 1 || steps[0].Kind != PruneNetwork || steps[0].Target != "p_default" || steps[0].Reason == "" || steps[0].EventType() != "remove-network" {
		t.Errorf("got %+v", steps)
	}
}
