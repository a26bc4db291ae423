package commands_test

// Adversarial end-to-end tests of the claim that a replica's anonymous
// volume (the image's VOLUME, a database's data directory) stays with its
// replica slot across every replacement and that gc never removes what is
// needed. Each test here failed when it was written (at 9963c7e): each
// was a way the slot's data ended up in an orphan volume while the slot
// ran on a fresh, empty one. They hold now.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// volApp is a one-replica app of the image that declares VOLUME /data.
func volApp(img, extra string) string {
	return fmt.Sprintf(`  - name: db
    image: %s
    pull: never
    port: 8080
    stop_grace: 30s
    drain: 0s
    health: {type: http, path: /healthz, ready_timeout: 20s}
%s`, img, extra)
}

// slotVolume is the name of the anonymous volume container id mounts at /data.
func slotVolume(t *testing.T, id string) string {
	t.Helper()
	v := dockerOut(t, "inspect", "--format", `{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}`, id)
	if len(v) != 64 {
		t.Fatalf("container %s: want an anonymous volume at /data, got %q", id, v)
	}
	return v
}

// waitState waits (bounded) until the container is in one of the states.
func waitState(t *testing.T, id string, d time.Duration, states ...string) string {
	t.Helper()
	var st string
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		st = dockerOut(t, "inspect", "--format", "{{.State.Status}}", id)
		for _, s := range states {
			if st == s {
				return st
			}
		}
	}
	t.Fatalf("container %s is %s after %s, want %v", id, st, d, states)
	return st
}

// TestAttackKilledStopFirstReplacementKeepsTheSlotsData: a rollout that
// carries the slot's volume is stop-first; the pass is killed (-9) while
// the old container stops (renamed .retiring). The next scale removes the
// retiring leftover and its start carries the retiring container's volume,
// as it would the old one's (it used to start the slot on a new, empty
// volume, the data left in an orphan the next gc removed).
func TestAttackKilledStopFirstReplacementKeepsTheSlotsData(t *testing.T) {
	e := newStackE2E(t)
	_, img := stackImage(t)
	e.writeStack("", volApp(img, `    env: {ROLL: "0"}`))
	e.mustBaton(0, "scale")
	old := e.replicaID("db", 0)
	vol := slotVolume(t, old)
	httpGet(t, "http://"+hostAddr(t, old)+"/data/append?line=precious")

	// A request in flight makes the old container's graceful stop last.
	held := make(chan struct{})
	go func() {
		defer close(held)
		c := &http.Client{Timeout: 40 * time.Second}
		if resp, err := c.Get("http://" + hostAddr(t, old) + "/log/flood?bytes=1&seconds=15"); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(500 * time.Millisecond)
	e.writeStack("", volApp(img, `    env: {ROLL: "1"}`))
	cmd := exec.Command(e.bin, "--spec", e.spec, "--state", e.state, "scale")
	cmd.Dir = e.dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	retiring := false
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end) && !retiring; time.Sleep(100 * time.Millisecond) {
		retiring = strings.HasSuffix(dockerOut(t, "inspect", "--format", "{{.Name}}", old), ".retiring")
	}
	if !retiring {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("the rollout never renamed the old container .retiring")
	}
	time.Sleep(time.Second)
	_ = cmd.Process.Kill() // kill -9 mid-replacement
	_ = cmd.Wait()
	waitState(t, old, 40*time.Second, "exited")
	<-held

	out := e.mustBaton(0, "scale")
	id := e.replicaID("db", 0)
	if id == "" {
		t.Fatalf("no replica after the next scale:\n%s", out)
	}
	if got := slotVolume(t, id); got != vol {
		t.Errorf("after a killed stop-first pass the slot runs on volume %s, want the slot's %s\n%s", got[:12], vol[:12], out)
	}
	if body := strings.TrimSpace(httpGet(t, "http://"+hostAddr(t, id)+"/data/read")); body != "precious" {
		t.Errorf("after a killed stop-first pass the replica reads %q, want %q", body, "precious")
	}
	_ = exec.Command("docker", "volume", "rm", vol).Run()
}

// TestAttackPausedReplicaKeepsItsData: the replica is paused (a consistent
// backup) while cron's scale runs: it holds its slot, so no second
// container starts on a fresh volume (which, after the unpause, used to be
// kept over the data holder as the newer duplicate).
func TestAttackPausedReplicaKeepsItsData(t *testing.T) {
	e := newStackE2E(t)
	_, img := stackImage(t)
	e.writeStack("", volApp(img, ""))
	e.mustBaton(0, "scale")
	a := e.replicaID("db", 0)
	vol := slotVolume(t, a)
	httpGet(t, "http://"+hostAddr(t, a)+"/data/append?line=precious")
	dockerOut(t, "pause", a)
	out := e.mustBaton(0, "scale")
	if n := len(strings.Fields(dockerOut(t, "ps", "-aq", "--filter", "label=baton.project="+e.project))); n != 1 {
		t.Errorf("scale while the replica is paused: %d containers in a one-replica slot\n%s", n, out)
	}
	dockerOut(t, "unpause", a)
	out += e.mustBaton(0, "scale")
	id := e.replicaID("db", 0)
	if id == "" {
		t.Fatalf("no single running replica:\n%s", out)
	}
	if got := slotVolume(t, id); got != vol {
		t.Errorf("the replica kept runs on %s, want the slot's %s (the data holder was removed)\n%s", got[:12], vol[:12], out)
	}
	_ = exec.Command("docker", "volume", "rm", vol).Run()
}

