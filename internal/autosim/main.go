// Command autosim replays load traces through baton's autoscaling decider
// (internal/plan.Autoscale, the same code scale runs) and reports, per
// policy, the replica-seconds spent and the seconds over target, to tune
// the defaults. Run it from the repository root:
//
//	go run ./internal/autosim                 # built-in traces, markdown table
//	go run ./internal/autosim -trace f.csv    # a trace of "seconds,rps" lines
//
// Model: a pass every -every seconds; a new replica is ready -startup
// seconds after it is started; removed replicas go at once; the metric is
// requests per second, divided over the ready replicas.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

type point struct {
	at  int // seconds
	rps float64
}

// traces are deterministic (fixed seed), one sample per second.
func traces() map[string][]point {
	gen := func(n int, f func(s int, r *rand.Rand) float64) []point {
		r := rand.New(rand.NewSource(1))
		out := make([]point, n)
		for s := range out {
			out[s] = point{s, math.Max(0, f(s, r))}
		}
		return out
	}
	return map[string][]point{
		"spike": gen(3600, func(s int, r *rand.Rand) float64 {
			if s >= 900 && s < 1500 {
				return 2000 + 100*r.NormFloat64()
			}
			return 300 + 30*r.NormFloat64()
		}),
		"diurnal": gen(3600, func(s int, r *rand.Rand) float64 {
			return 900 + 700*math.Sin(2*math.Pi*float64(s)/3600) + 40*r.NormFloat64()
		}),
		"noisy-constant": gen(3600, func(s int, r *rand.Rand) float64 {
			return 1000 * (1 + 0.08*r.NormFloat64())
		}),
		"sawtooth": gen(3600, func(s int, r *rand.Rand) float64 {
			return 200 + float64(s%600)*3
		}),
	}
}

func readTrace(path string) ([]point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []point
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(parts) != 2 {
			continue
		}
		at, err1 := strconv.Atoi(parts[0])
		rps, err2 := strconv.ParseFloat(parts[1], 64)
		if err1 == nil && err2 == nil {
			out = append(out, point{at, rps})
		}
	}
	return out, sc.Err()
}

type policy struct {
	name string
	yaml string
}

var policies = []policy{
	{"defaults (tolerance 0.1, stabilization 5m)", ""},
	{"no stabilization", "scale_down: {stabilization: 0s}"},
	{"stabilization 1m", "scale_down: {stabilization: 1m}"},
	{"no tolerance", "tolerance: 0"},
	{"scale-down 1 per 2m", "scale_down: {max_step: 1, period: 2m}"},
}

type result struct {
	replicaSeconds float64
	overTarget     int
	changes        int
	peak           int
}

func simulate(tr []point, pol policy, every, startup int, target float64) result {
	y := fmt.Sprintf(`
nginx: {config: c.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:80"}
apps:
  - name: web
    image: web:1
    port: 8080
    lb: {}
    autoscale: {min: 1, max: 20, targets: {rps: %g}%s}
`, target, map[bool]string{true: "", false: ", " + pol.yaml}[pol.yaml == ""])
	s, err := spec.Parse("sim.yaml", []byte(y))
	if err != nil {
		panic(err)
	}
	app := s.App("web")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mem state.Autoscale
	desired := 1
	readyAt := []int{0} // when each replica became (or becomes) ready
	var res result
	var window []float64
	for _, p := range tr {
		ready := 0
		for _, r := range readyAt {
			if r <= p.at {
				ready++
			}
		}
		res.replicaSeconds += float64(len(readyAt))
		if ready == 0 || p.rps/float64(ready) > target {
			res.overTarget++
		}
		window = append(window, p.rps)
		if p.at%every != every-1 {
			continue
		}
		var sum float64
		for _, v := range window {
			sum += v
		}
		rps := sum / float64(len(window))
		window = window[:0]
		now := base.Add(time.Duration(p.at) * time.Second)
		d := plan.Autoscale(plan.AutoscaleInput{App: app, Current: desired, Ready: ready, Metrics: plan.Metrics{RPS: &rps}, Memory: mem}, now)
		mem = plan.Remember(mem, d, app.Autoscale, now)
		if d.Final != desired {
			res.changes++
		}
		for len(readyAt) < d.Final {
			readyAt = append(readyAt, p.at+startup)
		}
		readyAt = readyAt[:d.Final]
		desired = d.Final
		res.peak = max(res.peak, desired)
	}
	return res
}

func main() {
	tracePath := flag.String("trace", "", "a CSV trace of seconds,rps (default: the built-in traces)")
	every := flag.Int("every", 15, "seconds between scale passes")
	startup := flag.Int("startup", 10, "seconds a new replica takes to become ready")
	target := flag.Float64("target", 100, "target requests per second per replica")
	flag.Parse()
	set := traces()
	names := []string{"spike", "diurnal", "noisy-constant", "sawtooth"}
	if *tracePath != "" {
		tr, err := readTrace(*tracePath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "autosim:", err)
			os.Exit(1)
		}
		set = map[string][]point{*tracePath: tr}
		names = []string{*tracePath}
	}
	fmt.Printf("pass every %ds, replicas ready %ds after start, target %g rps per replica\n\n", *every, *startup, *target)
	fmt.Println("| trace | policy | replica-hours | time over target | changes | peak |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, n := range names {
		for _, pol := range policies {
			r := simulate(set[n], pol, *every, *startup, *target)
			fmt.Printf("| %s | %s | %.2f | %ds (%.1f%%) | %d | %d |\n", n, pol.name, r.replicaSeconds/3600,
				r.overTarget, 100*float64(r.overTarget)/float64(len(set[n])), r.changes, r.peak)
		}
	}
}
