package plan

// usage.go turns what a pass observed into the autoscaler's metrics: the
// access log's new lines into request rate, latency, errors and in-flight
// requests (Traffic), and one-shot container stats into CPU and memory
// shares (Usage). Pure arithmetic, no I/O.

import (
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/metrics"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// Traffic is an app's request metrics from the access log's lines read
// over took: the rate, the in-flight requests by Little's law (rate × mean
// time in the system), and — when any request was logged — the p95
// latency and the share of 5xx answers. A nil sample is no request. A read
// over no time (the first pass only finds where the log ends) gives none.
func Traffic(s *metrics.AppSample, took time.Duration) (Metrics, bool) {
	if took <= 0 {
		return Metrics{}, false
	}
	if s == nil {
		s = &metrics.AppSample{}
	}
	rps := float64(s.Requests) / took.Seconds()
	inflight := rps * s.Mean()
	m := Metrics{RPS: &rps, Inflight: &inflight}
	if s.Requests > 0 {
		p95 := s.P95()
		errRate := float64(s.Errors) / float64(s.Requests)
		m.LatencyP95, m.ErrorRate = &p95, &errRate
	}
	return m, true
}

// CPUShare is a replica's CPU use between two readings of its cumulative
// counter, as a share of its CPU limit in milli-CPUs (0: of one core). ok
// is false without a usable earlier reading: none, one not before this
// one, a reading without a time, or a counter that went back (a restart
// under the same ID).
func CPUShare(prev state.CPUSample, cur fleet.Usage, limitMilli int64) (float64, bool) {
	if prev.At.IsZero() || cur.At.IsZero() || !cur.At.After(prev.At) || cur.CPUNanos < prev.Nanos {
		return 0, false
	}
	cores := float64(cur.CPUNanos-prev.Nanos) / float64(cur.At.Sub(prev.At).Nanoseconds())
	limit := 1.0
	if limitMilli > 0 {
		limit = float64(limitMilli) / 1000
	}
	return cores / limit, true
}

// MemoryShare is a replica's memory in use (without reclaimable page
// cache, as fleet.Usage has it) as a share of its limit; ok is false
// without a limit.
func MemoryShare(u fleet.Usage, limitBytes int64) (float64, bool) {
	if limitBytes <= 0 {
		return 0, false
	}
	return float64(u.MemBytes) / float64(limitBytes), true
}

// Reading is one replica's stats reading in a pass.
type Reading struct {
	App string
	// Key is where the replica's CPU counter is kept between passes: its
	// container ID, or a Swarm task's ID.
	Key   string
	Usage fleet.Usage
}

// Usage turns one pass's readings into each app's CPU and memory metrics:
// the mean share over the replicas measured (CPU only over those with an
// earlier reading in prev, CPUSamples of them). next holds this pass's
// counter of every replica read, for the next pass: a replica not read
// now is forgotten.
func Usage(s *spec.Spec, readings []Reading, prev map[string]state.CPUSample) (out map[string]Metrics, next map[string]state.CPUSample) {
	type sums struct {
		cpu, mem   float64
		ncpu, nmem int
	}
	acc := map[string]*sums{}
	next = map[string]state.CPUSample{}
	for _, r := range readings {
		a := s.App(r.App)
		if a == nil {
			continue
		}
		if !r.Usage.At.IsZero() {
			next[r.Key] = state.CPUSample{Nanos: r.Usage.CPUNanos, At: r.Usage.At}
		}
		sm := acc[r.App]
		if sm == nil {
			sm = &sums{}
			acc[r.App] = sm
		}
		if v, ok := CPUShare(prev[r.Key], r.Usage, a.Resources.CPU.Milli); ok {
			sm.cpu += v
			sm.ncpu++
		}
		if v, ok := MemoryShare(r.Usage, a.Resources.Memory.Bytes); ok {
			sm.mem += v
			sm.nmem++
		}
	}
	out = map[string]Metrics{}
	for name, sm := range acc {
		var m Metrics
		if sm.ncpu > 0 {
			v := sm.cpu / float64(sm.ncpu)
			m.CPU, m.CPUSamples = &v, sm.ncpu
		}
		if sm.nmem > 0 {
			v := sm.mem / float64(sm.nmem)
			m.Memory = &v
		}
		out[name] = m
	}
	return out, next
}
