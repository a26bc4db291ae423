package plan

// autoscale_memory.go holds what the autoscaler reads and remembers around
// its decision (autoscale.go): the external scaler's answer, the memory
// kept between passes, and the schedules' floor.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// ScalerCount reads an external scaler's answer: one replica count, a
// whole number of at least 0, alone on its output (spaces around it are
// fine). Anything else is an error quoting what it printed; the decider
// clamps a count to the policy's bounds like any other recommendation.
func ScalerCount(out []byte) (int, error) {
	s := strings.TrimSpace(string(out))
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		if len(s) > 80 {
			s = s[:80] + "…"
		}
		return 0, fmt.Errorf("want a replica count on stdout, got %q", s)
	}
	return n, nil
}

// Remember returns the app's autoscaling memory after a decision: the
// recommendation joins the history (trimmed to the longer window), a
// change stamps its direction's time, and a predictive policy's rate
// history takes the rate seen. Times after now (the clock went back) are
// brought back to now, so they age from here. It may reuse mem's slices,
// as append does: use the memory it returns.
func Remember(mem state.Autoscale, d AutoscaleDecision, as *spec.Autoscale, now time.Time) state.Autoscale {
	now = now.UTC()
	notAfter := func(t time.Time) time.Time {
		if t.After(now) {
			return now
		}
		return t
	}
	keep := max(as.ScaleDown.Stabilization.D, as.ScaleUp.Stabilization.D)
	var recs []state.Rec
	for _, r := range mem.Recs {
		r.At = notAfter(r.At)
		if now.Sub(r.At) < keep {
			recs = append(recs, r)
		}
	}
	rec := d.Raw
	if d.Forecast != nil {
		rec = d.remember
	}
	mem.Recs = append(recs, state.Rec{At: now, Replicas: rec})
	mem.LastUp, mem.LastDown, mem.LastChange = notAfter(mem.LastUp), notAfter(mem.LastDown), notAfter(mem.LastChange)
	if d.Final > d.Current {
		mem.LastUp, mem.LastChange = now, now
	}
	if d.Final < d.Current {
		mem.LastDown, mem.LastChange = now, now
	}
	mem.Desired = d.Final
	if as.Predict == nil {
		mem.Rates, mem.Daily = nil, nil
	} else if d.rps != nil {
		mem = rememberRate(mem, *d.rps, as, now)
	}
	return mem
}

// ScheduleFloor returns the highest floor of the schedules in force at now
// (in the policy's time zone) and which one it is. A window's days are the
// days it starts on: a Friday window from 22:00 to 06:00 is in force until
// 06:00 on Saturday.
func ScheduleFloor(as *spec.Autoscale, now time.Time) (int, string) {
	local := now.In(location(as))
	minute := local.Hour()*60 + local.Minute()
	today := strings.ToLower(local.Weekday().String()[:3])
	yesterday := strings.ToLower(local.AddDate(0, 0, -1).Weekday().String()[:3])
	floor, which := 0, ""
	for i, s := range as.Schedules {
		from, to := clock(s.From), clock(s.To)
		in, day := from <= minute && minute < to, today
		if from > to { // wraps past midnight
			switch {
			case minute >= from:
				in = true
			case minute < to:
				in, day = true, yesterday
			}
		}
		dayOK := len(s.Days) == 0
		for _, d := range s.Days {
			if d == day {
				dayOK = true
			}
		}
		if in && dayOK && s.Min > floor {
			floor, which = s.Min, fmt.Sprintf("schedule #%d (%s-%s %s)", i, s.From, s.To, as.Timezone)
		}
	}
	return floor, which
}

func clock(hhmm string) int {
	h, _ := strconv.Atoi(hhmm[:2])
	m, _ := strconv.Atoi(hhmm[3:])
	return h*60 + m
}

func round2(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*100) / 100
}
