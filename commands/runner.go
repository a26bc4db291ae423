package commands

// runner.go runs every pass subcommand the same way (STYLE.md, "the shape
// of every pass"):
//
//	lock → load spec and state → observe → decide → print the plan and
//	stop here on --dry-run → execute → commit → record → save → unlock
//	→ metrics and hooks → exit status
//
// A subcommand is a passDef: what it observes, its decider (pure: what was
// observed and the time in, a plan.Plan of steps with reasons out) and an
// executor per kind of step. Dry-run, printing, the event log, hooks,
// metrics, saving and the exit status exist only here.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
	"github.com/baton-orchestrator/baton/internal/hook"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/state"
)

// passDef is one pass subcommand. O is what it observes.
type passDef[O any] struct {
	name    string // the subcommand path: "scale", "lb render"
	observe func(ctx context.Context, x *pass) (O, error)
	decide  func(x *pass, seen O, now time.Time) plan.Plan
	// exec are the executors, applied in this order, each to the steps of
	// its kinds (in plan order).
	exec []executor
	view view
	// tidy, when set, removes what killed passes left behind in the
	// pass's own files (never on a dry run; under the lock).
	tidy func(x *pass)
	// explainOnly: the pass prints its plan and stops, as a dry run does
	// (scale --explain, which like kubectl explain changes nothing).
	explainOnly bool
}

// evaluates says which known incidents this pass judged (plan.Judges).
func (d passDef[O]) evaluates(x *pass) func(*state.Incident) bool {
	sight := plan.Sight{Pass: d.name, NodesListed: x.nodes != nil, Spec: x.spec, Containers: x.fleet.containers}
	for _, n := range x.nodes {
		if !n.Ready {
			sight.Down = append(sight.Down, n.Hostname)
		}
	}
	return func(inc *state.Incident) bool { return plan.Judges(sight, inc) }
}

// executor applies the steps of some kinds. It returns one outcome per
// step, plus any outcome of its own (a balancer sync a rollout did, a
// finding it made while waiting).
type executor struct {
	kinds []plan.Kind
	run   func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome
}

// passCommand is a pass subcommand: it runs the pass that action builds.
func passCommand(name, usage, description string, flags []cli.Flag, action cli.ActionFunc) *cli.Command {
	return &cli.Command{Name: name, Category: passCategory, Usage: usage, Description: description, Flags: flags, Action: action}
}

// groupCommand holds a pass subcommand one level down ("lb render").
func groupCommand(name, usage string, sub *cli.Command) *cli.Command {
	sub.Category = ""
	return &cli.Command{Name: name, Category: passCategory, Usage: usage, Subcommands: []*cli.Command{sub}}
}

// run runs one pass of d and returns its exit status as an error.
func run[O any](ctx context.Context, env *Env, d passDef[O]) error {
	clk := env.clock()
	start := clk.Now()
	// The one dry-run decision: the report knows, and runOpen stops after
	// printing the plan.
	rep := &report{command: d.name, dryRun: env.DryRun || d.explainOnly, view: d.view, kinds: kindsOf(d.exec)}
	x, err := openPass(ctx, env, d.name, true)
	if err == nil {
		err = runOpen(ctx, x, d, rep)
		x.close()
	}
	err = exitStatus(rep, err)
	if ferr := rep.flush(env, err); ferr != nil && err == nil {
		err = ferr
	}
	finish(ctx, env, x, rep, start, Code(err))
	return err
}

