// Command autosim replays load traces through baton's autoscaling decider
// (internal/plan.Autoscale and plan.Remember, the same code scale runs)
// and through the Kubernetes HPA's algorithm as a baseline, and reports,
// per policy, the replica-hours spent, the time over target and the
// number of changes. Run it from the repository root:
//
//	go run ./internal/autosim                 # built-in traces, markdown tables
//	go run ./internal/autosim -trace f.csv    # a trace of "seconds,rps" lines
//
// Model: a pass every -every seconds sees the mean request rate since the
// last pass; a new replica is ready -startup seconds after it is started
// and only ready replicas serve; removed replicas go at once. A second is
// over target when the requests per ready replica exceed the target. The
// simulator is deterministic: the same flags print the same tables.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// policy is one row of a table: a baton policy (autoscale YAML added to
// the defaults) or the HPA baseline.
type policy struct {
	name string
	yaml string // flow-style mapping entries, may name %HORIZON%
	hpa  bool
}

const (
	hpaName        = "HPA formula (Kubernetes defaults)"
	defaultsName   = "baton defaults"
	predictiveName = "baton predictive"
)

var policies = []policy{
	{name: hpaName, hpa: true},
	{name: defaultsName},
	{name: predictiveName, yaml: "predict: {horizon: %HORIZON%}"},
	{name: "baton predictive, stabilization 2m", yaml: "predict: {horizon: %HORIZON%}, scale_down: {stabilization: 2m}"},
	{name: "no stabilization", yaml: "scale_down: {stabilization: 0s}"},
	{name: "stabilization 1m", yaml: "scale_down: {stabilization: 1m}"},
	{name: "no tolerance", yaml: "tolerance: 0"},
	{name: "scale-down 1 per 2m", yaml: "scale_down: {max_step: 1, period: 2m}"},
}

type config struct {
	every, startup int     // seconds
	target         float64 // rps per ready replica
	min, max       int
}

// horizon is the predictive policy's: a start-up time and a pass ahead.
func (c config) horizon() time.Duration {
	return time.Duration(c.startup+c.every) * time.Second
}

type result struct {
	replicaSeconds float64
	overTarget     int
	changes        int
	peak           int
}

// decider is one policy's pass: the count in force, the ready replicas
// and the rate seen give the new count.
type decider func(now, current, ready int, rps float64) int

func baton(pol policy, c config) decider {
	extra := strings.ReplaceAll(pol.yaml, "%HORIZON%", c.horizon().String())
	if extra != "" {
		extra = ", " + extra
	}
	y := fmt.Sprintf(`
nginx: {config: c.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:80"}
apps:
  - name: web
    image: web:1
    port: 8080
    lb: {}
    autoscale: {min: %d, max: %d, targets: {rps: %g}%s}
`, c.min, c.max, c.target, extra)
	s, err := spec.Parse("sim.yaml", []byte(y))
	if err != nil {
		panic(err)
	}
	app := s.App("web")
	base := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday, midnight
	var mem state.Autoscale
	return func(at, current, ready int, rps float64) int {
		now := base.Add(time.Duration(at) * time.Second)
		d := plan.Autoscale(plan.AutoscaleInput{App: app, Current: current, Ready: ready, Metrics: plan.Metrics{RPS: &rps}, Memory: mem}, now)
		mem = plan.Remember(mem, d, app.Autoscale, now)
		return d.Final
	}
}

func hpaDecider(c config) decider {
	h := newHPA()
	return func(at, current, ready int, rps float64) int {
		return h.decide(at, current, ready, rps, c.target, c.min, c.max)
	}
}

