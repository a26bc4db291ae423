package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

func f(v float64) *float64 { return &v }

const asSpec = `
nginx: {config: c.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:80"}
apps:
  - name: web
    image: web:1
    port: 8080
    resources: {memory: 256m}
    lb: {}
    autoscale:
      min: 1
      max: 10
      targets: {rps: 100, cpu: 50%, latency_p95: 200ms, memory: 80%}
      scale_up: {max_step: 4, max_percent: 100, period: 30s}
      scale_down: {max_step: 1, period: 1m, stabilization: 5m}
      cooldown: 20s
      timezone: Europe/Berlin
      schedules:
        - {days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00", min: 3}
        - {from: "23:00", to: "01:00", min: 2}
`

// t0 is Monday 2026-11-23 12:00 UTC = 13:00 in Berlin: the weekday
// schedule (floor 3) is in force.
var sunday = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestAutoscale(t *testing.T) {
	s := testSpec(t, asSpec)
	app := s.App("web")
	long := sunday.Add(-48 * time.Hour)
	quiet := state.Autoscale{LastUp: long, LastDown: long, LastChange: long}
	cases := []struct {
		name     string
		now      time.Time
		current  int
		ready    int
		outdated int
		m        Metrics
		mem      state.Autoscale
		ext      *int
		want     int
		reason   string
	}{
		{"rps divides over replicas: 750 rps at 100 per replica wants 8, capped at +4", sunday, 4, 4, 0, Metrics{RPS: f(750)}, quiet, nil, 8, "highest recommendation 8 (rps)"},
		{"the highest metric wins: cpu 1.5x target at 4 replicas wants 6", sunday, 4, 4, 0, Metrics{RPS: f(300), CPU: f(0.75)}, quiet, nil, 6, "(cpu)"},
		{"within tolerance nothing changes", sunday, 4, 4, 0, Metrics{RPS: f(430), CPU: f(0.47)}, quiet, nil, 4, "keep 4"},
		{"a missing metric has no opinion", sunday, 4, 4, 0, Metrics{CPU: f(0.75)}, quiet, nil, 6, "(cpu)"},
		{"no metric at all keeps the count", sunday, 4, 4, 0, Metrics{}, quiet, nil, 4, "no metric has an opinion"},
		{"not-ready replicas count as using nothing on the way up, which never turns it into a scale-down", sunday, 4, 2, 0, Metrics{CPU: f(0.75)}, quiet, nil, 4, "keep 4"},
		{"not-ready replicas count as at target on the way down: 2 ready of 4 at cpu 0.1 want 3, not 1", sunday, 4, 2, 0, Metrics{CPU: f(0.1)}, quiet, nil, 3, "highest recommendation 3 (cpu)"},
		{"latency below target never drives a scale-down", sunday, 4, 4, 0, Metrics{LatencyP95: f(20)}, quiet, nil, 4, "no metric has an opinion"},
		{"memory below target never drives a scale-down", sunday, 4, 4, 0, Metrics{Memory: f(0.2)}, quiet, nil, 4, "no metric has an opinion"},
		{"memory over target scales up", sunday, 4, 4, 0, Metrics{Memory: f(1.2)}, quiet, nil, 6, "(memory)"},
		{"latency over target scales up proportionally", sunday, 2, 2, 0, Metrics{LatencyP95: f(500)}, quiet, nil, 5, "(latency_p95_ms)"},
		{"no scale-up during a rollout", sunday, 4, 4, 2, Metrics{RPS: f(750)}, quiet, nil, 4, "rollout in progress"},
		{"scale-down is stabilized by the window's highest recommendation", sunday, 6, 6, 0, Metrics{RPS: f(200)},
			state.Autoscale{Recs: []state.Rec{{At: sunday.Add(-2 * time.Minute), Replicas: 5}, {At: sunday.Add(-10 * time.Minute), Replicas: 9}}, LastDown: long, LastChange: long}, nil, 5, "stabilized to 5"},
		{"scale-down steps by max_step", sunday, 6, 6, 0, Metrics{RPS: f(100)}, quiet, nil, 5, "scale-down limited to -1"},
		{"scale-down waits its period", sunday, 6, 6, 0, Metrics{RPS: f(100)}, state.Autoscale{LastDown: sunday.Add(-30 * time.Second), LastChange: long}, nil, 6, "period 1m0s: wait"},
		{"scale-up waits its period", sunday, 2, 2, 0, Metrics{RPS: f(750)}, state.Autoscale{LastUp: sunday.Add(-10 * time.Second), LastChange: long}, nil, 2, "period 30s: wait"},
		{"no change within the cooldown", sunday, 4, 4, 0, Metrics{RPS: f(750)}, state.Autoscale{LastChange: sunday.Add(-5 * time.Second)}, nil, 4, "cooldown"},
		{"max caps", sunday, 8, 8, 0, Metrics{RPS: f(5000)}, quiet, nil, 10, "capped at max 10"},
		{"min floors", sunday, 2, 2, 0, Metrics{RPS: f(1)}, quiet, nil, 1, "scale down 2 → 1"},
		{"a weekday schedule raises the floor in its time zone", t0, 1, 1, 0, Metrics{RPS: f(1)}, quiet, nil, 3, "schedule #0"},
		{"a schedule past midnight applies at 23:30 Berlin on a Sunday", time.Date(2026, 11, 22, 22, 30, 0, 0, time.UTC), 1, 1, 0, Metrics{}, quiet, nil, 2, "schedule #1"},
		{"the external scaler is one more recommendation", sunday, 4, 4, 0, Metrics{RPS: f(400)}, quiet, ptr(7), 7, "(external)"},
		{"from zero ready, the request total still tells", sunday, 1, 0, 0, Metrics{RPS: f(250)}, quiet, nil, 3, "(rps)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := AutoscaleInput{App: app, Current: c.current, Ready: c.ready, Outdated: c.outdated, Metrics: c.m, Memory: c.mem, External: c.ext}
			if c.ext != nil {
				in.App = withExternal(t)
			}
			d := Autoscale(in, c.now)
			if d.Final != c.want || !strings.Contains(d.Reason, c.reason) {
				t.Errorf("final %d (want %d), reason %q (want it to contain %q)\n%+v", d.Final, c.want, d.Reason, c.reason, d.Metrics)
			}
		})
	}
}

func ptr(i int) *int { return &i }

func withExternal(t testing.TB) *spec.App {
	s := testSpec(t, strings.Replace(asSpec, "      cooldown: 20s\n", "      cooldown: 20s\n      external: {command: [scaler]}\n", 1))
	return s.App("web")
}

func TestRememberTrimsTheHistory(t *testing.T) {
	s := testSpec(t, asSpec)
	as := s.App("web").Autoscale
	mem := state.Autoscale{Recs: []state.Rec{{At: t0.Add(-10 * time.Minute), Replicas: 9}, {At: t0.Add(-time.Minute), Replicas: 4}}}
	got := Remember(mem, AutoscaleDecision{Current: 4, Raw: 6, Final: 6}, as, t0)
	if len(got.Recs) != 2 || got.Recs[1].Replicas != 6 || !got.LastUp.Equal(t0) || !got.LastChange.Equal(t0) || got.Desired != 6 {
		t.Errorf("%+v", got)
	}
}
