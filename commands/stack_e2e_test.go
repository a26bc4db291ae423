package commands_test

// End-to-end tests of stacks on a real dockerd: data on volumes across
// every kind of replacement, stop-first with a fixed host port, names on
// the project network, capped logs.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

var stackImageMu sync.Mutex

// stackImage builds the test server of this checkout under a tag of its
// source's digest (baton-test:v1 may come from another checkout's source,
// without the stack endpoints), and a variant that declares VOLUME /data.
// Each call checks that both are there (a test's host-wide gc, or an
// operator, may have removed them since) and builds what is missing.
func stackImage(t *testing.T) (plain, withVolume string) {
	t.Helper()
	testenv.Docker(t)
	stackImageMu.Lock()
	defer stackImageMu.Unlock()
	src, err := os.ReadFile(filepath.Join(testenv.Root(), "testdata", "app", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	ref := "baton-stack:" + hex.EncodeToString(sum[:6])
	if exec.Command("docker", "image", "inspect", ref).Run() != nil {
		if out, err := exec.Command(filepath.Join(testenv.Root(), "scripts", "build-image.sh"), ref, "v1").CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", ref, err, out)
		}
	}
	if exec.Command("docker", "image", "inspect", ref+"-vol").Run() != nil {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+ref+"\nVOLUME /data\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("docker", "build", "-q", "-t", ref+"-vol", dir)
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s-vol: %v\n%s", ref, err, out)
		}
	}
	return ref, ref + "-vol"
}

// newStackE2E is newE2E whose cleanup also removes the project's volumes
// and networks.
func newStackE2E(t *testing.T) *e2e {
	e := newE2E(t)
	t.Cleanup(func() {
		e.removeContainers()
		for _, kind := range []string{"volume", "network"} {
			out, _ := exec.Command("docker", kind, "ls", "-q", "--filter", "label=baton.project="+e.project).Output()
			if ids := strings.Fields(string(out)); len(ids) > 0 {
				_ = exec.Command("docker", append([]string{kind, "rm"}, ids...)...).Run()
			}
		}
	})
	return e
}