// TestAttackRestartingReplicaGetsNoTwin: with restart: on-failure, a
// replica in Docker's restart delay is "restarting": it holds its slot, and
// heal starts no second container for it on a fresh volume (it used to take
// it for a stopped replica).
func TestAttackRestartingReplicaGetsNoTwin(t *testing.T) {
	e := newStackE2E(t)
	_, img := stackImage(t)
	e.writeStack("", volApp(img, "    restart: on-failure\n    env: {EXIT_AFTER: 3s}\n"))
	e.mustBaton(0, "scale")
	a := e.replicaID("db", 0)
	if a == "" {
		t.Fatal("no replica")
	}
	vol := slotVolume(t, a)
	restarting := false
	for end := time.Now().Add(90 * time.Second); time.Now().Before(end) && !restarting; time.Sleep(300 * time.Millisecond) {
		f := strings.Fields(dockerOut(t, "inspect", "--format", "{{.State.Status}} {{.RestartCount}}", a))
		n, _ := strconv.Atoi(f[1])
		restarting = f[0] == "restarting" && n >= 5
	}
	if !restarting {
		t.Skip("Docker's restart delay never got long enough to observe")
	}
	out, _, _ := e.baton("heal")
	ids := strings.Fields(dockerOut(t, "ps", "-aq", "--filter", "label=baton.project="+e.project))
	for _, id := range ids {
		if v := slotVolume(t, id); v != vol {
			t.Errorf("heal started %s for the slot on a fresh volume %s while its container %s was restarting (volume %s)\n%s", id[:12], v[:12], a[:12], vol[:12], out)
		}
	}
	_ = exec.Command("docker", "volume", "rm", vol).Run()
}

// TestAttackCreatedLeftoverHidesTheSlotsVolumeFromHeal: heal's start of a
// crashed replica, killed between create and start, leaves a "created"
// container (it mounts the carried volume) newer than the exited one.
// The next heal carries from the exited one, not the created leftover (it
// used to take the created one as the slot's newest and start the slot on
// a fresh volume). The leftover is made here by hand with the labels and
// mount heal's create gives it.
func TestAttackCreatedLeftoverHidesTheSlotsVolumeFromHeal(t *testing.T) {
	e := newStackE2E(t)
	_, img := stackImage(t)
	e.writeStack("", volApp(img, ""))
	e.mustBaton(0, "scale")
	a := e.replicaID("db", 0)
	vol := slotVolume(t, a)
	httpGet(t, "http://"+hostAddr(t, a)+"/data/append?line=precious")
	dockerOut(t, "kill", a)
	waitState(t, a, 10*time.Second, "exited")
	labels := dockerOut(t, "inspect", "--format", `{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}`, a)
	lf := e.dir + "/labels"
	if err := os.WriteFile(lf, []byte(labels+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(dockerOut(t, "inspect", "--format", "{{.Name}}", a), "/")
	dockerOut(t, "create", "--label-file", lf, "--name", name+"x", "-v", vol+":/data", img)

	out := e.mustBaton(0, "heal")
	id := e.replicaID("db", 0)
	if id == "" {
		t.Fatalf("heal started nothing:\n%s", out)
	}
	if got := slotVolume(t, id); got != vol {
		t.Errorf("heal started the slot on %s, want the slot's %s\n%s", got[:12], vol[:12], out)
	}
	_ = exec.Command("docker", "volume", "rm", vol).Run()
}

// TestAttackGCKeepsAWantedSlotsData: a replica crashed and is not started
// again within gc's grace (heal not run, a depends_on waiting, a hold). gc
// used to remove the exited container — past its grace since it finished —
// and, in the same pass, the volume it left orphan (created long before): the
// slot's data, which the slot's next start would have carried. gc keeps a
// down slot's holder (its newest exited container) and so its volume.
func TestAttackGCKeepsAWantedSlotsData(t *testing.T) {
	e := newStackE2E(t)
	_, img := stackImage(t)
	e.writeStack("gc: {grace: 2s}", volApp(img, ""))
	e.mustBaton(0, "scale")
	a := e.replicaID("db", 0)
	vol := slotVolume(t, a)
	httpGet(t, "http://"+hostAddr(t, a)+"/data/append?line=precious")
	dockerOut(t, "kill", a)
	time.Sleep(3 * time.Second)
	out := e.mustBaton(0, "gc")
	if exec.Command("docker", "volume", "inspect", vol).Run() != nil {
		t.Errorf("gc removed the wanted slot's volume %s together with its exited container:\n%s", vol[:12], out)
	}
	_ = exec.Command("docker", "volume", "rm", vol).Run()
}

// TestAttackDryRunSaysCarriesOverOnlyWhenItDoes: a rollout that puts a
// tmpfs over the VOLUME path mounts no volume there, and its reason (and
// so the dry run) no longer says the anonymous volume /data carries over.
func TestAttackDryRunSaysCarriesOverOnlyWhenItDoes(t *testing.T) {
	e := newStackE2E(t)
	_, img := stackImage(t)
	e.writeStack("", volApp(img, ""))
	e.mustBaton(0, "scale")
	vol := slotVolume(t, e.replicaID("db", 0))
	e.writeStack("", volApp(img, `    tmpfs: ["/data"]`))
	dry := e.mustBaton(0, "-n", "scale")
	e.mustBaton(0, "scale")
	mounts := dockerOut(t, "inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", e.replicaID("db", 0))
	if strings.Contains(dry, "carries over") && mounts != vol {
		t.Errorf("the dry run says the volume carries over, the new container mounts %q:\n%s", mounts, dry)
	}
	_ = exec.Command("docker", "volume", "rm", vol).Run()
}
