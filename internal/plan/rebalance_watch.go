// What a rebalance pass watches: moves that arrived, failed or got stuck, and the load of each node.

package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// MovedFrom is when each service was last moved: its baton.rebalance.moved
// label, set when a pass pins it and kept after the pin is gone, so a
// second manager's pass keeps the cooldowns of the first; the legacy local
// record counts when it is later.
func MovedFrom(services []fleet.Service, local map[string]time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for name, at := range local {
		out[name] = at
	}
	for _, s := range services {
		if at, err := time.Parse(time.RFC3339, s.Labels[fleet.LabelMoved]); err == nil && at.After(out[s.Name]) {
			out[s.Name] = at
		}
	}
	return out
}

// MoveFailed says why a pinned service's move will not complete, when
// Swarm gave it up: its update paused or rolled back (a new task that
// failed on the target node), or a task it wants running was rejected or
// failed on the target node ("No such image", a port taken).
func MoveFailed(s fleet.Service, tasks []fleet.Task, target string) (string, bool) {
	if s.UpdateStuck() {
		why := "Swarm's update is " + strings.ReplaceAll(s.UpdateState, "_", " ")
		if s.UpdateMessage != "" {
			why += ": " + s.UpdateMessage
		}
		return why, true
	}
	for _, t := range tasks {
		if t.ServiceID == s.ID && t.NodeID == target && (t.State == "rejected" || t.State == "failed") {
			why := "its task on the new node " + t.State
			if t.Err != "" {
				why += ": " + t.Err
			}
			return why, true
		}
	}
	return "", false
}

// arrivedOn: every task the service wants runs on the node.
func arrivedOn(s fleet.Service, ts []fleet.Task, nodeID string) bool {
	return allOn(ts, nodeID) && len(ts) > 0 && (s.Global || uint64(len(ts)) >= s.Replicas)
}

// Arrived lists the services pinned by a move whose tasks all run, on
// ready nodes, on the node they were pinned to: their pins can go.
func Arrived(nodes []fleet.Node, services []fleet.Service, tasks []fleet.Task) []Unpin {
	ready := map[string]bool{}
	for _, n := range nodes {
		ready[n.ID] = n.Ready
	}
	var out []Unpin
	for _, s := range services {
		pin := s.Labels[fleet.LabelPin]
		if pin == "" {
			continue
		}
		host := strings.TrimPrefix(pin, "node.hostname==")
		node, known := nodeByHost(nodes, host)
		var ts []fleet.Task
		for _, t := range tasks {
			if t.ServiceID == s.ID && t.Running() && ready[t.NodeID] {
				ts = append(ts, t)
			}
		}
		if known && node.Ready && arrivedOn(s, ts, node.ID) {
			out = append(out, Unpin{Service: s, Name: s.Name, Reason: fmt.Sprintf("its tasks run on %s: the pin of an earlier move is removed", host)})
		}
	}
	return out
}

// stuckAfter is how long a move may take before rebalance gives it up:
// ten times the pass's wait, at least 5 minutes.
func stuckAfter(cfg *spec.Rebalance) time.Duration {
	return max(10*cfg.Wait.D, 5*time.Minute)
}

// pinStuck: the service was pinned longer ago than stuckAfter. A move runs
// start-first, so a task that cannot start on the new node leaves the old
// one serving; giving up removes the pin and Swarm keeps the old task.
func pinStuck(s fleet.Service, now time.Time, cfg *spec.Rebalance) bool {
	since, err := time.Parse(time.RFC3339, s.Labels[fleet.LabelPinSince])
	return err == nil && now.Sub(since) > stuckAfter(cfg)
}

func taskBytes(t fleet.Task, s fleet.Service, usage map[string]int64) int64 {
	if b, ok := usage[t.ID]; ok {
		return b
	}
	return s.ReserveMemory
}

func loads(nodes []fleet.Node, used map[string]int64, cfg *spec.Rebalance) []NodeLoad {
	out := make([]NodeLoad, 0, len(nodes))
	for _, n := range nodes {
		l := NodeLoad{Node: n.Hostname, Capacity: n.MemoryBytes, Used: used[n.ID], Down: !n.Ready}
		if n.MemoryBytes > 0 {
			l.Share = float64(l.Used) / float64(n.MemoryBytes)
		}
		l.Over = n.Ready && l.Share > cfg.Threshold.Fraction
		out = append(out, l)
	}
	return out
}

func nodeByHost(nodes []fleet.Node, host string) (fleet.Node, bool) {
	for _, n := range nodes {
		if n.Hostname == host {
			return n, true
		}
	}
	return fleet.Node{}, false
}

func allOn(ts []fleet.Task, nodeID string) bool {
	for _, t := range ts {
		if t.NodeID != nodeID {
			return false
		}
	}
	return true
}

func lastMove(moved map[string]time.Time) time.Time {
	var last time.Time
	for _, t := range moved {
		if t.After(last) {
			last = t
		}
	}
	return last
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }
