package commands

// pass.go runs the steps every subcommand shares: load the spec, lock and
// load the state, observe Docker (one list call plus concurrent probes),
// sync the balancer, save.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/template"

	"github.com/baton-orchestrator/baton/internal/balancer"
	"github.com/baton-orchestrator/baton/internal/docker"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/probe"
	"github.com/baton-orchestrator/baton/internal/rollout"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
	"github.com/baton-orchestrator/baton/templates"
)

// probeParallel bounds concurrent readiness probes in one pass.
const probeParallel = 256

type pass struct {
	env    *Env
	out    *passOutcome // what the pass did, for metrics and hooks
	spec   *spec.Spec
	file   *state.File // nil when the pass does not lock (status)
	state  *state.State
	engine *docker.Engine
	prober *probe.Prober
	tmpl   *template.Template
	swarm  swarmView // empty unless the spec involves a Swarm
}

// loadSpec reads and validates the spec; a bad spec exits 1 before
// anything is locked or touched.
func loadSpec(env *Env) (*spec.Spec, error) {
	s, err := spec.Load(env.SpecPath)
	if err != nil {
		var se *spec.Error
		if errors.As(err, &se) {
			return nil, withCode(ExitError, err, "nothing was changed; `baton validate` checks a spec without touching Docker")
		}
		return nil, fmt.Errorf("load spec %q: %w", env.SpecPath, err)
	}
	return s, nil
}

// openPass loads the spec, takes the state lock (when lock is true), loads
// the state and connects to Docker. Call close when done. out collects the
// outcome; nil means nobody asks.
func openPass(ctx context.Context, env *Env, lock bool, out *passOutcome) (*pass, error) {
	s, err := loadSpec(env)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = &passOutcome{}
	}
	out.spec = s
	p := &pass{env: env, spec: s, out: out}
	if s.Nginx != nil {
		if p.tmpl, err = loadTemplate(s); err != nil {
			return nil, err
		}
	}
	if lock {
		p.file, err = state.Open(ctx, env.StatePath, env.LockTimeout)
		if err != nil {
			return nil, err
		}
		p.state, err = p.file.Load()
	} else {
		p.state, err = readState(env.StatePath)
	}
	if err != nil {
		p.close()
		return nil, err
	}
	p.applyDesired()
	p.engine, err = docker.New(env.DockerHost, env.DockerTimeout)
	if err != nil {
		p.close()
		return nil, err
	}
	p.prober = probe.New(p.engine.Exec)
	if err := p.observeNodes(ctx); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// readState reads the state without the lock (for read-only commands).
func readState(path string) (*state.State, error) { return state.Read(path) }

func loadTemplate(s *spec.Spec) (*template.Template, error) {
	name, text := templates.ForKind(s.Nginx.Kind), ""
	if s.Nginx.Template != "" {
		name = s.Resolve(s.Nginx.Template)
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("load template: %w", err)
		}
		text = string(b)
	} else {
		var err error
		if text, err = templates.Builtin(name); err != nil {
			return nil, err
		}
	}
	return templates.Parse(name, text)
}

func (p *pass) close() {
	if p.engine != nil {
		_ = p.engine.Close()
	}
	if p.file != nil {
		_ = p.file.Close()
	}
}

// save writes the state unless this is a dry run.
func (p *pass) save() error {
	if p.env.DryRun || p.file == nil {
		return nil
	}
	if p.out.command != "" {
		if p.state.Runs == nil {
			p.state.Runs = map[string]int{}
		}
		p.state.Runs[p.out.command]++
	}
	return p.file.Save(p.state)
}

// openObserved opens a locked pass and observes Docker: the first two
// steps of scale, heal and lb render. The caller closes the pass.
func openObserved(ctx context.Context, env *Env, out *passOutcome) (*pass, observation, error) {
	p, err := openPass(ctx, env, true, out)
	if err != nil {
		return nil, observation{}, err
	}
	obs, err := p.observe(ctx)
	if err != nil {
		p.close()
		return nil, observation{}, err
	}
	return p, obs, nil
}

