package plan

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/state"
)

const predictive = `{min: 1, max: 50, targets: {rps: 100}, predict: {horizon: 2m}}`

// history is a predictive policy's memory after a pass every step from
// from up to (not including) to, at the rates rate gives.
func history(t *testing.T, as string, from, to time.Time, step time.Duration, rate func(time.Time) float64) state.Autoscale {
	t.Helper()
	app := policy(t, as)
	var mem state.Autoscale
	for now := from; now.Before(to); now = now.Add(step) {
		r := rate(now)
		mem = Remember(mem, AutoscaleDecision{Current: 1, Raw: 1, Final: 1, rps: &r}, app.Autoscale, now)
	}
	return mem
}

func TestForecast(t *testing.T) {
	app := policy(t, predictive)
	now := at(monday, "12:00")
	flat := func(time.Time) float64 { return 500 }
	rising := func(tm time.Time) float64 { return 500 + 2*tm.Sub(now).Seconds() } // +2 rps/s, 500 now
	cases := []struct {
		name     string
		mem      state.Autoscale
		rps      float64
		value    float64 // the forecast; NaN: none
		contains string
	}{
		{"no history: no forecast", state.Autoscale{}, 500, math.NaN(), "trend: too little history (1 passes"},
		{"two passes are too little history", history(t, predictive, now.Add(-30*time.Second), now, 15*time.Second, rising), 500, math.NaN(), "too little history (3 passes over 30s, want 3 over 1m0s)"},
		{"a flat rate forecasts itself", history(t, predictive, now.Add(-4*time.Minute), now, 15*time.Second, flat), 500, 500, "trend +0.00 rps/s over 4m0s (17 passes) → 500 at +2m0s"},
		{"a rise of 2 rps/s forecasts 240 more two minutes ahead", history(t, predictive, now.Add(-4*time.Minute), now, 15*time.Second, rising), 500, 740, "trend +2.00 rps/s"},
		{"a fall forecasts less (and the policy ignores it)", history(t, predictive, now.Add(-4*time.Minute), now, 15*time.Second, func(tm time.Time) float64 { return 500 - tm.Sub(now).Seconds() }), 500, 380, "trend -1.00 rps/s"},
		{"a steep fall never forecasts below zero", history(t, predictive, now.Add(-4*time.Minute), now, 15*time.Second, func(tm time.Time) float64 { return 500 - 10*tm.Sub(now).Seconds() }), 500, 0, "→ 0 at +2m0s"},
		{"rates older than the window do not count", history(t, predictive, now.Add(-time.Hour), now.Add(-10*time.Minute), 15*time.Second, rising), 500, math.NaN(), "too little history (1 passes"},
		{"rates from the future (the clock went back) do not count", history(t, predictive, now.Add(time.Minute), now.Add(5*time.Minute), 15*time.Second, rising), 500, math.NaN(), "too little history (1 passes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := Predict(c.mem, c.rps, app.Autoscale, now)
			switch {
			case math.IsNaN(c.value) && fc.Value != nil:
				t.Errorf("forecast %v, want none (%s)", *fc.Value, fc.Note)
			case !math.IsNaN(c.value) && (fc.Value == nil || math.Abs(*fc.Value-c.value) > 1e-6):
				t.Errorf("forecast %v, want %v (%s)", fc.Value, c.value, fc.Note)
			}
			if !strings.Contains(fc.Note, c.contains) {
				t.Errorf("note %q lacks %q", fc.Note, c.contains)
			}
		})
	}
}

// TestForecastFromEarlierDays: two days on which the rate doubles at
// 09:00 teach the third day to expect it. A reading between two slots'
// middles is interpolated: at 08:58 (a tenth of a slot past the middle of
// 08:55–09:00) the earlier days read 550, and two minutes ahead (09:00,
// half-way between the middles) 750: ×1.36.
func TestForecastFromEarlierDays(t *testing.T) {
	app := policy(t, predictive)
	day := func(tm time.Time) float64 {
		if tm.Sub(tm.Truncate(24*time.Hour)) >= 9*time.Hour {
			return 1000
		}
		return 500
	}
	mem := history(t, predictive, monday, monday.Add(48*time.Hour), time.Minute, day)
	if len(mem.Daily) != 288 {
		t.Fatalf("%d slots, want 288 (one per 5 minutes)", len(mem.Daily))
	}
	wed := monday.Add(48 * time.Hour)
	cases := []struct {
		name  string
		now   time.Time
		ratio float64
		value float64
	}{
		{"at 08:58 the rise ahead shows", at(wed, "08:58"), 750.0 / 550, 500 * 750.0 / 550},
		{"at 08:50 nothing changes within the horizon", at(wed, "08:50"), 1, 500},
		{"at 12:00 nothing changes within the horizon", at(wed, "12:00"), 1, 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := Predict(state.Autoscale{Daily: mem.Daily}, 500, app.Autoscale, c.now)
			if fc.DailyRatio == nil || math.Abs(*fc.DailyRatio-c.ratio) > 0.01 || math.Abs(*fc.Value-c.value) > 5 || fc.DailyDays != 2 {
				t.Errorf("ratio %v over %d days, forecast %v; want ×%v → %v over 2 days (%s)", fc.DailyRatio, fc.DailyDays, fc.Value, c.ratio, c.value, fc.Note)
			}
		})
	}
	// The clock goes back a day: that day's mean in a slot is no past, the
	// past stays.
	back := Remember(state.Autoscale{Daily: append([]state.Slot(nil), mem.Daily...)}, AutoscaleDecision{rps: f(50)}, app.Autoscale, at(monday, "12:00"))
	for _, s := range back.Daily {
		if s.Slot == 12*60/SlotMinutes && (s.Day != "2026-11-23" || s.N != 1 || s.Mean != 50 || s.Days != 1 || s.Past != 1000) {
			t.Errorf("the 12:00 slot after the clock went back a day: %+v (want Monday's first pass, the one earlier day kept)", s)
		}
	}
	// The first day has no earlier day to learn from.
	first := history(t, predictive, monday, at(monday, "08:58"), time.Minute, day)
	if fc := Predict(first, 500, app.Autoscale, at(monday, "08:58")); fc.Daily != nil {
		t.Errorf("a forecast from the same day: %s", fc.Note)
	}
}

