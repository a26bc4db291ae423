package plan

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// policy parses a one-app spec whose autoscale mapping is as (flow style).
func policy(t testing.TB, as string) *spec.App {
	t.Helper()
	return testSpec(t, `
nginx: {config: c.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:80"}
apps:
  - name: web
    image: web:1
    port: 8080
    resources: {memory: 256m}
    lb: {}
    autoscale: `+as+"\n").App("web")
}

// run drives one pass a step from from to to, feeding each decision to
// the next pass as scale does, and returns the count after each pass by
// the pass's clock time ("15:04").
func run(app *spec.App, from, to time.Time, step time.Duration, metrics func(time.Time) Metrics) map[string]AutoscaleDecision {
	out := map[string]AutoscaleDecision{}
	var mem state.Autoscale
	current := app.Autoscale.Min
	for now := from; !now.After(to); now = now.Add(step) {
		d := Autoscale(AutoscaleInput{App: app, Current: current, Ready: current, Metrics: metrics(now), Memory: mem}, now)
		mem = Remember(mem, d, app.Autoscale, now)
		current = d.Final
		out[now.Format("15:04")] = d
	}
	return out
}

var monday = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday

func at(day time.Time, hhmm string) time.Time {
	c := clock(hhmm)
	return day.Add(time.Duration(c) * time.Minute)
}

func TestSchedulesThatEnd(t *testing.T) {
	none := func(time.Time) Metrics { return Metrics{} }
	low := func(time.Time) Metrics { return Metrics{RPS: f(10)} }
	cases := []struct {
		name    string
		policy  string
		metrics func(time.Time) Metrics
		want    map[string]int // by clock time
	}{
		{"a schedule-only policy follows its window: 5 inside it, min after it once stabilization passed",
			`{min: 1, max: 10, schedules: [{from: "09:00", to: "19:00", min: 5}]}`, none,
			map[string]int{"08:59": 1, "09:00": 5, "10:00": 5, "18:59": 5, "19:00": 5, "19:03": 5, "19:04": 1, "19:10": 1, "23:00": 1}},
		{"a schedule-only policy without stabilization leaves at the window's end",
			`{min: 1, max: 10, schedules: [{from: "09:00", to: "19:00", min: 5}], scale_down: {stabilization: 0s}}`, none,
			map[string]int{"09:00": 5, "18:59": 5, "19:00": 1}},
		{"a schedule-only policy steps down at its scale-down limit",
			`{min: 1, max: 10, schedules: [{from: "09:00", to: "19:00", min: 5}], scale_down: {max_step: 1, period: 1m, stabilization: 0s}}`, none,
			map[string]int{"19:00": 4, "19:01": 3, "19:02": 2, "19:03": 1, "19:10": 1}},
		{"with a metric target the schedule only raises the floor: no metric opinion keeps the count after the window",
			`{min: 1, max: 10, targets: {rps: 100}, schedules: [{from: "09:00", to: "19:00", min: 5}]}`, none,
			map[string]int{"09:00": 5, "10:00": 5, "19:10": 5, "23:00": 5}},
		{"with a metric target the metric decides after the window (the floor held it, no recommendation of 5 was made)",
			`{min: 1, max: 10, targets: {rps: 100}, schedules: [{from: "09:00", to: "19:00", min: 5}]}`, low,
			map[string]int{"08:59": 1, "09:00": 5, "10:00": 5, "18:59": 5, "19:00": 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(policy(t, c.policy), at(monday, "08:00"), at(monday, "23:30"), time.Minute, c.metrics)
			for hhmm, want := range c.want {
				if d := got[hhmm]; d.Final != want {
					t.Errorf("at %s: %d, want %d (%s)", hhmm, d.Final, want, d.Reason)
				}
			}
		})
	}
	// The reasons say what the schedule did.
	got := run(policy(t, `{min: 1, max: 10, schedules: [{from: "09:00", to: "19:00", min: 5}]}`), at(monday, "08:00"), at(monday, "19:10"), time.Minute, none)
	for hhmm, want := range map[string]string{
		"10:00": "only schedules: schedule #0 (09:00-19:00 UTC) in force wants 5",
		"19:01": "stabilized to 5",
		"19:10": "only schedules: none in force, min 1; keep 1",
	} {
		if !strings.Contains(got[hhmm].Reason, want) {
			t.Errorf("at %s: reason %q lacks %q", hhmm, got[hhmm].Reason, want)
		}
	}
}