func runOpen[O any](ctx context.Context, x *pass, d passDef[O], rep *report) error {
	seen, err := d.observe(ctx, x)
	if err != nil {
		return err
	}
	x.logObserved()
	p := d.decide(x, seen, x.clock.Now())
	p.Steps = x.withDownNodes(p.Steps)
	x.logPlan(p.Steps)
	if p.Want != nil {
		x.want = p.Want
	}
	rep.info = p.Info
	if rep.dryRun {
		rep.outcomes = make([]plan.Outcome, len(p.Steps))
		for i, s := range p.Steps {
			rep.outcomes[i] = plan.Outcome{Step: s, Data: planned(s)}
		}
		rep.outcomes, _ = plan.TrackIncidents(rep.outcomes, x.state.Incidents, d.evaluates(x), d.name, x.clock.Now())
		return rep.print(x.env)
	}
	if d.tidy != nil {
		d.tidy(x)
	}
	if x.env.MetricsDir != "" {
		atomicfile.RemoveLeftovers(metricsFile(x.env.MetricsDir, x.name)) // written after the lock, by this command only
	}
	var incidents func(*state.State, []plan.Outcome)
	outs := append(x.execute(ctx, d.exec, p.Steps), x.nodesAfter(ctx)...) // swarm.go
	rep.outcomes, incidents = plan.TrackIncidents(outs, x.state.Incidents, d.evaluates(x), d.name, x.clock.Now())
	plan.Commits(p.Commit, incidents)(x.state, rep.outcomes)
	x.storeSwarmMemory(ctx) // swarm.go: what swarm apps remember goes to their services
	rep.extra = x.info
	recErr := x.record(rep.outcomes)
	x.countPass(rep.outcomes)
	saveErr := x.save()
	if err := rep.print(x.env); err != nil {
		return err
	}
	return errors.Join(recErr, saveErr)
}

// execute applies the steps: findings need nothing; every other kind goes
// to its executor.
func (x *pass) execute(ctx context.Context, execs []executor, steps []plan.Step) []plan.Outcome {
	var outs []plan.Outcome
	handled := map[plan.Kind]bool{plan.Report: true}
	for _, s := range steps {
		if s.Kind == plan.Report {
			outs = append(outs, plan.Outcome{Step: s})
		}
	}
	for _, e := range execs {
		var mine []plan.Step
		for _, s := range steps {
			for _, k := range e.kinds {
				if s.Kind == k {
					mine = append(mine, s)
				}
			}
		}
		for _, k := range e.kinds {
			handled[k] = true
		}
		if len(mine) > 0 {
			outs = append(outs, e.run(ctx, x, mine)...)
		}
	}
	for _, s := range steps {
		if !handled[s.Kind] {
			outs = append(outs, plan.Outcome{Step: s, Err: fmt.Errorf("no executor for %q steps in %s", s.Kind, x.name)})
		}
	}
	return outs
}

// withDownNodes makes every node that is down a finding of the pass (the
// decider may have reported it already): an incident that makes the pass
// partly done.
func (x *pass) withDownNodes(steps []plan.Step) []plan.Step {
	for _, d := range x.down {
		f := downFinding(d, d)
		i := slices.IndexFunc(steps, func(s plan.Step) bool { return s.Kind == plan.Report && s.Reason == d })
		if i < 0 {
			steps = append(steps, f)
		} else {
			steps[i] = f
		}
	}
	return steps
}

// downFinding is the incident of a node that is down (d: "node X is down:
// skipped", as plan.DownNodes says it), with the reason to print.
func downFinding(d, reason string) plan.Step {
	f := plan.NewFinding("down", "", "", reason)
	f.Key = "down " + d
	f.Partial = "swarm: " + reason + "; the rest of the pass was done"
	return f
}

// isAction reports whether an outcome is an action (not a finding, not a
// balancer sync) that was not quiet.
func isAction(o plan.Outcome) bool {
	return o.Step.Kind != plan.Report && o.Step.Kind != plan.Sync && !o.Quiet
}

// record notes the outcomes: each app's last action in the state and, in
// the event log, every step of the plan that acted (a balancer sync a
// rollout made inside its steps is part of those), every finding about an
// app or of a type of its own (a refused demotion, a failed move: not the
// plain "finding" of a swarm pass), and the beginning and end of every
// incident.
func (x *pass) record(outs []plan.Outcome) error {
	now := x.clock.Now().UTC()
	var events []state.Event
	for _, o := range outs {
		s := o.Step
		if o.Quiet || (s.Kind == plan.Report && s.Type == "finding" && s.App == "" && s.Key == "" && !s.Resolved) {
			continue
		}
		if r, ok := o.Data.(*lbResult); ok && (r.during || (o.Err == nil && !r.acted())) {
			continue
		}
		ev := state.Event{Time: now, Command: x.name, Type: s.EventType(), App: s.App, Target: s.Target, Reason: s.Reason, Resolved: s.Resolved}
		if c := startedOf(o); c != "" {
			ev.Container = c
		}
		if o.Err != nil {
			ev.Error = o.Err.Error()
		} else if s.App != "" && isAction(o) {
			st := x.state.AppState(s.App)
			st.LastAction = fmt.Sprintf("%s: %s %s: %s", x.name, s.EventType(), s.Target, s.Reason)
			st.LastActionAt = now
		}
		events = append(events, ev)
	}
	x.events = events
	return x.file.AppendEvents(events)
}

