package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/plan"
)

func newScaleCommand(env *Env) *cli.Command {
	var explain bool
	var metricsPath string
	return &cli.Command{
		Name:     "scale",
		Category: passCategory,
		Usage:    "converge every app to its replica count and current spec (start-first, drain before stop)",
		Description: "One pass: start missing replicas, roll outdated ones one at a time (the new one must\n" +
			"answer its readiness check before it enters the balancer), scale in by draining first,\n" +
			"and leave the balancer config consistent with what runs. Exited containers are left\n" +
			"for gc; their replica is started anew. Apps with an autoscale policy first get their\n" +
			"count from the autoscaler (see --explain).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "explain", Usage: "show, per autoscaled app, each metric's value, target, ratio and recommendation, and the reason for the count", Destination: &explain},
			&cli.StringFlag{Name: "metrics", Usage: "read the autoscaler's metrics from a JSON `FILE` instead of observing them (what-if runs, tests)", Destination: &metricsPath},
		},
		Action: passAction(env, "scale", func(ctx context.Context, o *passOutcome) error { return runScale(ctx, env, o, explain, metricsPath) }),
	}
}

// actionRow is one action as printed (table and JSON).
type actionRow struct {
	App       string `json:"app"`
	Action    string `json:"action"`
	Target    string `json:"target"`
	Replica   int    `json:"replica"`
	Reason    string `json:"reason"`
	Container string `json:"container,omitempty"`
	Done      bool   `json:"done"`
	Error     string `json:"error,omitempty"`
}

// findingRow is a condition a pass found (a probe started failing, an app
// backs off or crash-loops); printed with the actions, never an action.
type findingRow struct {
	App    string `json:"app"`
	Type   string `json:"type"`
	Target string `json:"target"`
	Reason string `json:"reason"`
}

// passReport is a pass's printed result.
type passReport struct {
	Command  string       `json:"command"`
	DryRun   bool         `json:"dry_run"`
	Actions  []actionRow  `json:"actions"`
	Findings []findingRow `json:"findings,omitempty"`
	Balancer []*lbResult  `json:"balancer,omitempty"`
	// Autoscale explains each autoscaled app's count.
	Autoscale []plan.AutoscaleDecision `json:"autoscale,omitempty"`
	explain   bool
	// serviceActions and serviceFailed count swarm-app service changes,
	// which are not rollout outcomes, for the exit status.
	serviceActions, serviceFailed int
}

func (r *passReport) noop() bool {
	if len(r.Actions) > 0 || len(r.Findings) > 0 {
		return false
	}
	for _, b := range r.Balancer {
		if b.Changed || b.Reloaded {
			return false
		}
	}
	return true
}

func runScale(ctx context.Context, env *Env, o *passOutcome, explain bool, metricsPath string) error {
	p, obs, err := openObserved(ctx, env, o)
	if err != nil {
		return err
	}
	defer p.close()
	decisions, err := p.autoscale(ctx, obs, metricsPath)
	if err != nil {
		return err
	}
	now := env.now()
	actions, holds := plan.ApplyHolds(p.spec, plan.Scale(p.spec, obs.containers, obs.ready), p.state.Attempts(), now)
	members := plan.InRotation(p.spec, obs.containers, obs.ready)
	rep := &passReport{Command: "scale", DryRun: env.DryRun, Actions: []actionRow{}, Autoscale: decisions, explain: explain}
	events := holdFindings(rep, holds)

	if env.DryRun {
		for _, a := range actions {
			rep.Actions = append(rep.Actions, rowOf(a))
		}
		p.scaleSwarm(ctx, rep, &obs)
		if len(rep.Actions) == 0 {
			// With no actions, the real pass syncs the balancer with exactly
			// this membership, so the diff is exact.
			lb, err := p.syncBalancer(ctx, members)
			if err != nil {
				return err
			}
			if lb != nil {
				rep.Balancer = append(rep.Balancer, lb)
			}
		}
		if err := printPass(env, rep); err != nil {
			return err
		}
		return holdError(holds, nil)
	}

	res := p.runner(rep).Run(ctx, actions, members)
	failed := map[string]bool{}
	for _, o := range res.Outcomes {
		if o.Err != nil && o.Action.CountsAsAttempt() {
			failed[o.Action.App] = true
		}
	}
	for app := range failed {
		p.state.AddAttempt(app, now, p.spec.App(app).Health.CrashloopWindow.D)
	}
	swarmFailed, swarmEvents := p.scaleSwarm(ctx, rep, &obs)
	if len(swarmEvents) > 0 && res.SyncErr == nil {
		// The services changed: the balancer follows their tasks now.
		lb, err := p.syncBalancer(ctx, res.Members)
		if lb != nil && (lb.Changed || lb.Reloaded) {
			rep.Balancer = append(rep.Balancer, lb)
		}
		res.SyncErr = err
	}
	p.out.actions += len(swarmEvents)
	p.out.failed += swarmFailed
	rep.serviceActions, rep.serviceFailed = len(swarmEvents), swarmFailed
	return p.finish(rep, res, append(events, swarmEvents...), holds)
}

