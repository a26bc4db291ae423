package commands

// autoscale.go gathers the autoscaler's metrics (the balancer's access
// log, one-shot container stats, the external scaler), runs the pure
// decider for every autoscaled app and records its memory.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baton-orchestrator/baton/internal/bounded"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/metrics"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// applyDesired sets each autoscaled app's replica count to the last
// decision in the state file (or its spec count at first), clamped to its
// bounds, so every subcommand agrees on how many replicas an app wants.
func (p *pass) applyDesired() {
	for _, a := range p.spec.Apps {
		as := a.Autoscale
		if as == nil {
			continue
		}
		n := a.WantReplicas()
		if st := p.state.Apps[a.Name]; st != nil && st.Autoscale != nil {
			n = st.Autoscale.Desired
		}
		n = min(max(n, as.Min), as.Max)
		a.Replicas = &n
	}
}

// metricsInput is the --metrics JSON: metrics per app, replacing
// observation (for what-if runs and tests).
type metricsInput struct {
	Apps map[string]plan.Metrics `json:"apps"`
}

func readMetricsFile(path string) (map[string]plan.Metrics, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	var mf metricsInput
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mf); err != nil {
		return nil, fmt.Errorf("--metrics %s: %w", path, err)
	}
	return mf.Apps, nil
}

// autoscale decides every autoscaled app's count and applies it to the
// spec in memory (and, unless this is a dry run, to the state's memory).
func (p *pass) autoscale(ctx context.Context, obs observation, metricsPath string) ([]plan.AutoscaleDecision, error) {
	var apps []*spec.App
	for _, a := range p.spec.Apps {
		if a.Autoscale != nil {
			apps = append(apps, a)
		}
	}
	if len(apps) == 0 {
		return nil, nil
	}
	now := p.env.now()
	var observed map[string]plan.Metrics
	var err error
	if metricsPath != "" {
		if observed, err = readMetricsFile(metricsPath); err != nil {
			return nil, err
		}
	} else {
		observed = p.gather(ctx, obs, apps, now)
	}
	var out []plan.AutoscaleDecision
	for _, a := range apps {
		in := plan.AutoscaleInput{App: a, Current: a.WantReplicas(), Metrics: observed[a.Name]}
		hash := p.spec.HashOf(a)
		for _, c := range obs.replicasOf(a) {
			if c.App == a.Name && c.Running() {
				if obs.ready[c.ID] {
					in.Ready++
				}
				if c.Hash != hash {
					in.Outdated++
				}
			}
		}
		st := p.state.AppState(a.Name)
		if st.Autoscale != nil {
			in.Memory = *st.Autoscale
		}
		if a.Autoscale.External != nil {
			n, err := runScaler(ctx, a, in)
			if err != nil {
				p.env.warnf("autoscale %s: external scaler: %v", a.Name, err)
			} else {
				in.External = &n
			}
		}
		d := plan.Autoscale(in, now)
		mem := plan.Remember(in.Memory, d, a.Autoscale, now)
		st.Autoscale = &mem
		final := d.Final
		a.Replicas = &final
		out = append(out, d)
	}
	return out, nil
}

// gather observes the metrics of the autoscaled apps.
func (p *pass) gather(ctx context.Context, obs observation, apps []*spec.App, now time.Time) map[string]plan.Metrics {
	out := map[string]plan.Metrics{}
	if n := p.spec.Nginx; n != nil && n.AccessLog != "" {
		samples, pos, took, err := metrics.Read(p.spec.Resolve(n.AccessLog), p.state.AccessLog, now)
		if err != nil {
			p.env.warnf("autoscale: %v", err)
		} else {
			p.state.AccessLog = pos
			if took > 0 {
				secs := took.Seconds()
				for _, a := range apps {
					if a.LB == nil {
						continue
					}
					m := out[a.Name]
					s := samples[a.Name]
					if s == nil {
						s = &metrics.AppSample{}
					}
					rps := float64(s.Requests) / secs
					inflight := rps * s.Mean() // Little's law: rate × time in system
					m.RPS, m.Inflight = &rps, &inflight
					if s.Requests > 0 {
						p95 := s.P95()
						errRate := float64(s.Errors) / float64(s.Requests)
						m.LatencyP95, m.ErrorRate = &p95, &errRate
					}
					out[a.Name] = m
				}
			}
		}
	}
	p.gatherUsage(ctx, obs, apps, now, out)
	return out
}

// gatherUsage reads CPU and memory of the ready replicas of apps with such
// targets: one one-shot stats call per replica, concurrently (at most 16).
func (p *pass) gatherUsage(ctx context.Context, obs observation, apps []*spec.App, now time.Time, out map[string]plan.Metrics) {
	type job struct {
		app *spec.App
		c   fleet.Container
	}
	var jobs []job
	for _, a := range apps {
		t := a.Autoscale.Targets
		if t.CPU.Fraction == 0 && t.Memory.Fraction == 0 {
			continue
		}
		for _, c := range obs.containers {
			if c.App == a.Name && obs.ready[c.ID] {
				jobs = append(jobs, job{a, c})
			}
		}
	}
	prev := p.state.CPU
	next := map[string]state.CPUSample{}
	var mu sync.Mutex
	type sums struct {
		cpu, mem     float64
		ncpu, nmem   int
		hasMemTarget bool
	}
	acc := map[string]*sums{}
	bounded.Each(len(jobs), 16, func(i int) {
		j := jobs[i]
		u, err := p.engine.Stats(ctx, j.c.ID)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		next[j.c.ID] = state.CPUSample{Nanos: u.CPUNanos, At: u.At}
		s := acc[j.app.Name]
		if s == nil {
			s = &sums{}
			acc[j.app.Name] = s
		}
		if pr, ok := prev[j.c.ID]; ok && u.At.After(pr.At) && u.CPUNanos >= pr.Nanos {
			cores := float64(u.CPUNanos-pr.Nanos) / float64(u.At.Sub(pr.At).Nanoseconds())
			limit := 1.0
			if m := j.app.Resources.CPU.Milli; m > 0 {
				limit = float64(m) / 1000
			}
			s.cpu += cores / limit
			s.ncpu++
		}
		if lim := j.app.Resources.Memory.Bytes; lim > 0 {
			s.mem += float64(u.MemBytes) / float64(lim)
			s.nmem++
		}
	})
	for name, s := range acc {
		m := out[name]
		if s.ncpu > 0 {
			v := s.cpu / float64(s.ncpu)
			m.CPU, m.CPUSamples = &v, s.ncpu
		}
		if s.nmem > 0 {
			v := s.mem / float64(s.nmem)
			m.Memory = &v
		}
		out[name] = m
	}
	if len(jobs) > 0 {
		p.state.CPU = next
	}
	_ = now
}

// runScaler runs an app's external scaler: the input as JSON on stdin, a
// replica count on stdout.
func runScaler(ctx context.Context, a *spec.App, in plan.AutoscaleInput) (int, error) {
	ext := a.Autoscale.External
	ctx, cancel := context.WithTimeout(ctx, ext.Timeout.D)
	defer cancel()
	payload, _ := json.Marshal(map[string]any{"app": a.Name, "current": in.Current, "ready": in.Ready, "metrics": in.Metrics})
	cmd := exec.CommandContext(ctx, ext.Command[0], ext.Command[1:]...)
	cmd.Stdin = bytes.NewReader(payload)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	n, err := strconv.Atoi(strings.TrimSpace(stdout.String()))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a replica count on stdout, got %q", strings.TrimSpace(stdout.String()))
	}
	return n, nil
}