// save writes the state, counting the pass.
func (x *pass) save() error {
	if x.state.Runs == nil {
		x.state.Runs = map[string]int{}
	}
	x.state.Runs[x.name]++
	return x.file.Save(x.state)
}

// exitStatus is the one place outcomes become an exit code: 1 when the
// pass could not run or the balancer could not be synced; 3 when actions
// failed, an app crash-loops, a rollout is paused or a node is down (the
// rest was done); else 0. When the only reasons for a 3 are incidents
// already reported by an earlier pass, the error is quiet: the exit code
// still says it, but nothing is printed (cron mails once per incident).
func exitStatus(rep *report, err error) error {
	if err != nil {
		return err
	}
	actions, failed := 0, 0
	// What is new this pass is said; known incidents only keep the exit
	// code (and --verbose shows them): a failed start elsewhere does not
	// print a known crash loop again.
	var news, known, newHints, knownHints []string
	note := func(list, hints *[]string, text, hint string) {
		*list = append(*list, text)
		if hint != "" && !slices.Contains(*hints, hint) {
			*hints = append(*hints, hint)
		}
	}
	for _, o := range rep.outcomes {
		switch {
		case o.Step.Kind == plan.Sync && o.Err != nil:
			if rep.hasContainerSteps() {
				return withCode(ExitError, o.Err, "containers the balancer may still route to were left running")
			}
			return o.Err
		case o.Step.Kind == plan.Report && o.Step.Partial != "" && o.Quiet:
			note(&known, &knownHints, o.Step.Partial, o.Step.Hint)
		case o.Step.Kind == plan.Report && o.Step.Partial != "":
			note(&news, &newHints, o.Step.Partial, o.Step.Hint)
		case isAction(o):
			actions++
			if o.Err != nil {
				failed++
			}
		}
	}
	switch {
	case failed > 0 && failed == actions:
		news = append(news, fmt.Sprintf("%d of %d actions failed; the next pass retries", failed, actions))
	case failed > 0:
		news = append(news, fmt.Sprintf("%d of %d actions failed; the others were applied and the next pass retries", failed, actions))
	}
	switch {
	case len(news) > 0:
		return &CodedError{Code: ExitPartial, Err: errors.New(strings.Join(news, "\n")), Hints: newHints}
	case len(known) > 0:
		return &CodedError{Code: ExitPartial, Err: errors.New(strings.Join(known, "\n")), Hints: knownHints, Quiet: true}
	}
	return nil
}

// finish writes the textfile metrics and fires the hooks, after the lock
// is released; neither can fail the pass.
func finish(ctx context.Context, env *Env, x *pass, rep *report, start time.Time, code int) {
	if env.MetricsDir != "" {
		m := passMetrics{command: rep.command, start: start, took: env.clock().Now().Sub(start), code: code}
		for _, o := range rep.outcomes {
			if isAction(o) {
				m.actions++
				if o.Err != nil {
					m.failed++
				}
			}
		}
		m.kinds = rep.kinds
		if x != nil {
			m.apps = x.apps
		}
		if x != nil && x.state != nil {
			m.counters = x.state.Counters
		} else if st, err := state.Read(env.StatePath); err == nil {
			m.counters = st.Counters // the pass stopped before the state: the last counts stand
		}
		if err := m.write(env.MetricsDir); err != nil {
			env.warnf("metrics: %v", err)
		}
	}
	if x != nil && len(x.spec.Hooks) > 0 && len(x.events) > 0 {
		for _, err := range hook.Fire(ctx, x.spec.Hooks, x.events) {
			env.warnf("hook: %v", err)
		}
	}
}