// outcomeError turns action counts into the pass's exit status: failed
// actions are a partial result (3) — the pass itself ran, nothing half-done
// was left, and the next pass retries. Exit 1 is for passes that could not
// run (spec, daemon, balancer test).
func outcomeError(total, failed int) error {
	if failed == 0 {
		return nil
	}
	return withCode(ExitPartial, fmt.Errorf("%d of %d actions failed; the others were applied and the next pass retries", failed, total))
}

func rowOf(a plan.Action) actionRow {
	return actionRow{App: a.App, Action: string(a.Kind), Target: a.Target(), Replica: a.Replica, Reason: a.Reason}
}

// printPass prints a pass report: nothing for a no-op table (quiet under
// cron), the full object for JSON.
func printPass(env *Env, rep *passReport) error {
	if env.Output == "json" {
		return writeJSON(env.Stdout, rep)
	}
	if rep.explain && !env.Quiet {
		printExplain(env, rep.Autoscale)
	}
	if !printsTable(env, !rep.noop()) {
		return nil
	}
	var rows [][]string
	for _, f := range rep.Findings {
		rows = append(rows, []string{f.App, f.Type, f.Target, f.Reason, "-"})
	}
	for _, a := range rep.Actions {
		done := "ok"
		if a.Container != "" {
			done = "ok: " + a.Container
		}
		rows = append(rows, []string{a.App, a.Action, a.Target, a.Reason, resultCell(env, a.Error, done)})
	}
	for _, b := range rep.Balancer {
		what := "unchanged"
		switch {
		case rep.DryRun && b.Changed:
			what = "would rewrite and reload"
		case rep.DryRun && b.Reloaded:
			what = "would reload"
		case b.Changed:
			what = "rewritten, tested, reloaded"
		case b.Reloaded:
			what = "reloaded"
		}
		rows = append(rows, []string{"-", "balancer", b.Path, "membership or config changed", what})
	}
	if len(rows) > 0 {
		table(env.Stdout, []string{"APP", "ACTION", "TARGET", "REASON", "RESULT"}, rows)
	}
	for _, b := range rep.Balancer {
		if b.Diff != "" {
			fmt.Fprint(env.Stdout, "\n"+b.Diff)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func suffix() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// printExplain shows why each autoscaled app has its count.
func printExplain(env *Env, ds []plan.AutoscaleDecision) {
	for _, d := range ds {
		fmt.Fprintf(env.Stdout, "%s: %d ready of %d; raw %d, stabilized %d, floor %d → %d\n", d.App, d.Ready, d.Current, d.Raw, d.Stabilized, d.Floor, d.Final)
		var rows [][]string
		for _, m := range d.Metrics {
			rec := "-"
			if m.Recommend >= 0 {
				rec = fmt.Sprint(m.Recommend)
			}
			value, ratio := "-", "-"
			if !strings.HasPrefix(m.Note, "missing") {
				value, ratio = trimFloat(m.Value), trimFloat(m.Ratio)
			}
			rows = append(rows, []string{"  " + m.Metric, value, trimFloat(m.Target), ratio, rec, m.Note})
		}
		if len(rows) > 0 {
			table(env.Stdout, []string{"  METRIC", "VALUE", "TARGET", "RATIO", "RECOMMENDS", "NOTE"}, rows)
		}
		fmt.Fprintf(env.Stdout, "  reason: %s\n\n", d.Reason)
	}
}

func trimFloat(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}