func TestScheduleAcrossMidnightAndDays(t *testing.T) {
	app := policy(t, `{min: 0, max: 10, timezone: Europe/Berlin, schedules: [{days: [fri], from: "22:00", to: "06:00", min: 4}, {days: [sun], from: "23:30", to: "00:30", min: 2}, {days: [sun], from: "01:00", to: "04:00", min: 3}]}`)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	fri := time.Date(2026, 11, 27, 0, 0, 0, 0, berlin)
	cases := []struct {
		name string
		now  time.Time
		want int
	}{
		{"a Friday night window is in force late on Friday", fri.Add(23 * time.Hour), 4},
		{"and after midnight, on Saturday, until its end", fri.Add(29*time.Hour + 59*time.Minute), 4},
		{"not after its end on Saturday", fri.Add(30 * time.Hour), 0},
		{"not in the small hours of Friday: that is Thursday's night", fri.Add(2 * time.Hour), 0},
		{"not on Saturday night", fri.Add(47 * time.Hour), 0},
		{"a Sunday window reaches into Monday", time.Date(2026, 11, 30, 0, 15, 0, 0, berlin), 2},
		{"and starts on Sunday", time.Date(2026, 11, 29, 23, 45, 0, 0, berlin), 2},
		{"a Monday 23:45 is not a Sunday", time.Date(2026, 11, 30, 23, 45, 0, 0, berlin), 0},
		{"the window follows the zone, not UTC: 22:30 UTC Friday is 23:30 in Berlin", time.Date(2026, 11, 27, 22, 30, 0, 0, time.UTC), 4},
		{"the night the clocks go back (Sunday 25 October 2026): 02:30 summer time is in the 01:00-04:00 window", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), 3},
		{"and so is 02:30 winter time, the hour repeated", time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), 3},
		{"and 04:00 winter time ends it, four hours after 01:00", time.Date(2026, 10, 25, 3, 0, 0, 0, time.UTC), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, _ := ScheduleFloor(app.Autoscale, c.now); got != c.want {
				t.Errorf("floor %d, want %d at %s", got, c.want, c.now.In(berlin))
			}
		})
	}
}

func TestInvalidMetricsHaveNoOpinion(t *testing.T) {
	app := policy(t, `{min: 1, max: 10, targets: {rps: 100, cpu: 50%, memory: 80%, latency_p95: 200ms, inflight: 10}}`)
	long := sunday.Add(-48 * time.Hour)
	quiet := state.Autoscale{LastUp: long, LastDown: long, LastChange: long}
	nan, inf, neg := math.NaN(), math.Inf(1), -3.0
	cases := []struct {
		name string
		m    Metrics
		want int
	}{
		{"NaN everywhere keeps the count", Metrics{RPS: &nan, CPU: &nan, CPUSamples: 4, Memory: &nan, LatencyP95: &nan, Inflight: &nan}, 4},
		{"+Inf everywhere keeps the count", Metrics{RPS: &inf, CPU: &inf, CPUSamples: 4, Memory: &inf, LatencyP95: &inf, Inflight: &inf}, 4},
		{"negative values keep the count", Metrics{RPS: &neg, CPU: &neg, CPUSamples: 4, Memory: &neg, LatencyP95: &neg, Inflight: &neg}, 4},
		{"an invalid metric beside a valid one: the valid one decides", Metrics{RPS: &nan, CPU: f(1.0), CPUSamples: 4}, 8},
		{"CPU measured on fewer replicas, and NaN: no opinion", Metrics{CPU: &nan, CPUSamples: 2}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Autoscale(AutoscaleInput{App: app, Current: 4, Ready: 4, Metrics: c.m, Memory: quiet}, sunday)
			if d.Final != c.want {
				t.Errorf("final %d, want %d: %s\n%+v", d.Final, c.want, d.Reason, d.Metrics)
			}
			// Whatever came in, the decision encodes (JSON has no NaN).
			if _, err := json.Marshal(d); err != nil {
				t.Errorf("the decision does not encode: %v", err)
			}
			for _, e := range d.Metrics {
				if e.Recommend < noOpinion || e.Recommend > 1e6 {
					t.Errorf("%s recommends %d", e.Metric, e.Recommend)
				}
			}
		})
	}
}