func simulate(tr []point, decide decider, c config) result {
	desired := c.min
	readyAt := make([]int, desired) // when each replica became (or becomes) ready
	var res result
	var sum float64
	var n int
	for _, p := range tr {
		ready := 0
		for _, r := range readyAt {
			if r <= p.at {
				ready++
			}
		}
		res.replicaSeconds += float64(len(readyAt))
		if (ready == 0 && p.rps > 0) || (ready > 0 && p.rps/float64(ready) > c.target) {
			res.overTarget++
		}
		sum, n = sum+p.rps, n+1
		if p.at%c.every != c.every-1 {
			continue
		}
		rps := sum / float64(n)
		sum, n = 0, 0
		final := decide(p.at, desired, ready, rps)
		if final != desired {
			res.changes++
		}
		for len(readyAt) < final {
			readyAt = append(readyAt, p.at+c.startup)
		}
		readyAt = readyAt[:final]
		desired = final
		res.peak = max(res.peak, desired)
	}
	return res
}

func main() {
	tracePath := flag.String("trace", "", "a CSV trace of seconds,rps (default: the built-in traces)")
	c := defaults
	flag.IntVar(&c.every, "every", c.every, "seconds between scale passes (the HPA's sync period is 15s)")
	flag.IntVar(&c.startup, "startup", c.startup, "seconds a new replica takes to become ready")
	flag.Float64Var(&c.target, "target", c.target, "target requests per second per ready replica")
	flag.IntVar(&c.max, "max", c.max, "most replicas")
	flag.Parse()
	if c.every < 1 || c.startup < 0 || c.target <= 0 || c.max < 1 {
		fmt.Fprintln(os.Stderr, "autosim: want -every >= 1, -startup >= 0, -target > 0, -max >= 1")
		os.Exit(2)
	}
	set := traces()
	if *tracePath != "" {
		pts, err := readTrace(*tracePath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "autosim:", err)
			os.Exit(1)
		}
		set = []trace{{*tracePath, "from " + *tracePath, pts}}
	}
	report(os.Stdout, set, c)
}

var defaults = config{every: 15, startup: 30, target: 100, min: 1, max: 40}

// report prints one table per trace and how the predictive policy did
// against the HPA formula.
func report(w io.Writer, set []trace, c config) {
	fmt.Fprintf(w, "A pass every %ds; a new replica is ready %ds after it starts; target %g rps per ready replica; %d to %d replicas; the predictive policies look %s ahead.\n",
		c.every, c.startup, c.target, c.min, c.max, c.horizon())
	for _, tr := range set {
		fmt.Fprintf(w, "\n### %s (%s)\n\n", tr.name, tr.what)
		fmt.Fprintln(w, "| policy | replica-hours | time over target | changes | peak |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		results := map[string]result{}
		for _, pol := range policies {
			d := hpaDecider(c)
			if !pol.hpa {
				d = baton(pol, c)
			}
			r := simulate(tr.pts, d, c)
			results[pol.name] = r
			fmt.Fprintf(w, "| %s | %.2f | %ds (%.1f%%) | %d | %d |\n", pol.name, r.replicaSeconds/3600,
				r.overTarget, 100*float64(r.overTarget)/float64(len(tr.pts)), r.changes, r.peak)
		}
		fmt.Fprintf(w, "\n%s\n", versus(results[predictiveName], results[hpaName]))
	}
}

// versus says how the predictive policy did against the HPA formula.
func versus(p, h result) string {
	dOver := p.overTarget - h.overTarget
	dHours := (p.replicaSeconds - h.replicaSeconds) / 3600
	pct := func(d, of float64) string {
		if of == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%+.1f%%", 100*d/of)
	}
	var verdict string
	switch {
	case dOver < 0 && dHours <= 0:
		verdict = "less time over target at no more replica-hours"
	case dOver < 0:
		verdict = "less time over target, for more replica-hours"
	case dOver == 0 && dHours == 0:
		verdict = "the same"
	case dHours < 0:
		verdict = "fewer replica-hours, for more time over target"
	default:
		verdict = "worse on both counts"
	}
	return fmt.Sprintf("Predictive against the HPA formula: time over target %+ds (%s), replica-hours %+.2f (%s): %s.",
		dOver, pct(float64(dOver), float64(h.overTarget)), dHours, pct(p.replicaSeconds-h.replicaSeconds, h.replicaSeconds), verdict)
}