// writeStack writes a spec with the test's nginx and the given top-level
// sections and apps (YAML, indented as under apps:).
func (e *e2e) writeStack(top, apps string) {
	e.t.Helper()
	q := func(argv []string) string {
		b, _ := json.Marshal(argv)
		return string(b)
	}
	s := fmt.Sprintf("project: %s\nnginx:\n  config: %s\n  test: %s\n  reload: %s\n  listen: %s\n%s\napps:\n%s",
		e.project, e.nginx.Conf(), q(e.nginx.Test()), q(e.nginx.Reload()), e.nginx.Listen, top, apps)
	if err := os.WriteFile(e.spec, []byte(s), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// httpGet GETs url and returns the body; it fails the test on an error or
// a status other than 200. A refused connection or a 503 is tried again
// for up to 2s: nginx's old workers answer with the old config for a
// moment after a reload.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var last string
	for i := 0; i < 10; i++ {
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
			time.Sleep(200 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
		}
		return string(b)
	}
	t.Fatalf("GET %s: %s", url, last)
	return ""
}

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestStatefulAppKeepsEveryWriteAcrossReplacements: a singleton with a
// named volume and a fixed host port, stop-first, keeps every line it
// appended across 10 rollouts, 3 heal replacements of a killed container
// and a scale 1 → 0 → 1; one volume, baton's, the whole time.
func TestStatefulAppKeepsEveryWriteAcrossReplacements(t *testing.T) {
	e := newStackE2E(t)
	img, _ := stackImage(t)
	port := testenv.FreePort(t)
	app := func(replicas int, roll int) string {
		return fmt.Sprintf(`  - name: db
    image: %s
    pull: never
    port: 8080
    replicas: %d
    env: {ROLL: "%d"}
    volumes: ["data:/data"]
    ports: ["127.0.0.1:%d:8080"]
    update: {order: stop-first}
    stop_grace: 2s
    drain: 100ms
    lb: {path: /}
    health: {type: http, path: /healthz, ready_timeout: 20s, failure_threshold: 1, backoff: 0s}
`, img, replicas, roll, port)
	}
	top := "volumes: {data: {}}"
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var want []string
	write := func(line string) {
		t.Helper()
		httpGet(t, base+"/data/append?line="+line)
		want = append(want, line)
	}
	check := func(when string) {
		t.Helper()
		got := strings.Fields(httpGet(t, base+"/data/read"))
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s: the volume holds %v, want %v", when, got, want)
		}
		if vols := dockerOut(t, "volume", "ls", "-q", "--filter", "label=baton.project="+e.project); vols != e.project+"_data" {
			t.Fatalf("%s: volumes of the project: %q", when, vols)
		}
	}
	e.writeStack(top, app(1, 0))
	e.mustBaton(0, "scale")
	write("first")
	check("after the first start")
	// Through the balancer too: the fixed port and nginx reach the same replica.
	if body := httpGet(t, "http://"+e.nginx.Listen+"/data/read"); !strings.Contains(body, "first") {
		t.Fatalf("through nginx: %q", body)
	}
	for i := 1; i <= 10; i++ {
		old := e.replicaID("db", 0)
		e.writeStack(top, app(1, i))
		out := e.mustBaton(0, "scale")
		if !strings.Contains(out, "replace") || e.replicaID("db", 0) == old {
			t.Fatalf("rollout %d did not replace the replica:\n%s", i, out)
		}
		write("roll" + strconv.Itoa(i))
		check(fmt.Sprintf("after rollout %d", i))
	}
	for i := 1; i <= 3; i++ {
		old := e.replicaID("db", 0)
		dockerOut(t, "kill", old)
		out := e.mustBaton(0, "heal")
		if e.replicaID("db", 0) == "" || e.replicaID("db", 0) == old {
			t.Fatalf("heal %d did not replace the killed replica:\n%s", i, out)
		}
		write("heal" + strconv.Itoa(i))
		check(fmt.Sprintf("after heal replacement %d", i))
	}
	e.writeStack(top, app(0, 10))
	e.mustBaton(0, "scale")
	if n := len(e.running()); n != 0 {
		t.Fatalf("scale to 0 left %d running", n)
	}
	check2 := dockerOut(t, "volume", "ls", "-q", "--filter", "label=baton.project="+e.project)
	if check2 != e.project+"_data" {
		t.Fatalf("at 0 replicas the volume is gone: %q", check2)
	}
	e.writeStack(top, app(1, 10))
	e.mustBaton(0, "scale")
	write("back")
	check("after scale 1 → 0 → 1")
	if len(want) != 1+10+3+1 {
		t.Fatalf("wrote %d lines", len(want))
	}
	// The next pass changes nothing.
	if out := e.mustBaton(0, "scale"); out != "" {
		t.Errorf("a pass after converging printed:\n%s", out)
	}
}

// TestStopFirstNewReplicaThatNeverAnswersBringsTheOldOneBack: a rollout
// to a replica that exits at once leaves the old container serving, with
// its data and its fixed port.
func TestStopFirstNewReplicaThatNeverAnswersBringsTheOldOneBack(t *testing.T) {
	e := newStackE2E(t)
	img, _ := stackImage(t)
	port := testenv.FreePort(t)
	app := func(extra string) string {
		return fmt.Sprintf(`  - name: db
    image: %s
    pull: never
    port: 8080
    volumes: ["data:/data"]
    ports: ["127.0.0.1:%d:8080"]
    update: {order: stop-first}
    stop_grace: 1s
    drain: 0s
    health: {type: http, path: /healthz, ready_timeout: 5s}
%s`, img, port, extra)
	}
	top := "volumes: {data: {}}"
	e.writeStack(top, app(""))
	e.mustBaton(0, "scale")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	httpGet(t, base+"/data/append?line=kept")
	old := e.replicaID("db", 0)
	e.writeStack(top, app("    env: {EXIT_AFTER: 0s}\n"))
	out, errOut, code := e.baton("scale")
	if code != 3 || !strings.Contains(out+errOut, "was started again") {
		t.Fatalf("want exit 3 saying the old container was started again, got %d\n%s\n%s", code, out, errOut)
	}
	if id := e.replicaID("db", 0); id != old {
		t.Fatalf("the running replica is %q, want the old %q", id, old)
	}
	if body := httpGet(t, base+"/data/read"); strings.TrimSpace(body) != "kept" {
		t.Fatalf("the old replica's data: %q", body)
	}
	name := dockerOut(t, "inspect", "--format", "{{.Name}}", old)
	if strings.HasSuffix(name, ".retiring") {
		t.Errorf("the old container kept its retiring name %s", name)
	}
}