func TestClockJumps(t *testing.T) {
	app := policy(t, `{min: 1, max: 10, targets: {rps: 100}, scale_up: {period: 1m}, scale_down: {period: 1m, stabilization: 5m}}`)
	now := sunday
	// A scale-up at now, then the clock goes back an hour.
	mem := state.Autoscale{LastUp: now, LastChange: now, Recs: []state.Rec{{At: now, Replicas: 4}}}
	back := now.Add(-time.Hour)
	d := Autoscale(AutoscaleInput{App: app, Current: 4, Ready: 4, Metrics: Metrics{RPS: f(800)}, Memory: mem}, back)
	if d.Final != 4 || !strings.Contains(d.Reason, "last scale-up 0s ago") {
		t.Fatalf("right after the jump back: %d (%s), want the period to count from now", d.Final, d.Reason)
	}
	mem = Remember(mem, d, app.Autoscale, back)
	for _, tm := range []time.Time{mem.LastUp, mem.LastChange, mem.Recs[0].At} {
		if tm.After(back) {
			t.Errorf("a time from before the jump stays in the future: %s", tm)
		}
	}
	// One period after the jump (not an hour), the scale-up happens.
	later := back.Add(time.Minute)
	if d := Autoscale(AutoscaleInput{App: app, Current: 4, Ready: 4, Metrics: Metrics{RPS: f(800)}, Memory: mem}, later); d.Final != 8 {
		t.Errorf("a period after the jump back: %d (%s), want 8", d.Final, d.Reason)
	}
	// A scale-down after the jump waits one stabilization window, not an hour more.
	mem = state.Autoscale{Recs: []state.Rec{{At: now, Replicas: 8}}}
	d = Autoscale(AutoscaleInput{App: app, Current: 8, Ready: 8, Metrics: Metrics{RPS: f(100)}, Memory: mem}, back)
	if d.Final != 8 {
		t.Errorf("a recommendation from the future still stabilizes once: %d (%s)", d.Final, d.Reason)
	}
	mem = Remember(mem, d, app.Autoscale, back)
	for m := 1; m <= 5; m++ {
		tm := back.Add(time.Duration(m) * time.Minute)
		d = Autoscale(AutoscaleInput{App: app, Current: d.Final, Ready: d.Final, Metrics: Metrics{RPS: f(100)}, Memory: mem}, tm)
		mem = Remember(mem, d, app.Autoscale, tm)
	}
	if d.Final != 1 {
		t.Errorf("5 minutes after the jump back: %d (%s), want 1", d.Final, d.Reason)
	}
	// The clock jumps a day ahead: the old memory has expired, nothing waits.
	ahead := now.Add(24 * time.Hour)
	mem = state.Autoscale{LastDown: now, LastChange: now, Recs: []state.Rec{{At: now, Replicas: 9}}}
	if d := Autoscale(AutoscaleInput{App: app, Current: 9, Ready: 9, Metrics: Metrics{RPS: f(100)}, Memory: mem}, ahead); d.Final != 1 {
		t.Errorf("a day ahead: %d (%s), want 1", d.Final, d.Reason)
	}
}

func TestScalerCount(t *testing.T) {
	cases := []struct {
		out  string
		want int
		err  string
	}{
		{"3\n", 3, ""},
		{"  0  ", 0, ""},
		{"500000", 500000, ""},
		{"", 0, `got ""`},
		{"three", 0, `got "three"`},
		{"-1", 0, `got "-1"`},
		{"3.5", 0, `got "3.5"`},
		{"3\n4\n", 0, `got "3\n4"`},
		{"99999999999999999999999", 0, "want a replica count on stdout"},
		{strings.Repeat("x", 200), 0, "…"},
	}
	for _, c := range cases {
		n, err := ScalerCount([]byte(c.out))
		switch {
		case c.err == "" && (err != nil || n != c.want):
			t.Errorf("%q: %d %v, want %d", c.out, n, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: %d %v, want an error with %q", c.out, n, err, c.err)
		}
	}
}

func TestExternalScalerAnswers(t *testing.T) {
	app := withExternal(t)
	long := sunday.Add(-48 * time.Hour)
	quiet := state.Autoscale{LastUp: long, LastDown: long, LastChange: long}
	big := 1000
	d := Autoscale(AutoscaleInput{App: app, Current: 4, Ready: 4, External: &big, Memory: quiet}, sunday)
	if d.Final != 8 || !strings.Contains(d.Reason, "highest recommendation 1000 (external)") || !strings.Contains(d.Reason, "limited to +4") {
		t.Errorf("an answer beyond max: %d (%s), want +4 per change", d.Final, d.Reason)
	}
	d = Autoscale(AutoscaleInput{App: app, Current: 8, Ready: 8, External: &big, Memory: quiet}, sunday)
	if d.Final != 10 || !strings.Contains(d.Reason, "capped at max 10") {
		t.Errorf("an answer beyond max: %d (%s), want max 10", d.Final, d.Reason)
	}
	d = Autoscale(AutoscaleInput{App: app, Current: 4, Ready: 4, ExternalErr: `want a replica count on stdout, got "banana"`, Memory: quiet}, sunday)
	if d.Final != 4 || !strings.Contains(d.Reason, "no metric has an opinion: keep the count") {
		t.Errorf("no answer: %d (%s), want the count kept", d.Final, d.Reason)
	}
	if n := d.Metrics[len(d.Metrics)-1].Note; n != `no answer (want a replica count on stdout, got "banana"): no opinion` {
		t.Errorf("the external row: %q", n)
	}
}