// observation is what one pass sees: every container of the project (one
// list call) and which running ones answer their readiness check.
type observation struct {
	containers []fleet.Container
	ready      map[string]bool
	probeErr   map[string]error
	// tasks are the running tasks of swarm apps (as containers at their
	// node's address); ready and probeErr hold their verdicts too.
	tasks []fleet.Container
}

// replicasOf is where an app's replicas are observed: its containers, or
// for a swarm app its tasks (other apps' entries are mixed in; callers
// filter by app).
func (o observation) replicasOf(a *spec.App) []fleet.Container {
	if a.OnSwarm() {
		return o.tasks
	}
	return o.containers
}

func (p *pass) observe(ctx context.Context) (observation, error) {
	cs, err := p.engine.List(ctx, p.spec.Project, p.spec.Docker.Network)
	if err != nil {
		return observation{}, fmt.Errorf("observe docker: %w", err)
	}
	o := observation{containers: cs, ready: map[string]bool{}, probeErr: map[string]error{}}
	var targets []probe.Target
	var ids []string
	for _, c := range cs {
		a := p.spec.App(c.App)
		if a == nil || !c.Running() {
			continue
		}
		if a.Health.Type != "docker" && (c.Health == "unhealthy" || c.Health == "starting") {
			// The image's own HEALTHCHECK vetoes readiness too.
			o.probeErr[c.ID] = fmt.Errorf("docker health is %s", c.Health)
			continue
		}
		targets = append(targets, probe.Target{Addr: c.Addr, ContainerID: c.ID, Health: c.Health, Check: rollout.CheckOf(a)})
		ids = append(ids, c.ID)
	}
	for i, err := range p.prober.All(ctx, targets, probeParallel) {
		if err == nil {
			o.ready[ids[i]] = true
		} else {
			o.probeErr[ids[i]] = err
		}
	}
	if err := p.observeSwarmApps(ctx, &o); err != nil {
		return observation{}, err
	}
	p.out.apps = appStatuses(p.spec, o, p.state)
	return o, nil
}

// lbResult says what a balancer sync did or, on a dry run, would do.
type lbResult struct {
	Path     string `json:"path"`
	Changed  bool   `json:"changed"`
	Reloaded bool   `json:"reloaded"`
	Diff     string `json:"diff,omitempty"`
}

// syncBalancer renders the config for members (and the ready tasks of
// swarm apps) and applies it (or, on a dry run, computes the diff).
// Without an nginx section it does nothing.
func (p *pass) syncBalancer(ctx context.Context, members []fleet.Container) (*lbResult, error) {
	if p.spec.Nginx == nil {
		return nil, nil
	}
	members = append(members[:len(members):len(members)], p.swarm.members...)
	n := p.spec.Nginx
	path := p.spec.Resolve(n.Config)
	view := plan.Balancer(p.spec, members)
	rendered, err := templates.Render(p.tmpl, view)
	if err != nil {
		return nil, err
	}
	st := p.state.BalancerState(path)
	res := &lbResult{Path: path}
	if p.env.DryRun {
		old, existed, err := balancer.Current(path)
		if err != nil {
			return nil, err
		}
		res.Diff = balancer.Diff(path, path+" (new)", old, rendered)
		res.Changed = res.Diff != "" || !existed
		res.Reloaded = balancer.NeedsApply(old, existed, rendered, st, view.Files...)
		return res, nil
	}
	r, err := balancer.Apply(ctx, balancer.Config{Path: path, Test: n.Test, Reload: n.Reload, Dir: p.spec.Dir, Files: view.Files}, rendered, st, p.env.now())
	res.Changed, res.Reloaded = r.Changed, r.Reloaded
	if err != nil {
		return res, fmt.Errorf("balancer %s: %w", path, err)
	}
	if r.Reloaded {
		p.env.logf("balancer: reloaded %s (changed: %v)", path, r.Changed)
	}
	return res, nil
}