// TestAnonymousImageVolumesSurviveReplacements: an image that declares a
// VOLUME gets an anonymous volume, labelled as the project's; a rollout
// and heal's start of a crashed replica carry it to the new container, as
// compose's recreate does, so the data survives every replacement.
func TestAnonymousImageVolumesSurviveReplacements(t *testing.T) {
	e := newStackE2E(t)
	_, img := stackImage(t)
	app := func(roll int) string {
		return fmt.Sprintf(`  - name: db
    image: %s
    pull: never
    port: 8080
    env: {ROLL: "%d"}
    stop_grace: 1s
    drain: 0s
    health: {type: http, path: /healthz, ready_timeout: 20s}
`, img, roll)
	}
	e.writeStack("", app(0))
	e.mustBaton(0, "scale")
	first := e.replicaID("db", 0)
	vol := dockerOut(t, "inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", first)
	if len(vol) != 64 {
		t.Fatalf("want an anonymous volume, got %q", vol)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", vol).Run() })
	// The image's VOLUME is labelled as this project's and app's (gc.scope
	// project removes only those), and holds the image's content there.
	if got := dockerOut(t, "volume", "inspect", "--format", `{{index .Labels "baton.project"}} {{index .Labels "baton.app"}}`, vol); got != e.project+" db" {
		t.Errorf("the image volume's labels: %q, want %q", got, e.project+" db")
	}
	httpGet(t, "http://"+hostAddr(t, first)+"/data/append?line=precious")
	// The data stays with the slot: a rollout (stop-first, as the volume
	// can have one writer) and heal's start after a crash both mount the
	// volume the replica had, and only one container runs with it.
	holds := func(what string) string {
		t.Helper()
		id := e.replicaID("db", 0)
		if got := dockerOut(t, "inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", id); got != vol {
			t.Fatalf("after %s the replica mounts %q, want the slot's volume %s", what, got, vol)
		}
		if body := httpGet(t, "http://"+hostAddr(t, id)+"/data/read"); strings.TrimSpace(body) != "precious" {
			t.Fatalf("after %s the replica reads %q", what, body)
		}
		if n := len(strings.Fields(dockerOut(t, "ps", "-q", "--filter", "volume="+vol))); n != 1 {
			t.Errorf("after %s %d running containers mount the volume", what, n)
		}
		return id
	}
	e.writeStack("", app(1))
	if out := e.mustBaton(0, "-n", "scale"); !strings.Contains(out, "stop-first, so its anonymous volume /data carries over") {
		t.Errorf("the dry run does not say the volume carries over:\n%s", out)
	}
	e.mustBaton(0, "scale")
	if e.replicaID("db", 0) == first {
		t.Fatal("the rollout did not replace the container")
	}
	rolled := holds("the rollout")
	dockerOut(t, "kill", rolled)
	if out := e.mustBaton(0, "heal"); !strings.Contains(out, "its anonymous volume /data carries over") {
		t.Errorf("heal's start does not say the volume carries over:\n%s", out)
	}
	if holds("heal's start") == rolled {
		t.Fatal("heal did not start a new container")
	}
}

// TestAppsReachEachOtherByName: on the project network, web reaches db at
// http://db:8080; on a second network, only the apps on it do. A network
// of baton's name that baton did not create is refused, not adopted.
func TestAppsReachEachOtherByName(t *testing.T) {
	e := newStackE2E(t)
	img, _ := stackImage(t)
	before := dockerOut(t, "network", "ls", "--format", "{{.ID}} {{.Name}}")
	apps := fmt.Sprintf(`  - name: db
    image: %[1]s
    pull: never
    port: 8080
    networks: [default, backend]
    health: {type: http, path: /healthz}
  - name: web
    image: %[1]s
    pull: never
    port: 8080
    replicas: 2
    lb: {path: /}
    health: {type: http, path: /healthz}
  - name: lonely
    image: %[1]s
    pull: never
    port: 8080
    networks: [backend, side]
    health: {type: http, path: /healthz}
`, img)
	e.writeStack("networks: {default: {}, backend: {internal: true}, side: {}}", apps)
	e.mustBaton(0, "scale")
	for i := 0; i < 4; i++ {
		if body := httpGet(t, "http://"+e.nginx.Listen+"/fetch?url=http://db:8080/"); !strings.HasPrefix(body, "hello from db-0") {
			t.Fatalf("web → db by name: %q", body)
		}
	}
	// lonely is on backend (internal) and side: it reaches db on backend,
	// not web, and is published through side.
	lonely := hostAddr(t, e.replicaID("lonely", 0))
	if body := httpGet(t, "http://"+lonely+"/fetch?url=http://db:8080/"); !strings.HasPrefix(body, "hello from db-0") {
		t.Fatalf("lonely → db on backend: %q", body)
	}
	resp, err := http.Get("http://" + lonely + "/fetch?url=http://web:8080/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("lonely reached web, which is not on its network: %d", resp.StatusCode)
	}
	for _, n := range []string{e.project + "_default", e.project + "_backend", e.project + "_side"} {
		labels := dockerOut(t, "network", "inspect", "--format", `{{index .Labels "baton.project"}} {{index .Labels "baton.network"}}`, n)
		if !strings.HasPrefix(labels, e.project+" ") {
			t.Errorf("network %s labels: %q", n, labels)
		}
	}
	if out := e.mustBaton(0, "scale"); out != "" {
		t.Errorf("a pass after converging printed:\n%s", out)
	}
	// apps: [] removes the containers, then baton's networks; every other
	// network is as it was.
	e.writeStack("networks: {default: {}, backend: {internal: true}, side: {}}", "  []\n")
	if err := os.WriteFile(e.spec, []byte(strings.Replace(mustRead(t, e.spec), "apps:\n  []\n", "apps: []\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.mustBaton(0, "scale")
	if strings.Count(out, "remove network") != 3 {
		t.Errorf("want three network removals:\n%s", out)
	}
	if after := dockerOut(t, "network", "ls", "--format", "{{.ID}} {{.Name}}"); after != before {
		t.Errorf("docker network ls after apps: []:\n%s\nwant, as before the test:\n%s", after, before)
	}
	if out := e.mustBaton(0, "scale"); out != "" {
		t.Errorf("a pass after removing the networks printed:\n%s", out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDependentStartsOnlyOnceItsDependencyIsReady: while db runs but does
// not answer, web (depends_on db ready) is not started and a finding says
// why; once db answers, the next pass starts web. A fresh stack comes up
// in one pass, db first.
func TestDependentStartsOnlyOnceItsDependencyIsReady(t *testing.T) {
	e := newStackE2E(t)
	img, _ := stackImage(t)
	db := fmt.Sprintf(`  - name: db
    image: %s
    pull: never
    port: 8080
    health: {type: http, path: /healthz, ready_timeout: 20s, interval: 500ms}
`, img)
	web := fmt.Sprintf(`  - name: web
    image: %s
    pull: never
    port: 8080
    lb: {path: /}
    depends_on: {db: {condition: ready}}
    health: {type: http, path: /healthz, ready_timeout: 20s}
`, img)
	top := "networks: {default: {}}"
	e.writeStack(top, db)
	e.mustBaton(0, "scale")
	dbAddr := hostAddr(t, e.replicaID("db", 0))
	httpGet(t, "http://"+dbAddr+"/control/health?status=500")
	time.Sleep(time.Second) // past db's health.interval: the next pass probes it again
	e.writeStack(top, db+web)
	out := e.mustBaton(0, "scale")
	if !strings.Contains(out, "waiting") || !strings.Contains(out, "waits for db: 1 running, none ready (depends_on condition ready)") {
		t.Fatalf("want a waiting finding naming db:\n%s", out)
	}
	if id := e.replicaID("web", 0); id != "" {
		t.Fatalf("web was started while db did not answer")
	}
	if evs := e.events("--type", "waiting"); len(evs) != 1 || evs[0].App != "web" {
		t.Errorf("events: %+v", evs)
	}
	httpGet(t, "http://"+dbAddr+"/control/health?status=200")
	time.Sleep(time.Second)
	out = e.mustBaton(0, "scale")
	if !strings.Contains(out, "web replica 0") || e.replicaID("web", 0) == "" {
		t.Fatalf("once db answers, web starts:\n%s", out)
	}
	if body := httpGet(t, "http://"+e.nginx.Listen+"/fetch?url=http://db:8080/"); !strings.HasPrefix(body, "hello from db-0") {
		t.Errorf("web → db: %q", body)
	}

	// A fresh stack: one pass, db before web.
	e.removeContainers()
	out = e.mustBaton(0, "scale")
	dbCreated := dockerOut(t, "inspect", "--format", "{{.State.StartedAt}}", e.replicaID("db", 0))
	webCreated := dockerOut(t, "inspect", "--format", "{{.Created}}", e.replicaID("web", 0))
	if !strings.Contains(out, "after db (depends_on)") || webCreated < dbCreated {
		t.Errorf("web (created %s) must start after db (started %s):\n%s", webCreated, dbCreated, out)
	}
}

// TestANetworkThatIsNotBatonsIsRefused: a network of the name baton wants
// that someone else created is neither joined nor removed; the start fails
// saying so, and external: true uses it.
func TestANetworkThatIsNotBatonsIsRefused(t *testing.T) {
	e := newStackE2E(t)
	img, _ := stackImage(t)
	name := e.project + "_default"
	dockerOut(t, "network", "create", name)
	t.Cleanup(func() { e.removeContainers(); _ = exec.Command("docker", "network", "rm", name).Run() })
	app := fmt.Sprintf("  - {name: web, image: %s, pull: never, port: 8080, health: {type: http, path: /healthz, backoff: 0s}}\n", img)
	e.writeStack("networks: {default: {}}", app)
	out, errOut, code := e.baton("scale")
	if code != 3 || !strings.Contains(out+errOut, "exists but is not baton's") || !strings.Contains(out+errOut, "external: true") {
		t.Fatalf("want exit 3 refusing the network, got %d\n%s\n%s", code, out, errOut)
	}
	if n := e.all(); n != 0 {
		t.Fatalf("%d containers started on a network that is not baton's", n)
	}
	e.writeStack(fmt.Sprintf("networks: {default: {external: true, name: %s}}", name), app)
	e.mustBaton(0, "scale")
	if got := dockerOut(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", e.replicaID("web", 0)); got != name {
		t.Errorf("the container is on %q, want %s", got, name)
	}
	if labels := dockerOut(t, "network", "inspect", "--format", `{{index .Labels "baton.project"}}`, name); labels != "" {
		t.Errorf("baton labelled a network it did not create: %q", labels)
	}
}

// TestLogsStayUnderTheDefaultCap: a replica printing 1 MiB a second for a
// minute (60 MiB) keeps at most max-file × max-size = 30 MiB of logs.
func TestLogsStayUnderTheDefaultCap(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of logging")
	}
	e := newStackE2E(t)
	img, _ := stackImage(t)
	e.writeStack("", fmt.Sprintf("  - {name: chatty, image: %s, pull: never, port: 8080, health: {type: http, path: /healthz}}\n", img))
	e.mustBaton(0, "scale")
	id := e.replicaID("chatty", 0)
	cfg := dockerOut(t, "inspect", "--format", `{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "max-file"}}`, id)
	if cfg != "json-file 10m 3" {
		t.Fatalf("log config %q, want json-file 10m 3", cfg)
	}
	client := &http.Client{Timeout: 90 * time.Second}
	resp, err := client.Get("http://" + hostAddr(t, id) + "/log/flood?bytes=1048576&seconds=60")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var printed int
	if _, err := fmt.Sscanf(string(body), "printed %d bytes", &printed); err != nil || printed < 60<<20 {
		t.Fatalf("the replica printed %q, want at least 60 MiB", body)
	}
	logPath := dockerOut(t, "inspect", "--format", "{{.LogPath}}", id)
	files, _ := filepath.Glob(logPath + "*")
	var total int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	if len(files) == 0 || len(files) > 3 {
		t.Errorf("log files: %v, want 1 to 3", files)
	}
	// Docker rotates after a write crosses max-size: allow one line over.
	if limit := int64(30<<20) + 64<<10; total > limit {
		t.Errorf("logs take %d bytes after %d printed, over the %d cap", total, printed, limit)
	}
	t.Logf("printed %d MiB, kept %d MiB in %d files", printed>>20, total>>20, len(files))
}
