package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/rollout"
)

func newScaleCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "scale",
		Usage: "converge every app to its replica count and current spec (start-first, drain before stop)",
		Description: "One pass: start missing replicas, roll outdated ones one at a time (the new one must\n" +
			"answer its readiness check before it enters the balancer), scale in by draining first,\n" +
			"and leave the balancer config consistent with what runs. Exited containers are left\n" +
			"for gc; their replica is started anew.",
		Action: func(c *cli.Context) error { return runScale(c.Context, env) },
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

// passReport is a pass's printed result.
type passReport struct {
	Command  string      `json:"command"`
	DryRun   bool        `json:"dry_run"`
	Actions  []actionRow `json:"actions"`
	Balancer []*lbResult `json:"balancer,omitempty"`
}

func (r *passReport) noop() bool {
	if len(r.Actions) > 0 {
		return false
	}
	for _, b := range r.Balancer {
		if b.Changed || b.Reloaded {
			return false
		}
	}
	return true
}

func runScale(ctx context.Context, env *Env) error {
	p, err := openPass(ctx, env, true)
	if err != nil {
		return err
	}
	defer p.close()
	obs, err := p.observe(ctx)
	if err != nil {
		return err
	}
	actions := plan.Scale(p.spec, obs.containers, obs.ready)
	members := plan.InRotation(p.spec, obs.containers, obs.ready)
	rep := &passReport{Command: "scale", DryRun: env.DryRun, Actions: []actionRow{}}

	if env.DryRun {
		for _, a := range actions {
			rep.Actions = append(rep.Actions, rowOf(a))
		}
		if len(actions) == 0 {
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
		return printPass(env, rep)
	}

	runner := rollout.Runner{
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
		Logf:   env.logf,
	}
	res := runner.Run(ctx, actions, members)
	now := env.now().UTC()
	for _, o := range res.Outcomes {
		row := rowOf(o.Action)
		row.Done = o.Err == nil
		if o.Err != nil {
			row.Error = o.Err.Error()
		}
		if o.New != nil {
			row.Container = o.New.Name
		}
		rep.Actions = append(rep.Actions, row)
		if o.Err == nil {
			st := p.state.AppState(o.Action.App)
			st.LastAction = fmt.Sprintf("%s %s: %s", o.Action.Kind, o.Action.Target(), o.Action.Reason)
			st.LastActionAt = now
		}
	}
	saveErr := p.save()
	if err := printPass(env, rep); err != nil {
		return err
	}
	if res.SyncErr != nil {
		return withCode(ExitError, res.SyncErr, "containers the balancer may still route to were left running")
	}
	if saveErr != nil {
		return saveErr
	}
	return outcomeError(len(res.Outcomes), res.Failed())
}

// outcomeError turns action counts into the pass's exit status.
func outcomeError(total, failed int) error {
	switch {
	case failed == 0:
		return nil
	case failed == total:
		return withCode(ExitError, fmt.Errorf("all %d actions failed", total))
	default:
		return withCode(ExitPartial, fmt.Errorf("%d of %d actions failed; the others were applied", failed, total))
	}
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
	if env.Quiet || rep.noop() {
		return nil
	}
	if rep.DryRun {
		fmt.Fprintln(env.Stderr, "baton: dry run: nothing was changed")
	}
	var rows [][]string
	for _, a := range rep.Actions {
		result := "planned"
		if !rep.DryRun {
			switch {
			case a.Error != "":
				result = "failed: " + a.Error
			case a.Container != "":
				result = "ok: " + a.Container
			default:
				result = "ok"
			}
		}
		rows = append(rows, []string{a.App, a.Action, a.Target, a.Reason, result})
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
