package plan

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// Metrics are one app's observations in a pass; nil means missing.
type Metrics struct {
	RPS        *float64 `json:"rps,omitempty"`            // requests per second, all replicas
	LatencyP95 *float64 `json:"latency_p95_ms,omitempty"` // milliseconds
	ErrorRate  *float64 `json:"error_rate,omitempty"`     // share of 5xx answers (reported, not a target)
	CPU        *float64 `json:"cpu,omitempty"`            // mean share of the CPU limit over the replicas measured
	CPUSamples int      `json:"cpu_samples,omitempty"`    // replicas CPU was measured on
	Memory     *float64 `json:"memory,omitempty"`         // mean share of the memory limit
	Inflight   *float64 `json:"inflight,omitempty"`       // concurrent requests, all replicas
}

// AutoscaleInput is what the decider needs for one app.
type AutoscaleInput struct {
	App      *spec.App
	Current  int // the replica count in force (the last decision)
	Ready    int // replicas that answered their readiness check
	Outdated int // running replicas of an outdated spec: a rollout in progress
	Metrics  Metrics
	// External is the external scaler's answer, when it gave one;
	// ExternalErr why it gave none (it failed, hung or printed no count).
	External    *int
	ExternalErr string
	Memory      state.Autoscale
}

// MetricExplain is one metric's part in a decision.
type MetricExplain struct {
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	Target    float64 `json:"target"`
	Ratio     float64 `json:"ratio"`
	Recommend int     `json:"recommend"` // -1: no opinion
	Note      string  `json:"note"`
}

// AutoscaleDecision is the decider's answer, with every intermediate step.
type AutoscaleDecision struct {
	App        string          `json:"app"`
	Current    int             `json:"current"`
	Ready      int             `json:"ready"`
	Metrics    []MetricExplain `json:"metrics"`
	Raw        int             `json:"raw"`        // the highest recommendation
	Stabilized int             `json:"stabilized"` // after the stabilization windows
	Floor      int             `json:"floor"`      // min, raised by a schedule
	Final      int             `json:"final"`
	Reason     string          `json:"reason"`
	// Forecast is a predictive policy's forecast of the request rate.
	Forecast *Forecast `json:"forecast,omitempty"`

	rps      *float64 // the request rate seen, for a predictive policy's history
	remember int      // the recommendation the stabilization windows keep
}

const noOpinion = -1

