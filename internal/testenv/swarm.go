package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/clock"
)

// Swarm is a multi-node Docker Swarm on this machine (scripts/swarm.sh):
// one dockerd per network namespace, node 1 the manager.
type Swarm struct {
	Dir   string
	Net   string // the /24's first three octets
	Nodes int
	// Up is how long the swarm took to come up.
	Up time.Duration
}

// Host is node k's engine, for --docker-host.
func (s *Swarm) Host(k int) string { return fmt.Sprintf("unix://%s/node%d.sock", s.Dir, k) }

// Addr is node k's address on the swarm's network.
func (s *Swarm) Addr(k int) string { return fmt.Sprintf("%s.1%d", s.Net, k) }

// Docker runs the docker CLI against node k.
func (s *Swarm) Docker(t testing.TB, k int, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", append([]string{"-H", s.Host(k)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker -H node%d %v: %v\n%s", k, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func swarmScript() string { return filepath.Join(Root(), "scripts", "swarm.sh") }

// StartSwarm brings up an n-node swarm and tears it down when the test
// ends. It needs root and a Docker engine's binaries.
func StartSwarm(t testing.TB, n int) *Swarm {
	t.Helper()
	return StartSwarmSized(t, make([]int, n))
}

// StartSwarmSized brings up a swarm of len(memMiB) nodes in which node k
// reports memMiB[k-1] MiB of memory (0: the host's); Swarm schedules
// memory reservations by these made-up sizes.
func StartSwarmSized(t testing.TB, memMiB []int) *Swarm {
	t.Helper()
	n := len(memMiB)
	if testing.Short() {
		Missing(t, "-short")
	}
	if os.Geteuid() != 0 {
		Missing(t, "a swarm of network namespaces needs root")
	}
	Tool(t, "dockerd")
	Tool(t, "docker-init")
	Tool(t, "nsenter")
	s := &Swarm{Dir: "/run/baton-swarm", Net: "10.213.7", Nodes: n}
	// One swarm at a time on this machine: `go test ./...` runs packages
	// in parallel, and the swarm's namespaces and addresses are fixed.
	// The lock is held until the test ends (the kernel drops it if the
	// process dies).
	lock, err := os.OpenFile("/run/baton-swarm.lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	})
	wall := clock.Real{}
	start := wall.Now()
	cmd := exec.Command(swarmScript(), "up", fmt.Sprint(n))
	var mem []string
	for _, m := range memMiB {
		mem = append(mem, fmt.Sprint(m))
	}
	cmd.Env = append(os.Environ(), "BATON_SWARM_DIR="+s.Dir, "BATON_SWARM_NET="+s.Net, "BATON_SWARM_MEM="+strings.Join(mem, " "))
	out, err := cmd.CombinedOutput()
	s.Up = wall.Now().Sub(start)
	t.Cleanup(func() { StopSwarm(t, s) })
	if err != nil {
		t.Fatalf("swarm up: %v\n%s", err, out)
	}
	return s
}

// StopSwarm tears the swarm down.
func StopSwarm(t testing.TB, s *Swarm) {
	cmd := exec.Command(swarmScript(), "down")
	cmd.Env = append(os.Environ(), "BATON_SWARM_DIR="+s.Dir, "BATON_SWARM_NET="+s.Net)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("swarm down: %v\n%s", err, out)
	}
}

// KillNode kills node k's namespace, as a machine that died, and waits
// until the manager reports it Down (bounded: 30s).
func (s *Swarm) KillNode(t testing.TB, k int) {
	t.Helper()
	cmd := exec.Command(swarmScript(), "kill", fmt.Sprint(k))
	cmd.Env = append(os.Environ(), "BATON_SWARM_DIR="+s.Dir, "BATON_SWARM_NET="+s.Net)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("swarm kill node%d: %v\n%s", k, err, out)
	}
	wall := clock.Real{}
	deadline := wall.Now().Add(30 * time.Second)
	for wall.Now().Before(deadline) {
		out, _ := exec.Command("docker", "-H", s.Host(1), "node", "inspect", fmt.Sprintf("node%d", k), "--format", "{{.Status.State}}").Output()
		if strings.TrimSpace(string(out)) == "down" {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("node%d was not reported down within 30s", k)
}

// Isolate cuts node k off the network (every packet in and out of its
// namespace dropped: connections to it time out, its tasks keep running)
// and waits until the manager reports it down (bounded: 30s). Rejoin
// undoes it.
func (s *Swarm) Isolate(t testing.TB, k int) {
	t.Helper()
	s.script(t, "isolate", k)
	s.waitState(t, k, "down")
}

// IsolateNoWait cuts node k off without waiting for Swarm to notice.
func (s *Swarm) IsolateNoWait(t testing.TB, k int) { t.Helper(); s.script(t, "isolate", k) }

// Rejoin lets node k's traffic through again and waits until it is ready
// (bounded: 60s).
func (s *Swarm) Rejoin(t testing.TB, k int) {
	t.Helper()
	s.script(t, "rejoin", k)
	s.waitState(t, k, "ready")
}

func (s *Swarm) script(t testing.TB, verb string, k int) {
	t.Helper()
	cmd := exec.Command(swarmScript(), verb, fmt.Sprint(k))
	cmd.Env = append(os.Environ(), "BATON_SWARM_DIR="+s.Dir, "BATON_SWARM_NET="+s.Net)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("swarm %s node%d: %v\n%s", verb, k, err, out)
	}
}

func (s *Swarm) waitState(t testing.TB, k int, want string) {
	t.Helper()
	wall := clock.Real{}
	deadline := wall.Now().Add(60 * time.Second)
	for wall.Now().Before(deadline) {
		out, _ := exec.Command("docker", "-H", s.Host(1), "node", "inspect", fmt.Sprintf("node%d", k), "--format", "{{.Status.State}}").Output()
		if strings.TrimSpace(string(out)) == want {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("node%d was not reported %s within 60s", k, want)
}
