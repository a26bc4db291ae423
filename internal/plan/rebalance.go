package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// RebalanceInput is what a rebalance pass observed.
type RebalanceInput struct {
	Config   *spec.Rebalance
	Nodes    []fleet.Node
	Services []fleet.Service
	Tasks    []fleet.Task
	// Usage is the measured memory of running tasks, by task ID (usage:
	// docker); a task without a measure counts its reservation.
	Usage map[string]int64
	// Anchors are swarm.anchors: both sides are never moved (labels sync
	// places them).
	Anchors []spec.Anchor
	// Moved is when each service was last moved (MovedFrom: the
	// services' own baton.rebalance.moved labels, which every manager
	// reads, and the legacy local record).
	Moved map[string]time.Time
	Now   time.Time
	// ReportOnly decides unpins and reports pressure, but moves nothing
	// (no swarm.rebalance in the spec).
	ReportOnly bool
}

// NodeLoad is a node's memory use as rebalance counts it.
type NodeLoad struct {
	Node     string  `json:"node"`
	Capacity int64   `json:"capacity_bytes"`
	Used     int64   `json:"used_bytes"`
	Share    float64 `json:"share"`
	Over     bool    `json:"over"`
	Down     bool    `json:"down,omitempty"`
}

// Move pins a service to a node: Swarm moves its tasks there.
type Move struct {
	Service fleet.Service `json:"-"`
	Name    string        `json:"service"`
	From    string        `json:"from"`
	To      string        `json:"to"`
	Bytes   int64         `json:"bytes"`
	Reason  string        `json:"reason"`
}

// Unpin removes the pin of an earlier move.
type Unpin struct {
	Service fleet.Service `json:"-"`
	Name    string        `json:"service"`
	Reason  string        `json:"reason"`
}

// RebalancePlan is rebalance's decision.
type RebalancePlan struct {
	Before   []NodeLoad `json:"before"`
	After    []NodeLoad `json:"after"`
	Moves    []Move     `json:"moves"`
	Unpins   []Unpin    `json:"unpins"`
	Findings []string   `json:"findings"`
	lasting  Lasting    // those of Findings that are incidents
	// Failed are moves Swarm gave up (partly done: exit 3).
	Failed []string `json:"failed,omitempty"`
}

// DownNodes reports every node that is not ready, in the words every
// pass uses.
func DownNodes(nodes []fleet.Node) []string {
	var out []string
	for _, n := range nodes {
		if !n.Ready {
			out = append(out, downFinding(n))
		}
	}
	return out
}

func downFinding(n fleet.Node) string { return fmt.Sprintf("node %s is down: skipped", n.Hostname) }

type candidate struct {
	svc   fleet.Service
	bytes int64 // its tasks' memory, all on the source node
}

