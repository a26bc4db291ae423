package plan

import (
	"math"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/metrics"
	"github.com/baton-orchestrator/baton/state"
)

func TestCPUShare(t *testing.T) {
	prev := state.CPUSample{Nanos: 10e9, At: t0}
	cases := []struct {
		name  string
		prev  state.CPUSample
		cur   fleet.Usage
		milli int64
		want  float64
		ok    bool
	}{
		{"half a core over 10s, no limit: half of one core", prev, fleet.Usage{CPUNanos: 15e9, At: t0.Add(10 * time.Second)}, 0, 0.5, true},
		{"half a core over 10s with a 250m limit: twice the limit", prev, fleet.Usage{CPUNanos: 15e9, At: t0.Add(10 * time.Second)}, 250, 2, true},
		{"idle: zero", prev, fleet.Usage{CPUNanos: 10e9, At: t0.Add(5 * time.Second)}, 500, 0, true},
		{"two cores busy with a 2000m limit: all of it", prev, fleet.Usage{CPUNanos: 30e9, At: t0.Add(10 * time.Second)}, 2000, 1, true},
		{"no earlier reading: none", state.CPUSample{}, fleet.Usage{CPUNanos: 15e9, At: t0}, 0, 0, false},
		{"a reading without a time: none", prev, fleet.Usage{CPUNanos: 15e9}, 0, 0, false},
		{"the same moment: none (no division by zero)", prev, fleet.Usage{CPUNanos: 15e9, At: t0}, 0, 0, false},
		{"a reading before the earlier one (the clock went back): none", prev, fleet.Usage{CPUNanos: 15e9, At: t0.Add(-time.Second)}, 0, 0, false},
		{"a counter that went back (restarted): none", prev, fleet.Usage{CPUNanos: 1e9, At: t0.Add(10 * time.Second)}, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := CPUShare(c.prev, c.cur, c.milli)
			if ok != c.ok || math.Abs(got-c.want) > 1e-9 {
				t.Errorf("got %v %v, want %v %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestMemoryShare(t *testing.T) {
	if v, ok := MemoryShare(fleet.Usage{MemBytes: 64 << 20}, 256<<20); !ok || v != 0.25 {
		t.Errorf("64 MiB of 256: %v %v", v, ok)
	}
	if _, ok := MemoryShare(fleet.Usage{MemBytes: 64 << 20}, 0); ok {
		t.Error("a share of no limit")
	}
}

func TestUsage(t *testing.T) {
	s := testSpec(t, `
apps:
  - {name: web, image: web:1, resources: {cpu: 500m, memory: 100m}, autoscale: {max: 4, targets: {cpu: 50%}}}
  - {name: worker, image: w:1, autoscale: {max: 4, targets: {cpu: 50%}}}
`)
	later := t0.Add(10 * time.Second)
	prev := map[string]state.CPUSample{
		"a":    {Nanos: 0, At: t0},
		"b":    {Nanos: 0, At: t0},
		"w":    {Nanos: 0, At: t0},
		"gone": {Nanos: 0, At: t0},
	}
	readings := []Reading{
		{App: "web", Key: "a", Usage: fleet.Usage{CPUNanos: 5e9, MemBytes: 50 << 20, At: later}}, // 0.5 cores of 0.5: 1.0; memory 0.5
		{App: "web", Key: "b", Usage: fleet.Usage{CPUNanos: 0, MemBytes: 10 << 20, At: later}},   // idle; memory 0.1
		{App: "web", Key: "c", Usage: fleet.Usage{CPUNanos: 9e9, MemBytes: 30 << 20, At: later}}, // new: no CPU yet; memory 0.3
		{App: "worker", Key: "w", Usage: fleet.Usage{CPUNanos: 2.5e9, MemBytes: 1 << 30, At: later}},
		{App: "nobody", Key: "x", Usage: fleet.Usage{CPUNanos: 1, At: later}},
	}
	out, next := Usage(s, readings, prev)
	web := out["web"]
	if web.CPU == nil || *web.CPU != 0.5 || web.CPUSamples != 2 {
		t.Errorf("web cpu: %v over %d, want 0.5 over 2 (the new replica has no earlier reading)", web.CPU, web.CPUSamples)
	}
	if web.Memory == nil || math.Abs(*web.Memory-0.3) > 1e-9 {
		t.Errorf("web memory: %v, want the mean 0.3 over all three", web.Memory)
	}
	w := out["worker"]
	if w.CPU == nil || *w.CPU != 0.25 || w.Memory != nil {
		t.Errorf("worker (no limits): cpu %v (want 0.25 of one core), memory %v (want none: no limit)", w.CPU, w.Memory)
	}
	if _, ok := out["nobody"]; ok {
		t.Error("a reading of an app not in the spec counted")
	}
	if len(next) != 4 || next["c"].Nanos != 9e9 || !next["c"].At.Equal(later) {
		t.Errorf("next counters: %+v (want a, b, c, w; the replica gone is forgotten)", next)
	}
}

func TestTraffic(t *testing.T) {
	if _, ok := Traffic(&metrics.AppSample{Requests: 10}, 0); ok {
		t.Error("a read over no time gave metrics")
	}
	m, ok := Traffic(nil, 10*time.Second)
	if !ok || *m.RPS != 0 || *m.Inflight != 0 || m.LatencyP95 != nil || m.ErrorRate != nil {
		t.Errorf("no request in 10s: %+v", m)
	}
	// 20 requests over 10s, each 0.5s: 2 rps, 1 in flight (Little's law).
	lat := make([]float64, 20)
	for i := range lat {
		lat[i] = 0.5
	}
	lat[19] = 2.5 // one slow request: the p95 is the 19th of 20, 0.5s
	m, _ = Traffic(&metrics.AppSample{Requests: 20, Errors: 5, Latencies: lat}, 10*time.Second)
	if *m.RPS != 2 || math.Abs(*m.Inflight-2*0.6) > 1e-9 || *m.LatencyP95 != 500 || *m.ErrorRate != 0.25 {
		t.Errorf("20 requests: rps %v inflight %v p95 %v errors %v", *m.RPS, *m.Inflight, *m.LatencyP95, *m.ErrorRate)
	}
}
