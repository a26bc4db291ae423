package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/state"
)

// fleetN is n replicas over apps of at most 500 (the spec's cap), every
// replica running and ready, one in ten on an outdated spec.
func fleetN(b *testing.B, n int) ([]fleet.Container, map[string]bool, string) {
	apps := (n + 499) / 500
	y := "nginx: {config: c.conf, test: [t], reload: [r], listen: \"127.0.0.1:80\"}\napps:\n"
	for a := 0; a < apps; a++ {
		y += fmt.Sprintf("  - {name: app%d, image: img:1, port: 80, replicas: %d, lb: {path: /a%d}, autoscale: {min: 1, max: 500, targets: {rps: 100, cpu: 50%%}}}\n", a, n/apps, a)
	}
	var cs []fleet.Container
	ready := map[string]bool{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("c%05d", i)
		cs = append(cs, fleet.Container{ID: id, Name: id, App: fmt.Sprintf("app%d", i%apps), Replica: i / apps, State: "running",
			Created: t0.Add(-time.Hour), Addr: fmt.Sprintf("10.0.%d.%d:80", i/250, i%250)})
		ready[id] = true
	}
	return cs, ready, y
}

// sizes are the fleet sizes the benchmarks decide for.
var sizes = []int{1000, 10000}

func BenchmarkScaleDecide(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cs, ready, y := fleetN(b, n)
			s := testSpec(b, y)
			for i := range cs {
				if i%10 != 0 {
					cs[i].Hash = s.HashOf(s.App(cs[i].App))
				}
			}
			in := ScaleInput{Spec: s, Want: Desired(s, nil, nil), Containers: cs, Ready: ready}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if p := ScalePass(in, t0); len(p.Steps) != n/10 {
					b.Fatalf("%d steps", len(p.Steps))
				}
			}
		})
	}
}

func BenchmarkHealDecide(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cs, _, y := fleetN(b, n)
			s := testSpec(b, y)
			probes := map[string]error{}
			counters := map[string]*state.Probe{}
			for i, c := range cs {
				probes[c.ID] = nil
				counters[c.ID] = &state.Probe{Successes: 3, InRotation: true, Ever: true}
				if i%50 == 0 {
					probes[c.ID] = fmt.Errorf("status 500")
					counters[c.ID] = &state.Probe{Failures: 2, InRotation: true, Ever: true}
				}
			}
			in := HealInput{Spec: s, Want: Desired(s, nil, nil), Containers: cs, Probes: probes, Counters: counters}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if p := HealPass(in, t0); len(p.Of(Replace)) != n/50 {
					b.Fatalf("%d replacements", len(p.Of(Replace)))
				}
			}
		})
	}
}

// BenchmarkMembership folds a pass's probes into the counters and decides
// the balancer's members (what every pass that probes does).
func BenchmarkMembership(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cs, _, y := fleetN(b, n)
			s := testSpec(b, y)
			probes := map[string]error{}
			counters := map[string]*state.Probe{}
			for _, c := range cs {
				probes[c.ID] = nil
				counters[c.ID] = &state.Probe{Successes: 3, InRotation: true, Ever: true}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pr := UpdateProbes(s, cs, probes, counters, t0)
				if m, _ := Members(s, cs, pr.Counters); len(m) != n {
					b.Fatalf("%d members", len(m))
				}
			}
		})
	}
}

func BenchmarkAutoscaleDecide(b *testing.B) {
	s := testSpec(b, asSpec)
	app := s.App("web")
	var recs []state.Rec
	for i := 0; i < 20; i++ {
		recs = append(recs, state.Rec{At: sunday.Add(-time.Duration(i) * 15 * time.Second), Replicas: 5 + i%3})
	}
	in := AutoscaleInput{App: app, Current: 6, Ready: 6, Metrics: Metrics{RPS: f(420), CPU: f(0.4)}, Memory: state.Autoscale{Recs: recs}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Autoscale(in, sunday)
	}
}

func BenchmarkBalancerView(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cs, ready, y := fleetN(b, n)
			s := testSpec(b, y)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v := Balancer(s, InRotation(s, cs, ready))
				if len(v.Upstreams) != (n+499)/500 {
					b.Fatal(len(v.Upstreams))
				}
			}
		})
	}
}

// BenchmarkRebalance50x1000 decides a rebalance over 50 nodes and 1,000
// single-task services, with 10 nodes over the threshold (the cap on moves
// lifted so every over node is worked).
func BenchmarkRebalance50x1000(b *testing.B) {
	const gib = int64(1) << 30
	var nodes []fleet.Node
	for n := 0; n < 50; n++ {
		nodes = append(nodes, fleet.Node{ID: fmt.Sprintf("n%02d", n), Hostname: fmt.Sprintf("node%02d", n), Ready: true, Active: true, MemoryBytes: 16 * gib})
	}
	var svcs []fleet.Service
	var tasks []fleet.Task
	for i := 0; i < 1000; i++ {
		node := i % 50
		size := int64(200+i%7*50) << 20 // 200–500 MiB
		if node < 10 {
			size *= 3 // the first 10 nodes are pressed
		}
		s := fleet.Service{ID: fmt.Sprintf("s%04d", i), Name: fmt.Sprintf("svc%04d", i), Replicas: 1, ReserveMemory: size, Labels: map[string]string{}}
		svcs = append(svcs, s)
		tasks = append(tasks, fleet.Task{ID: "t" + s.ID, ServiceID: s.ID, NodeID: nodes[node].ID, State: "running"})
	}
	cfg := rbConfig()
	cfg.MaxMoves, cfg.MaxMovesPerNode = 1000, 100
	in := RebalanceInput{Config: cfg, Nodes: nodes, Services: svcs, Tasks: tasks, Now: t0}
	if p := Rebalance(in); len(p.Moves) == 0 {
		b.Fatal("nothing to move: the benchmark measures nothing")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Rebalance(in)
	}
}
