package plan

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

const mb = int64(1) << 20

func rbConfig() *spec.Rebalance {
	return &spec.Rebalance{Threshold: spec.Percent{Fraction: 0.7}, Target: spec.Percent{Fraction: 0.6}, MaxMoves: 5, MaxMovesPerNode: 2,
		Cooldown: spec.Duration{D: 10 * time.Minute}, ServiceCooldown: spec.Duration{D: time.Hour}}
}

// world: nodes n1 (4096 MiB), n2 (2048), n3 (8192); services given as
// name → "node:MiB[,node:MiB]" of their tasks (reservations).
func world(services map[string]string) ([]fleet.Node, []fleet.Service, []fleet.Task) {
	nodes := []fleet.Node{
		{ID: "n1", Hostname: "node1", Ready: true, Active: true, MemoryBytes: 4096 * mb, Role: "manager"},
		{ID: "n2", Hostname: "node2", Ready: true, Active: true, MemoryBytes: 2048 * mb, Role: "worker"},
		{ID: "n3", Hostname: "node3", Ready: true, Active: true, MemoryBytes: 8192 * mb, Role: "worker"},
	}
	var svcs []fleet.Service
	var tasks []fleet.Task
	for name, spread := range services {
		s := fleet.Service{ID: "s-" + name, Name: name, Labels: map[string]string{}}
		for i, part := range strings.Split(spread, ",") {
			var node string
			var size int64
			fmt.Sscanf(strings.Replace(part, ":", " ", 1), "%s %d", &node, &size)
			s.ReserveMemory = size * mb
			s.Replicas++
			tasks = append(tasks, fleet.Task{ID: fmt.Sprintf("t-%s-%d", name, i), ServiceID: s.ID, NodeID: node, State: "running"})
		}
		svcs = append(svcs, s)
	}
	return nodes, svcs, tasks
}

func moveList(p RebalancePlan) string {
	var out []string
	for _, m := range p.Moves {
		out = append(out, m.Name+":"+m.From+">"+m.To)
	}
	return strings.Join(out, " ")
}