func TestPredictivePolicyScalesAheadButNeverDown(t *testing.T) {
	app := policy(t, predictive)
	now := at(monday, "12:00")
	long := now.Add(-48 * time.Hour)
	rising := history(t, predictive, now.Add(-4*time.Minute), now, 15*time.Second, func(tm time.Time) float64 { return 500 + 2*tm.Sub(now).Seconds() })
	rising.LastUp, rising.LastDown, rising.LastChange = long, long, long
	d := Autoscale(AutoscaleInput{App: app, Current: 5, Ready: 5, Metrics: Metrics{RPS: f(500)}, Memory: rising}, now)
	if d.Final != 8 || !strings.Contains(d.Reason, "highest recommendation 8 (rps_forecast)") || d.Forecast == nil {
		t.Errorf("a rise: %d (%s), want 8 for the 740 rps forecast", d.Final, d.Reason)
	}
	var row MetricExplain
	for _, e := range d.Metrics {
		if e.Metric == "rps_forecast" {
			row = e
		}
	}
	if row.Value != 740 || !strings.Contains(row.Note, "trend +2.00 rps/s over 4m0s (17 passes) → 740 at +2m0s") {
		t.Errorf("the forecast row does not show its inputs: %+v", row)
	}
	falling := history(t, predictive, now.Add(-4*time.Minute), now, 15*time.Second, func(tm time.Time) float64 { return 500 - tm.Sub(now).Seconds() })
	falling.LastUp, falling.LastDown, falling.LastChange = long, long, long
	d = Autoscale(AutoscaleInput{App: app, Current: 5, Ready: 5, Metrics: Metrics{RPS: f(500)}, Memory: falling}, now)
	if d.Final != 5 || !strings.Contains(d.Reason, "(rps)") {
		t.Errorf("a fall: %d (%s), want 5 (the rate now decides)", d.Final, d.Reason)
	}
	// Without history the policy is the plain one.
	d = Autoscale(AutoscaleInput{App: app, Current: 5, Ready: 5, Metrics: Metrics{RPS: f(500)}, Memory: state.Autoscale{}}, now)
	if d.Final != 5 || d.Metrics[1].Metric != "rps_forecast" || !strings.Contains(d.Metrics[1].Note, "missing: trend: too little history") {
		t.Errorf("no history: %d %+v", d.Final, d.Metrics)
	}
	// An invalid rate neither forecasts nor joins the history.
	nan := math.NaN()
	d = Autoscale(AutoscaleInput{App: app, Current: 5, Ready: 5, Metrics: Metrics{RPS: &nan}, Memory: rising}, now)
	if d.Forecast != nil || d.Final != 5 {
		t.Errorf("NaN rate: %d, forecast %+v", d.Final, d.Forecast)
	}
	if mem := Remember(rising, d, app.Autoscale, now); len(mem.Rates) != len(rising.Rates) {
		t.Errorf("a NaN rate joined the history")
	}
}

func TestRateHistoryIsBounded(t *testing.T) {
	mem := history(t, predictive, monday, monday.Add(72*time.Hour), 20*time.Second, func(time.Time) float64 { return 100 })
	if len(mem.Rates) > maxRates || len(mem.Daily) != 288 {
		t.Errorf("%d rates (at most %d), %d slots (want 288)", len(mem.Rates), maxRates, len(mem.Daily))
	}
	last := monday.Add(72*time.Hour - 20*time.Second)
	for _, r := range mem.Rates {
		if last.Sub(r.At) > TrendWindow(2*time.Minute) {
			t.Errorf("a rate from %s is outside the trend window", r.At)
		}
	}
	for _, s := range mem.Daily {
		if s.Days != 2 || s.Past != 100 {
			t.Errorf("slot %+v: want 2 earlier days at 100", s)
			break
		}
	}
	// A pass every second: the trend keeps the last 64.
	fast := history(t, predictive, monday, monday.Add(10*time.Minute), time.Second, func(time.Time) float64 { return 100 })
	if len(fast.Rates) != maxRates || !fast.Rates[maxRates-1].At.Equal(monday.Add(10*time.Minute-time.Second)) {
		t.Errorf("a pass a second: %d rates kept, want the last %d", len(fast.Rates), maxRates)
	}
	// A policy that stops predicting forgets the history.
	app := policy(t, `{min: 1, max: 50, targets: {rps: 100}}`)
	if got := Remember(mem, AutoscaleDecision{}, app.Autoscale, last); got.Rates != nil || got.Daily != nil {
		t.Errorf("history kept without predict: %d rates, %d slots", len(got.Rates), len(got.Daily))
	}
	// A hand-edited state with slots out of range or twice is cleaned.
	bad := state.Autoscale{Daily: []state.Slot{{Slot: 999}, {Slot: -1}, {Slot: 3, Day: "2026-11-22"}, {Slot: 3}}}
	r := 5.0
	got := Remember(bad, AutoscaleDecision{rps: &r}, policy(t, predictive).Autoscale, at(monday, "00:15"))
	if len(got.Daily) != 1 || got.Daily[0].Slot != 3 {
		t.Errorf("slots after a bad state: %+v", got.Daily)
	}
}
