package main

// hpa.go is the baseline: the Kubernetes HPA's own algorithm with its
// defaults, written from its source (pkg/controller/podautoscaler,
// replica_calculator.go and horizontal.go) and independent of baton's
// decider. A sync every 15 s; per-pod average of a Pods metric against an
// AverageValue target; tolerance 0.1; pods without a metric (here: not
// ready yet) count as 0 when scaling up and as at the target when scaling
// down, and a change they would reverse or bring within the tolerance is
// dropped; scale-up at most max(4 pods, 100%) and scale-down at most 100%
// per 15 s; scale-down uses the highest recommendation of the last 5
// minutes, scale-up the lowest of none (a window of 0).

import "math"

type hpa struct {
	tolerance  float64
	downWindow int // seconds
	recs       []hpaRec
}

type hpaRec struct{ at, replicas int }

func newHPA() *hpa { return &hpa{tolerance: 0.1, downWindow: 300} }

// replicas is calcPlainMetricReplicas for ready pods each serving
// total/ready, and current-ready pods without a metric.
func (h *hpa) replicas(current, ready int, total, target float64) int {
	if ready == 0 {
		return current // no metrics at all: the HPA keeps the count
	}
	usage := total / float64(ready) // each ready pod's metric
	ratio := usage / target
	missing := current - ready
	if missing <= 0 {
		if math.Abs(1-ratio) <= h.tolerance {
			return current
		}
		return int(math.Ceil(ratio * float64(ready)))
	}
	fill := 0.0 // scaling up: missing pods use nothing
	if ratio < 1 {
		fill = target // scaling down: missing pods are at the target
	}
	newRatio := (usage*float64(ready) + fill*float64(missing)) / (target * float64(current))
	if math.Abs(1-newRatio) <= h.tolerance || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1) {
		return current
	}
	n := int(math.Ceil(newRatio * float64(current)))
	if (newRatio < 1 && n > current) || (newRatio > 1 && n < current) {
		return current
	}
	return n
}

// decide is one sync: the recommendation, stabilized over the windows,
// then the rate limits and the bounds.
func (h *hpa) decide(now, current, ready int, total, target float64, minR, maxR int) int {
	raw := h.replicas(current, ready, total, target)
	up, down := raw, raw
	var keep []hpaRec
	for _, r := range h.recs {
		if now-r.at < h.downWindow {
			keep = append(keep, r)
			down = max(down, r.replicas)
		}
	}
	h.recs = append(keep, hpaRec{now, raw})
	rec := current
	if rec < up {
		rec = up
	}
	if rec > down {
		rec = down
	}
	if rec > current {
		rec = min(rec, max(current+4, 2*current))
	}
	return min(max(rec, minR), maxR)
}
