package commands

// autoscale.go observes what the autoscaler decides from: the balancer's
// access log, one-shot container stats and the external scaler. The
// decider is plan.Autoscale (through plan.AutoscaleApps in scale's pass).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/bounded"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/metrics"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/proc"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

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

// autoscaleSeen is what the autoscaler observed for one scale pass: each
// autoscaled app's input to the decider, and how far the access log was
// read and each container's CPU counter, to remember after the pass.
type autoscaleSeen struct {
	inputs    []plan.AutoscaleInput
	accessLog *state.LogPos
	cpu       map[string]state.CPUSample
}

// remember is the commit of what the autoscaler observed.
func (a autoscaleSeen) remember(st *state.State, _ []plan.Outcome) {
	if a.accessLog != nil {
		st.AccessLog = a.accessLog
	}
	if a.cpu != nil {
		st.CPU = a.cpu
	}
}

// observeAutoscale gathers the metrics of every autoscaled app (or reads
// them from metricsPath), counts its ready and outdated replicas and asks
// its external scaler.
func (p *pass) observeAutoscale(ctx context.Context, metricsPath string) (autoscaleSeen, error) {
	var seen autoscaleSeen
	var apps []*spec.App
	for _, a := range p.spec.Apps {
		if a.Autoscale != nil {
			apps = append(apps, a)
		}
	}
	if len(apps) == 0 {
		return seen, nil
	}
	now := p.clock.Now()
	var observed map[string]plan.Metrics
	var err error
	if metricsPath != "" {
		if observed, err = readMetricsFile(metricsPath); err != nil {
			return seen, err
		}
	} else {
		observed = p.gather(ctx, &seen, apps, now)
	}
	for _, a := range apps {
		in := plan.AutoscaleInput{App: a, Current: p.want.Of(a.Name), Metrics: observed[a.Name]}
		hash := p.spec.HashOf(a)
		for _, c := range p.fleet.replicasOf(a) {
			if c.App == a.Name && c.Running() {
				if p.fleet.ready[c.ID] {
					in.Ready++
				}
				if c.Hash != hash {
					in.Outdated++
				}
			}
		}
		if mem := p.autoscaleMemory(a); mem != nil { // swarm.go: a swarm app's is on its service
			in.Memory = *mem
		}
		if a.Autoscale.External != nil {
			n, err := runScaler(ctx, p.spec.Dir, a, in)
			if err != nil {
				p.env.warnf("autoscale %s: external scaler: %v", a.Name, err)
				in.ExternalErr = err.Error()
			} else {
				in.External = &n
			}
		}
		seen.inputs = append(seen.inputs, in)
	}
	return seen, nil
}

// gather observes the metrics of the autoscaled apps: request metrics
// from the access log's new lines, CPU and memory from the replicas'
// stats (plan.Traffic and plan.Usage do the arithmetic).
func (p *pass) gather(ctx context.Context, seen *autoscaleSeen, apps []*spec.App, now time.Time) map[string]plan.Metrics {
	out := map[string]plan.Metrics{}
	if n := p.spec.Nginx; n != nil && n.AccessLog != "" {
		samples, pos, took, err := metrics.Read(p.spec.Resolve(n.AccessLog), p.state.AccessLog, now)
		if err != nil {
			p.env.warnf("autoscale: %v", err)
		} else {
			seen.accessLog = pos
			for _, a := range apps {
				if m, ok := plan.Traffic(samples[a.Name], took); ok && a.LB != nil {
					out[a.Name] = m
				}
			}
		}
	}
	readings := p.gatherUsage(ctx, apps, now)
	usage, next := plan.Usage(p.spec, readings, p.state.CPU)
	for name, u := range usage {
		m := out[name]
		m.CPU, m.CPUSamples, m.Memory = u.CPU, u.CPUSamples, u.Memory
		out[name] = m
	}
	if len(readings) > 0 {
		seen.cpu = next
	}
	return out
}

// gatherUsage reads the stats of the ready replicas of apps with a CPU or
// memory target: local containers at the engine (16 at a time), a swarm
// app's tasks at the engines of the nodes they run on. Such a node without
// an endpoint, or that does not answer, is a warning: its tasks' usage is
// missing.
func (p *pass) gatherUsage(ctx context.Context, apps []*spec.App, now time.Time) []plan.Reading {
	var local []plan.Reading
	tasks := map[string]string{} // task ID → app
	for _, a := range apps {
		if t := a.Autoscale.Targets; t.CPU.Fraction == 0 && t.Memory.Fraction == 0 {
			continue
		}
		for _, c := range p.fleet.replicasOf(a) {
			switch {
			case c.App != a.Name || !p.fleet.ready[c.ID]:
			case a.OnSwarm():
				tasks[c.ID] = a.Name
			default:
				local = append(local, plan.Reading{App: a.Name, Key: c.ID})
			}
		}
	}
	read := make([]bool, len(local))
	bounded.Each(len(local), 16, func(i int) {
		u, err := p.engine.Stats(ctx, local[i].Key)
		if u.At.IsZero() {
			u.At = now // the daemon did not say when it read
		}
		local[i].Usage, read[i] = u, err == nil
	})
	var out []plan.Reading
	for i, r := range local {
		if read[i] {
			out = append(out, r)
		}
	}
	if len(tasks) == 0 {
		return out
	}
	hosts := map[string]bool{} // the nodes the tasks run on: only they are read
	for _, t := range p.fleet.tasks {
		if tasks[t.ID] != "" {
			hosts[t.NodeID] = true
		}
	}
	var nodes []fleet.Node
	for _, n := range p.nodes {
		if hosts[n.ID] {
			nodes = append(nodes, n)
		}
	}
	got, problems := p.taskStats(ctx, nodes, func(id string) bool { return tasks[id] != "" })
	for _, np := range problems {
		p.env.warnf("autoscale: %s", np.String("the cpu and memory of its tasks are missing"))
	}
	for id, u := range got {
		out = append(out, plan.Reading{App: tasks[id], Key: id, Usage: u})
	}
	return out
}

// runScaler runs an app's external scaler in the spec's directory: the
// input as JSON on stdin, a replica count on stdout (plan.ScalerCount
// reads it), within the scaler's timeout — at the deadline its whole
// process group is killed, children holding its output included.
func runScaler(ctx context.Context, dir string, a *spec.App, in plan.AutoscaleInput) (int, error) {
	ext := a.Autoscale.External
	payload, err := json.Marshal(map[string]any{"app": a.Name, "current": in.Current, "ready": in.Ready, "metrics": in.Metrics})
	if err != nil {
		return 0, fmt.Errorf("encode its input: %w", err)
	}
	stdout, stderr, err := proc.Run(ctx, ext.Command, proc.Options{Dir: dir, Stdin: payload, Timeout: ext.Timeout.D, MaxOutput: 4 << 10})
	if err != nil {
		if msg := strings.TrimSpace(string(stderr)); msg != "" {
			return 0, fmt.Errorf("%w: %s", err, msg)
		}
		return 0, err
	}
	return plan.ScalerCount(stdout)
}