func TestRebalance(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		services map[string]string
		edit     func(*RebalanceInput)
		want     string // moves
		finding  string // a finding that must be there
	}{
		{name: "nothing over", services: map[string]string{"a": "n2:1000", "b": "n1:1000"}, want: ""},
		{name: "one heavy service: the smallest that alone suffices moves",
			// node2: 900+400+100+100 = 1500 of 2048 (73%); 70% = 1433.6: shed 67.
			services: map[string]string{"heavy": "n2:900", "med": "n2:400", "s1": "n2:100", "s2": "n2:100"},
			want:     "s1:node2>node3"},
		{name: "two moves when no single one suffices",
			// node2: 4×400 = 1600 + 300 = 1900 (93%): shed 467 → 400 then 300? smallest single ≥ 467 none; largest 400 (a), then remaining 67 → smallest ≥ 67 is 300 (e).
			services: map[string]string{"a": "n2:400", "b": "n2:400", "c": "n2:400", "d": "n2:400", "e": "n2:300"},
			// e goes to node1, which ends lower (7.3%) than node3 would (8.5%).
			want: "a:node2>node3 e:node2>node1"},
		{name: "never pushes a receiver over the target",
			// node3 full to 60% already (4916 of 8192); node1 empty takes it.
			services: map[string]string{"big": "n2:1600", "fill": "n3:4900"},
			want:     "big:node2>node1"},
		{name: "no receiver: reported, nothing moved",
			services: map[string]string{"big": "n2:1600", "fill": "n3:4900", "fill1": "n1:2400"},
			want:     "", finding: "node node2 stays at 78.1% of its memory (threshold 70.0%): no movable service fits another node under the target"},
		{name: "spread services and global services stay",
			services: map[string]string{"spread": "n2:1600,n1:1600", "glob": "n2:1600"},
			edit: func(in *RebalanceInput) {
				for i := range in.Services {
					if in.Services[i].Name == "glob" {
						in.Services[i].Global = true
					}
				}
			},
			want: "", finding: "node node2 stays at"},
		{name: "the owner's hostname pin is respected",
			services: map[string]string{"db": "n2:1600"},
			edit: func(in *RebalanceInput) {
				in.Services[0].Constraints = []string{"node.hostname==node2"}
			},
			want: ""},
		{name: "other constraints choose the receiver",
			services: map[string]string{"web": "n2:1600"},
			edit: func(in *RebalanceInput) {
				in.Services[0].Constraints = []string{"node.role==manager"}
			},
			want: "web:node2>node1"},
		{name: "anchors are fixed", services: map[string]string{"db": "n2:1600"},
			edit: func(in *RebalanceInput) { in.Anchors = []spec.Anchor{{Service: "app", Anchor: "db"}} }, want: ""},
		{name: "service cooldown", services: map[string]string{"web": "n2:1600", "api": "n2:100"},
			edit: func(in *RebalanceInput) { in.Moved = map[string]time.Time{"web": now.Add(-20 * time.Minute)} },
			want: "api:node2>node3", finding: "stays at"},
		{name: "global cooldown", services: map[string]string{"web": "n2:1600"},
			edit: func(in *RebalanceInput) { in.Moved = map[string]time.Time{"other": now.Add(-time.Minute)} },
			want: "", finding: "global cooldown until 2026-11-23T12:09:00Z"},
		{name: "max moves per node", services: map[string]string{"a": "n2:500", "b": "n2:500", "c": "n2:500", "d": "n2:500"},
			edit: func(in *RebalanceInput) { in.Config.MaxMovesPerNode = 1 },
			want: "a:node2>node3", finding: "max_moves_per_node (1) reached"},
		{name: "a down node neither gives nor receives", services: map[string]string{"big": "n2:1600"},
			edit: func(in *RebalanceInput) { in.Nodes[2].Ready = false },
			want: "big:node2>node1", finding: "node node3 is down: skipped"},
		{name: "measured usage wins over reservations", services: map[string]string{"a": "n2:100", "b": "n2:100"},
			edit: func(in *RebalanceInput) { in.Usage = map[string]int64{"t-a-0": 1700 * mb} },
			want: "a:node2>node3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nodes, svcs, tasks := world(c.services)
			sortServices(svcs)
			in := RebalanceInput{Config: rbConfig(), Nodes: nodes, Services: svcs, Tasks: tasks, Now: now}
			if c.edit != nil {
				c.edit(&in)
			}
			p := Rebalance(in)
			if got := moveList(p); got != c.want {
				t.Errorf("moves %q, want %q\nfindings: %v", got, c.want, p.Findings)
			}
			if c.finding != "" && !strings.Contains(strings.Join(p.Findings, "\n"), c.finding) {
				t.Errorf("no finding %q in %v", c.finding, p.Findings)
			}
			// Whenever moves were made and nothing is reported as staying
			// over, every node is under the threshold and every receiver
			// at or under the target.
			for _, l := range p.After {
				if l.Over && !strings.Contains(strings.Join(p.Findings, "\n"), "node "+l.Node+" stays") && !strings.Contains(strings.Join(p.Findings, "\n"), "cooldown") {
					t.Errorf("node %s is left over the threshold without a finding: %+v", l.Node, l)
				}
			}
			for _, m := range p.Moves {
				for _, l := range p.After {
					if l.Node == m.To && l.Share > in.Config.Target.Fraction {
						t.Errorf("receiver %s ends at %.3f, above the target", l.Node, l.Share)
					}
				}
			}
		})
	}
}

func sortServices(s []fleet.Service) {
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}