// record notes a pass's outcomes: each app's last action in the state, and
// every action (and extra event) in the event log. Nothing on a dry run.
func (p *pass) record(command string, outs []rollout.Outcome, extra []state.Event) error {
	if p.env.DryRun || p.file == nil {
		return nil
	}
	now := p.env.now().UTC()
	var events []state.Event
	for _, o := range outs {
		ev := state.Event{Time: now, Command: command, Type: string(o.Action.Kind), App: o.Action.App,
			Target: o.Action.Target(), Reason: o.Action.Reason}
		if o.New != nil {
			ev.Container = o.New.Name
		}
		if o.Err != nil {
			ev.Error = o.Err.Error()
			events = append(events, ev)
			continue
		}
		events = append(events, ev)
		st := p.state.AppState(o.Action.App)
		st.LastAction = fmt.Sprintf("%s: %s %s: %s", command, o.Action.Kind, o.Action.Target(), o.Action.Reason)
		st.LastActionAt = now
	}
	for i := range extra {
		extra[i].Time, extra[i].Command = now, command
	}
	events = append(events, extra...)
	p.out.events = append(p.out.events, events...)
	for _, o := range outs {
		p.out.actions++
		if o.Err != nil {
			p.out.failed++
		}
	}
	return p.file.AppendEvents(events)
}

// recordAndPrint ends a pass whose actions are events (labels sync,
// rebalance): it counts the failed ones, records them (not on a dry run),
// saves and prints. It returns how many failed.
func (p *pass) recordAndPrint(command string, events []state.Event, print func() error) (int, error) {
	failed := 0
	for _, e := range events {
		if e.Error != "" {
			failed++
		}
	}
	p.out.actions, p.out.failed = len(events), failed
	var recErr error
	if !p.env.DryRun {
		recErr = p.record(command, nil, events)
	}
	saveErr := p.save()
	if err := print(); err != nil {
		return failed, err
	}
	return failed, errors.Join(recErr, saveErr)
}

// runner returns the zero-downtime runner for this pass; balancer syncs are
// added to rep.
func (p *pass) runner(rep *passReport) *rollout.Runner {
	return &rollout.Runner{
		Spec:   p.spec,
		Engine: p.engine,
		Probe:  p.prober,
		Sync: func(ctx context.Context, m []fleet.Container) error {
			lb, err := p.syncBalancer(ctx, m)
			if lb != nil && (lb.Changed || lb.Reloaded) {
				rep.Balancer = append(rep.Balancer, lb)
			}
			return err
		},
		Sleep:  sleep,
		Suffix: suffix,
		Logf:   p.env.logf,
	}
}

// outcomeRows turns outcomes into printed rows.
func outcomeRows(outs []rollout.Outcome) []actionRow {
	rows := make([]actionRow, 0, len(outs))
	for _, o := range outs {
		row := rowOf(o.Action)
		row.Done = o.Err == nil
		if o.Err != nil {
			row.Error = o.Err.Error()
		}
		if o.New != nil {
			row.Container = o.New.Name
		}
		rows = append(rows, row)
	}
	return rows
}

// finish ends a pass that ran actions: it records them (state, event log),
// saves, prints the report and returns the pass's exit status — 1 when the
// balancer could not be synced, 3 when actions failed or an app is
// crash-looping.
func (p *pass) finish(rep *passReport, res rollout.Report, events []state.Event, holds []plan.Hold) error {
	rep.Actions = append(rep.Actions, outcomeRows(res.Outcomes)...)
	recErr := p.record(rep.Command, res.Outcomes, events)
	saveErr := p.save()
	if err := printPass(p.env, rep); err != nil {
		return err
	}
	if res.SyncErr != nil {
		return withCode(ExitError, res.SyncErr, "containers the balancer may still route to were left running")
	}
	if err := errors.Join(recErr, saveErr); err != nil {
		return err
	}
	return holdError(holds, outcomeError(len(res.Outcomes)+rep.serviceActions, res.Failed()+rep.serviceFailed))
}
