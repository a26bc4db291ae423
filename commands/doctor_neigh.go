package commands

// The neighbour table check of doctor: every replica on the host's bridge
// is a neighbour (an ARP entry) of the host, and past the kernel's
// gc_thresh3 the host drops packets to new ones. At 1,000 replicas with
// the defaults (512 and 1,024) probes and the balancer's connections time
// out (seen in scripts/bench-pass.sh: heal found 623 of 1,000 healthy
// replicas failing).

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/baton-orchestrator/baton/internal/spec"
)

// neighSysctl is where the kernel's neighbour table limits are read.
var neighSysctl = "/proc/sys/net/ipv4/neigh/default/"

// localReplicas is the most replicas the spec's apps on this host can
// run (an autoscaled app's max).
func localReplicas(s *spec.Spec) int {
	n := 0
	for _, a := range s.Apps {
		if a == nil || a.OnSwarm() {
			continue
		}
		r := 1
		if a.Replicas != nil {
			r = *a.Replicas
		}
		if a.Autoscale != nil && a.Autoscale.Max > r {
			r = a.Autoscale.Max
		}
		n += r
	}
	return n
}

// neighCheck judges replicas against the table's soft (gc_thresh2) and
// hard (gc_thresh3) limits.
func neighCheck(replicas, soft, hard int) check {
	detail := fmt.Sprintf("up to %d replicas; the kernel's neighbour table keeps %d entries (gc_thresh2) and at most %d (gc_thresh3)", replicas, soft, hard)
	hint := fmt.Sprintf("raise it: sysctl -w net.ipv4.neigh.default.gc_thresh1=%d net.ipv4.neigh.default.gc_thresh2=%d net.ipv4.neigh.default.gc_thresh3=%d (and in /etc/sysctl.d)",
		replicas, max(soft, 2*replicas), max(hard, 4*replicas))
	switch {
	case replicas >= hard:
		return check{"neighbours", "fail", detail + ": past the limit, the host drops packets to new replicas, so probes and the balancer time out", hint}
	case replicas >= soft:
		return check{"neighbours", "warn", detail + ": past the soft limit, entries are dropped and probes stall while they are learnt again", hint}
	}
	return check{"neighbours", "ok", detail, ""}
}

// doctorNeighbours checks the neighbour table of a local engine's host.
func doctorNeighbours(s *spec.Spec, host string) check {
	if s == nil || !strings.HasPrefix(host, "unix://") {
		return check{"neighbours", "skip", "only for an engine on this host", ""}
	}
	read := func(name string) (int, error) {
		b, err := os.ReadFile(neighSysctl + name)
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(strings.TrimSpace(string(b)))
	}
	soft, err := read("gc_thresh2")
	hard, err2 := read("gc_thresh3")
	if err != nil || err2 != nil {
		return check{"neighbours", "skip", "the kernel's neighbour table limits cannot be read", ""}
	}
	return neighCheck(localReplicas(s), soft, hard)
}