// TestRebalanceConverges: applying a plan's moves and deciding again
// moves nothing (once the cooldown is over too).
func TestRebalanceConverges(t *testing.T) {
	nodes, svcs, tasks := world(map[string]string{"a": "n2:400", "b": "n2:400", "c": "n2:400", "d": "n2:400", "e": "n2:300", "f": "n1:3000"})
	sortServices(svcs)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	in := RebalanceInput{Config: rbConfig(), Nodes: nodes, Services: svcs, Tasks: tasks, Now: now}
	p := Rebalance(in)
	if len(p.Moves) == 0 {
		t.Fatal("nothing moved")
	}
	hostID := map[string]string{"node1": "n1", "node2": "n2", "node3": "n3"}
	moved := map[string]time.Time{}
	for _, m := range p.Moves {
		for i := range tasks {
			if tasks[i].ServiceID == m.Service.ID {
				tasks[i].NodeID = hostID[m.To]
			}
		}
		moved[m.Name] = now
	}
	again := Rebalance(RebalanceInput{Config: rbConfig(), Nodes: nodes, Services: svcs, Tasks: tasks, Moved: moved, Now: now.Add(2 * time.Hour)})
	if len(again.Moves) != 0 || len(again.Unpins) != 0 {
		t.Errorf("second pass: moves %s, unpins %v", moveList(again), again.Unpins)
	}
	for _, l := range again.Before {
		if l.Over {
			t.Errorf("node %s still over: %+v", l.Node, l)
		}
	}
}

func TestRebalanceUnpins(t *testing.T) {
	nodes, svcs, tasks := world(map[string]string{"web": "n3:100", "api": "n2:100"})
	sortServices(svcs) // api, web
	svcs[0].Labels[fleet.LabelPin] = "node.hostname==node3"
	svcs[0].Constraints = []string{"node.hostname==node3"}
	svcs[1].Labels[fleet.LabelPin] = "node.hostname==node3"
	svcs[1].Constraints = []string{"node.hostname==node3"}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	svcs[0].Labels[fleet.LabelPinSince] = now.Add(-time.Minute).Format(time.RFC3339)
	cfg := rbConfig()
	cfg.Wait.D = time.Minute
	p := Rebalance(RebalanceInput{Config: cfg, Nodes: nodes, Services: svcs, Tasks: tasks, Now: now})
	if len(p.Unpins) != 1 || p.Unpins[0].Name != "web" {
		t.Errorf("unpins %+v, want web only", p.Unpins)
	}
	if !strings.Contains(strings.Join(p.Findings, "\n"), "service api is still moving to node3") {
		t.Errorf("findings %v", p.Findings)
	}
	// Ten waits later the move of api is given up.
	p = Rebalance(RebalanceInput{Config: cfg, Nodes: nodes, Services: svcs, Tasks: tasks, Now: now.Add(10 * time.Minute)})
	if len(p.Unpins) != 2 || p.Unpins[0].Name != "api" || !strings.Contains(p.Unpins[0].Reason, "did not complete within 10m0s") {
		t.Errorf("unpins %+v, want api given up (and web)", p.Unpins)
	}
}

func TestSatisfies(t *testing.T) {
	n := fleet.Node{ID: "abc", Hostname: "Node2", Role: "worker", Labels: map[string]string{"zone": "b"}}
	for _, c := range []struct {
		cons []string
		want bool
	}{
		{nil, true},
		{[]string{"node.hostname==node2"}, true},
		{[]string{"node.hostname!=node2"}, false},
		{[]string{"node.role == worker", "node.labels.zone==b"}, true},
		{[]string{"node.labels.zone!=b"}, false},
		{[]string{"node.labels.missing!=x"}, true},
		{[]string{"node.labels.missing==x"}, false},
		{[]string{"engine.labels.x==y"}, false},
		{[]string{"garbage"}, false},
	} {
		if got := Satisfies(n, c.cons); got != c.want {
			t.Errorf("Satisfies(%v) = %v, want %v", c.cons, got, c.want)
		}
	}
}