// Autoscale decides an app's replica count, like the Kubernetes HPA and
// with its lessons:
//
//   - per metric, desired = ceil(replicas × value / target); for requests
//     and in-flight requests, whose totals divide over the replicas,
//     desired = ceil(total / per-replica target). For means over the ready
//     replicas (CPU, memory), replicas still starting count as using
//     nothing on the way up, without ever turning a scale-up into a
//     scale-down, and as at the target on the way down;
//   - within the tolerance (default 0.1) a metric recommends no change;
//   - latency and memory only ever push up: neither falls as replicas are
//     added, so they must not hold a scale-down (kubernetes #95762);
//   - a missing metric gives no opinion, and so does an invalid one
//     (negative, NaN or infinite); CPU measured on fewer replicas than
//     are ready counts the others at the target on the way down;
//   - a predictive policy adds the request-rate forecast (see Predict) as
//     one more up-only recommendation, so it scales for the larger of the
//     rate now and the forecast;
//   - the external scaler's answer is one more recommendation; the highest
//     recommendation wins (raw);
//   - no scale-up while a rollout is in progress (kubernetes #72775);
//   - scale-down uses the highest recommendation of its stabilization
//     window (default 5m), scale-up the lowest of its own (default 0), so a
//     dip or a spike alone does not flap (kubernetes #49028);
//   - one change is at most max(max_step, max_percent of the replicas),
//     and at most one change per period in each direction; none within the
//     cooldown after the last change;
//   - the result is clamped to [floor, max], the floor being min raised by
//     any schedule in force;
//   - a policy with no target and no external scaler follows its
//     schedules: the recommendation is the floor of the window in force,
//     or min outside every window, stabilized and limited like any other;
//   - a time in the memory after now (the clock went back) counts as now.
func Autoscale(in AutoscaleInput, now time.Time) AutoscaleDecision {
	as := in.App.Autoscale
	d := AutoscaleDecision{App: in.App.Name, Current: in.Current, Ready: in.Ready}
	tol := *as.Tolerance
	ready := in.Ready
	t := as.Targets
	m := in.Metrics
	// since is how long ago t was; a time in the future (the clock went
	// back) counts as now, and Remember brings it back to now, so a clock
	// jump delays a change by at most one period or window.
	since := func(t time.Time) time.Duration { return max(now.Sub(t), 0) }

	// proportional adds one metric's opinion. upOnly, when set, is why the
	// metric never drives a scale-down.
	proportional := func(name string, value *float64, target float64, scaled func(v float64) (ratio float64, desired float64), upOnly string) {
		if target <= 0 {
			return
		}
		e := MetricExplain{Metric: name, Target: target, Recommend: noOpinion}
		if value == nil {
			e.Note = "missing: no opinion"
			d.Metrics = append(d.Metrics, e)
			return
		}
		if !finite(*value) || *value < 0 {
			e.Note = fmt.Sprintf("invalid value %v: no opinion", *value)
			d.Metrics = append(d.Metrics, e)
			return
		}
		e.Value = *value
		ratio, desired := scaled(*value)
		e.Ratio = round2(ratio)
		switch {
		case !finite(ratio) || !finite(desired):
			e.Note = "no ready replica to divide by: no opinion"
		case math.Abs(ratio-1) <= tol:
			if upOnly != "" {
				e.Note = fmt.Sprintf("within tolerance %.2g: no opinion", tol)
			} else {
				e.Recommend = in.Current
				e.Note = fmt.Sprintf("within tolerance %.2g of the target: keep %d", tol, in.Current)
			}
		case upOnly != "" && ratio < 1:
			e.Note = "below target; " + upOnly
		default:
			e.Recommend = int(math.Ceil(min(desired, 1e6) - 1e-9))
			e.Note = fmt.Sprintf("ratio %.2f → %d", ratio, e.Recommend)
		}
		d.Metrics = append(d.Metrics, e)
	}
	perReplica := func(target float64) func(v float64) (float64, float64) {
		return func(total float64) (float64, float64) {
			if ready == 0 {
				return total / target, total / target // from zero ready: the total tells
			}
			return total / float64(ready) / target, total / target
		}
	}
	// averaged metrics are means over the ready replicas. Replicas not yet
	// ready count as using nothing on the way up — which may damp a
	// scale-up but never turn it into a scale-down — and as at the target
	// on the way down (the HPA's rules).
	averaged := func(target float64) func(v float64) (float64, float64) {
		return func(avg float64) (float64, float64) {
			if ready == 0 {
				return math.NaN(), 0
			}
			r := avg / target
			notReady := max(in.Current-ready, 0)
			if r > 1 {
				return r, max(float64(ready)*r, float64(in.Current))
			}
			return r, (avg*float64(ready) + target*float64(notReady)) / target
		}
	}
	const neverDown = " does not fall as replicas are added, so it never drives a scale-down"
	proportional("rps", m.RPS, t.RPS, perReplica(t.RPS), "")
	if as.Predict != nil && t.RPS > 0 && m.RPS != nil && finite(*m.RPS) && *m.RPS >= 0 {
		d.rps = m.RPS
		fc := Predict(in.Memory, *m.RPS, as, now)
		d.Forecast = &fc
		if fc.Value != nil {
			n := len(d.Metrics)
			proportional("rps_forecast", fc.Value, t.RPS, perReplica(t.RPS), "the forecast only ever adds capacity ahead of a rise")
			d.Metrics[n].Note += " (" + fc.Note + ")"
		} else {
			d.Metrics = append(d.Metrics, MetricExplain{Metric: "rps_forecast", Target: t.RPS, Recommend: noOpinion, Note: "missing: " + fc.Note})
		}
	}
	proportional("inflight", m.Inflight, t.Inflight, perReplica(t.Inflight), "")
	cpu := m.CPU
	if cpu != nil && finite(*cpu) && m.CPUSamples > 0 && m.CPUSamples < ready && *cpu < t.CPU.Fraction {
		// HPA's missing-metric rule on the way down: replicas without a
		// measurement count as at the target.
		v := (*cpu*float64(m.CPUSamples) + t.CPU.Fraction*float64(ready-m.CPUSamples)) / float64(ready)
		cpu = &v
	}
	proportional("cpu", cpu, t.CPU.Fraction, averaged(t.CPU.Fraction), "")
	if t.LatencyP95.D > 0 {
		target := float64(t.LatencyP95.D) / float64(time.Millisecond)
		proportional("latency_p95_ms", m.LatencyP95, target, func(v float64) (float64, float64) {
			return v / target, float64(max(in.Current, 1)) * v / target
		}, "latency"+neverDown)
	}
	proportional("memory", m.Memory, t.Memory.Fraction, averaged(t.Memory.Fraction), "memory"+neverDown)
	if as.External != nil {
		e := MetricExplain{Metric: "external", Recommend: noOpinion, Note: "no answer: no opinion"}
		if in.ExternalErr != "" {
			e.Note = "no answer (" + in.ExternalErr + "): no opinion"
		}
		if in.External != nil {
			e.Value = float64(*in.External)
			e.Recommend = *in.External
			e.Note = fmt.Sprintf("the scaler answered %d", *in.External)
		}
		d.Metrics = append(d.Metrics, e)
	}

	// Raw: the highest recommendation. What the stabilization window
	// remembers leaves the forecast out: a forecast adds capacity ahead of
	// a rise, and once the rise came the rate now carries it; a forecast
	// that did not come true holds no capacity afterwards.
	d.Raw = noOpinion
	var why string
	seen := noOpinion
	for _, e := range d.Metrics {
		if e.Recommend > d.Raw {
			d.Raw, why = e.Recommend, e.Metric
		}
		if e.Metric != "rps_forecast" && e.Recommend > seen {
			seen = e.Recommend
		}
	}
	var notes []string
	switch {
	case !as.HasMetrics():
		// Only schedules: the window's floor inside it, min outside it
		// (KEDA's cron scaler), through the same stabilization and limits.
		f, which := ScheduleFloor(as, now)
		if f > as.Min {
			d.Raw = f
			notes = append(notes, fmt.Sprintf("only schedules: %s in force wants %d", which, f))
		} else {
			d.Raw = as.Min
			notes = append(notes, fmt.Sprintf("only schedules: none in force, min %d", as.Min))
		}
	case d.Raw == noOpinion:
		d.Raw = in.Current
		notes = append(notes, "no metric has an opinion: keep the count")
	default:
		notes = append(notes, fmt.Sprintf("highest recommendation %d (%s)", d.Raw, why))
		if seen == noOpinion {
			seen = in.Current
		}
		if seen < d.Raw {
			notes = append(notes, fmt.Sprintf("remembered as %d, without the forecast", seen))
		}
	}
	if in.Outdated > 0 && d.Raw > in.Current {
		notes = append(notes, fmt.Sprintf("rollout in progress (%d outdated replicas): no scale-up", in.Outdated))
		d.Raw = in.Current
	}
	d.remember = min(d.Raw, max(seen, 0))
	if seen == noOpinion {
		d.remember = d.Raw
	}

	// Stabilization over the recorded recommendations, this one included.
	d.Stabilized = d.Raw
	for _, r := range in.Memory.Recs {
		age := since(r.At)
		if d.Raw < in.Current && age < as.ScaleDown.Stabilization.D && r.Replicas > d.Stabilized {
			d.Stabilized = r.Replicas
		}
		if d.Raw > in.Current && age < as.ScaleUp.Stabilization.D && r.Replicas < d.Stabilized {
			d.Stabilized = max(r.Replicas, in.Current)
		}
	}
	if d.Stabilized != d.Raw {
		notes = append(notes, fmt.Sprintf("stabilized to %d by the recommendations of the window", d.Stabilized))
	}

	// Rate limits and cooldown.
	final := d.Stabilized
	switch {
	case final > in.Current:
		step := max(as.ScaleUp.MaxStep, int(math.Ceil(float64(in.Current)*float64(as.ScaleUp.MaxPercent)/100)), 1)
		if final > in.Current+step {
			final = in.Current + step
			notes = append(notes, fmt.Sprintf("scale-up limited to +%d per change", step))
		}
		if p := as.ScaleUp.Period.D; p > 0 && since(in.Memory.LastUp) < p {
			final = in.Current
			notes = append(notes, fmt.Sprintf("last scale-up %s ago, period %s: wait", since(in.Memory.LastUp).Round(time.Second), p))
		}
	case final < in.Current:
		step := max(as.ScaleDown.MaxStep, int(math.Floor(float64(in.Current)*float64(as.ScaleDown.MaxPercent)/100)), 1)
		if final < in.Current-step {
			final = in.Current - step
			notes = append(notes, fmt.Sprintf("scale-down limited to -%d per change", step))
		}
		if p := as.ScaleDown.Period.D; p > 0 && since(in.Memory.LastDown) < p {
			final = in.Current
			notes = append(notes, fmt.Sprintf("last scale-down %s ago, period %s: wait", since(in.Memory.LastDown).Round(time.Second), p))
		}
	}
	if final != in.Current && as.Cooldown.D > 0 && since(in.Memory.LastChange) < as.Cooldown.D {
		notes = append(notes, fmt.Sprintf("cooldown: last change %s ago (cooldown %s)", since(in.Memory.LastChange).Round(time.Second), as.Cooldown.D))
		final = in.Current
	}

	// Bounds.
	d.Floor = as.Min
	if f, which := ScheduleFloor(as, now); f > d.Floor {
		d.Floor = f
		if final < f {
			notes = append(notes, which+" sets the floor to "+strconv.Itoa(f))
		}
	}
	if final < d.Floor {
		final = d.Floor
		notes = append(notes, fmt.Sprintf("raised to the floor %d", d.Floor))
	}
	if final > as.Max {
		final = as.Max
		notes = append(notes, fmt.Sprintf("capped at max %d", as.Max))
	}
	d.Final = final
	switch {
	case final > in.Current:
		notes = append(notes, fmt.Sprintf("scale up %d → %d", in.Current, final))
	case final < in.Current:
		notes = append(notes, fmt.Sprintf("scale down %d → %d", in.Current, final))
	default:
		notes = append(notes, fmt.Sprintf("keep %d", final))
	}
	d.Reason = strings.Join(notes, "; ")
	return d
}