// Rebalance decides a rebalance pass.
//
// Rules:
//   - a ready node's use is the memory of the running tasks on it (the
//     measured use where given, else the task's reservation); it is under
//     pressure when use/capacity is above the threshold. Nodes that are
//     down are reported and neither give nor receive;
//   - a service pinned by an earlier pass is unpinned once its tasks run
//     on the pinned node (or when that node is down); while it moves, it
//     is not moved again;
//   - within the global cooldown after the last move, nothing moves;
//   - a service can move when all its running tasks are on the node under
//     pressure, it is replicated, not fixed (anchors), not pinned by its
//     own node.hostname/node.id constraints, and out of its cooldown; it
//     moves as a whole to the ready, active node its other constraints
//     allow that ends lowest, and never above the target;
//   - fewest moves: while the node is over, the smallest service that
//     alone brings it under is chosen if there is one, else the largest
//     that can move (the count is then minimal, as largest-first's);
//   - at most max_moves in a pass, max_moves_per_node off one node.
func Rebalance(in RebalanceInput) RebalancePlan {
	p := RebalancePlan{Moves: []Move{}, Unpins: []Unpin{}, Findings: []string{}}
	cfg := in.Config
	byID := map[string]fleet.Node{}
	for _, n := range in.Nodes {
		byID[n.ID] = n
	}
	svcByID := map[string]fleet.Service{}
	for _, s := range in.Services {
		svcByID[s.ID] = s
	}
	fixed := map[string]bool{}
	for _, a := range in.Anchors {
		fixed[a.Service], fixed[a.Anchor] = true, true
	}
	// What runs where.
	used := map[string]int64{}
	tasksOf := map[string][]fleet.Task{} // by service ID
	for _, t := range in.Tasks {
		n, ok := byID[t.NodeID]
		if !ok || !n.Ready || !t.Running() {
			continue
		}
		s, ok := svcByID[t.ServiceID]
		if !ok {
			continue
		}
		used[n.ID] += taskBytes(t, s, in.Usage)
		tasksOf[s.ID] = append(tasksOf[s.ID], t)
	}
	p.Findings = append(p.Findings, DownNodes(in.Nodes)...)
	p.Before = loads(in.Nodes, used, cfg)

	// Pins of earlier moves: remove once arrived, or at once when Swarm
	// gave the move up.
	failed := func(s fleet.Service, target string) string {
		why, _ := MoveFailed(s, in.Tasks, target)
		return why
	}
	moving := map[string]bool{}
	for _, s := range in.Services {
		pin := s.Labels[fleet.LabelPin]
		if pin == "" {
			continue
		}
		host := strings.TrimPrefix(pin, "node.hostname==")
		node, known := nodeByHost(in.Nodes, host)
		switch {
		case !known || !node.Ready:
			p.Unpins = append(p.Unpins, Unpin{Service: s, Name: s.Name, Reason: fmt.Sprintf("pinned to %s, which is down or gone: Swarm places it again", host)})
		case failed(s, node.ID) != "":
			why := failed(s, node.ID)
			p.Unpins = append(p.Unpins, Unpin{Service: s, Name: s.Name, Reason: fmt.Sprintf("the move to %s failed (%s): the pin is removed at once, its tasks stay where they run", host, why)})
			p.Failed = append(p.Failed, fmt.Sprintf("the move of %s to %s failed: %s", s.Name, host, why))
		case arrivedOn(s, tasksOf[s.ID], node.ID):
			p.Unpins = append(p.Unpins, Unpin{Service: s, Name: s.Name, Reason: fmt.Sprintf("its tasks run on %s: the pin of an earlier move is removed", host)})
		case pinStuck(s, in.Now, cfg):
			p.Unpins = append(p.Unpins, Unpin{Service: s, Name: s.Name, Reason: fmt.Sprintf("the move to %s did not complete within %s: the pin is removed and its tasks stay where they run", host, stuckAfter(cfg))})
		default:
			moving[s.ID] = true
			p.lasting.Note(&p.Findings, "moving", "service "+s.Name, fmt.Sprintf("service %s is still moving to %s", s.Name, host))
		}
	}

	var over []NodeLoad
	for _, l := range p.Before {
		if l.Over {
			over = append(over, l)
		}
	}
	if len(over) == 0 || in.ReportOnly {
		for _, l := range over {
			p.lasting.Note(&p.Findings, "pressure", "node "+l.Node, fmt.Sprintf("node %s is at %s of its memory (threshold %s): nothing moves without swarm.rebalance in the spec",
				l.Node, pct(l.Share), pct(cfg.Threshold.Fraction)))
		}
		p.After = p.Before
		return p
	}
	if last := lastMove(in.Moved); !last.IsZero() && in.Now.Sub(last) < cfg.Cooldown.D {
		for _, l := range over {
			p.lasting.Note(&p.Findings, "pressure", "node "+l.Node, fmt.Sprintf("node %s is at %s of its memory (threshold %s): in the global cooldown until %s",
				l.Node, pct(l.Share), pct(cfg.Threshold.Fraction), last.Add(cfg.Cooldown.D).UTC().Format(time.RFC3339)))
		}
		p.After = p.Before
		return p
	}
	// Most pressed first.
	sort.SliceStable(over, func(i, j int) bool {
		if over[i].Share != over[j].Share {
			return over[i].Share > over[j].Share
		}
		return over[i].Node < over[j].Node
	})
	for _, src := range over {
		if len(p.Moves) >= cfg.MaxMoves {
			p.lasting.Note(&p.Findings, "pressure", "node "+src.Node, fmt.Sprintf("node %s stays over the threshold: max_moves (%d) reached", src.Node, cfg.MaxMoves))
			continue
		}
		srcNode, _ := nodeByHost(in.Nodes, src.Node)
		var cands []candidate
		for _, s := range in.Services {
			ts := tasksOf[s.ID]
			if len(ts) == 0 || !allOn(ts, srcNode.ID) || moving[s.ID] || s.Global {
				continue
			}
			if fixed[s.Name] || pinnedByOwner(s) {
				continue
			}
			if t, ok := in.Moved[s.Name]; ok && in.Now.Sub(t) < cfg.ServiceCooldown.D {
				continue
			}
			var b int64
			for _, t := range ts {
				b += taskBytes(t, s, in.Usage)
			}
			if b > 0 {
				cands = append(cands, candidate{svc: s, bytes: b})
			}
		}
		// Largest first; equal sizes by name, so the plan is deterministic.
		sort.Slice(cands, func(i, j int) bool {
			if cands[i].bytes != cands[j].bytes {
				return cands[i].bytes > cands[j].bytes
			}
			return cands[i].svc.Name < cands[j].svc.Name
		})
		limit := float64(srcNode.MemoryBytes) * cfg.Threshold.Fraction
		fromNode := 0
		for float64(used[srcNode.ID]) > limit && fromNode < cfg.MaxMovesPerNode && len(p.Moves) < cfg.MaxMoves {
			excess := float64(used[srcNode.ID]) - limit
			pick, to := -1, fleet.Node{}
			// The smallest that alone suffices (by name on a tie)...
			for i := range cands {
				if float64(cands[i].bytes) < excess || (pick >= 0 && cands[i].bytes >= cands[pick].bytes) {
					continue
				}
				if n, ok := receiver(in.Nodes, used, cands[i], srcNode.ID, cfg); ok {
					pick, to = i, n
				}
			}
			// ...else the largest that can move.
			if pick < 0 {
				for i := range cands {
					if n, ok := receiver(in.Nodes, used, cands[i], srcNode.ID, cfg); ok {
						pick, to = i, n
						break
					}
				}
			}
			if pick < 0 {
				break
			}
			c := cands[pick]
			cands = append(cands[:pick], cands[pick+1:]...)
			used[srcNode.ID] -= c.bytes
			used[to.ID] += c.bytes
			fromNode++
			p.Moves = append(p.Moves, Move{Service: c.svc, Name: c.svc.Name, From: srcNode.Hostname, To: to.Hostname, Bytes: c.bytes,
				Reason: fmt.Sprintf("%s is at %s of its memory (threshold %s); %s moves %s to %s, which ends at %s (target %s)",
					srcNode.Hostname, pct(src.Share), pct(cfg.Threshold.Fraction), c.svc.Name, mib(c.bytes), to.Hostname,
					pct(float64(used[to.ID])/float64(to.MemoryBytes)), pct(cfg.Target.Fraction))})
		}
		if float64(used[srcNode.ID]) > limit {
			why := "no movable service fits another node under the target"
			switch {
			case fromNode >= cfg.MaxMovesPerNode:
				why = fmt.Sprintf("max_moves_per_node (%d) reached", cfg.MaxMovesPerNode)
			case len(p.Moves) >= cfg.MaxMoves:
				why = fmt.Sprintf("max_moves (%d) reached", cfg.MaxMoves)
			}
			p.lasting.Note(&p.Findings, "pressure", "node "+src.Node, fmt.Sprintf("node %s stays at %s of its memory (threshold %s): %s",
				src.Node, pct(float64(used[srcNode.ID])/float64(srcNode.MemoryBytes)), pct(cfg.Threshold.Fraction), why))
		}
	}
	p.After = loads(in.Nodes, used, cfg)
	return p
}

// receiver picks where c goes: a ready, active node other than the source
// that its constraints allow and that stays at or under the target; the
// one that ends lowest, by hostname on a tie.
func receiver(nodes []fleet.Node, used map[string]int64, c candidate, src string, cfg *spec.Rebalance) (fleet.Node, bool) {
	best, bestShare, found := fleet.Node{}, 0.0, false
	for _, n := range nodes {
		if n.ID == src || !n.Ready || !n.Active || n.MemoryBytes <= 0 || !Satisfies(n, c.svc.Constraints) {
			continue
		}
		share := float64(used[n.ID]+c.bytes) / float64(n.MemoryBytes)
		if share > cfg.Target.Fraction {
			continue
		}
		if !found || share < bestShare || (share == bestShare && n.Hostname < best.Hostname) {
			best, bestShare, found = n, share, true
		}
	}
	return best, found
}
