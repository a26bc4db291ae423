package commands

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/state"
)

func newLabelsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:     "labels",
		Category: passCategory,
		Usage:    "manage Swarm node labels",
		Subcommands: []*cli.Command{{
			Name:  "sync",
			Usage: "apply static node labels; label the nodes running each anchor; make dependents follow",
			Description: "Against a Swarm manager (--docker-host). Static labels come from the spec's\n" +
				"swarm.nodes by hostname; each anchor's nodes get baton.anchor.<anchor>=true; each\n" +
				"dependent gets the placement constraint node.labels.baton.anchor.<anchor>==true and\n" +
				"is restarted when its tasks sit on a node without its anchor (at most once per\n" +
				"restart_cooldown). Only labels baton set are removed, unless prune_unknown_labels.\n" +
				"Node and service updates carry the version they were read at. A node that is\n" +
				"down is reported and skipped.",
			Action: passAction(env, "labels sync", func(ctx context.Context, o *passOutcome) error { return runLabelsSync(ctx, env, o) }),
		}},
	}
}

type labelRow struct {
	Kind   string `json:"kind"` // node or service
	Target string `json:"target"`
	Change string `json:"change"`
	Reason string `json:"reason"`
	Done   bool   `json:"done"`
	Error  string `json:"error,omitempty"`
}

func runLabelsSync(ctx context.Context, env *Env, o *passOutcome) error {
	p, err := openPass(ctx, env, true, o)
	if err != nil {
		return err
	}
	defer p.close()
	if p.spec.Swarm == nil {
		return fmt.Errorf("labels sync: the spec has no swarm section")
	}
	nodes := p.swarm.nodes // listed when the pass opened
	if nodes == nil {
		return fmt.Errorf("labels sync: could not list the swarm's nodes")
	}
	services, err := p.engine.Services(ctx)
	if err != nil {
		return fmt.Errorf("observe swarm: %w", err)
	}
	tasks, err := p.engine.Tasks(ctx)
	if err != nil {
		return fmt.Errorf("observe swarm: %w", err)
	}
	now := env.now()
	lp := plan.SyncLabels(p.spec, nodes, services, tasks, p.state.NodeLabels, p.state.Restarted, now)

	var rows []labelRow
	for _, c := range lp.Nodes {
		var parts []string
		for _, k := range sortedKeysOf(c.Set) {
			parts = append(parts, "+"+k+"="+c.Set[k])
		}
		for _, k := range c.Remove {
			parts = append(parts, "-"+k)
		}
		rows = append(rows, labelRow{Kind: "node", Target: c.Node.Hostname, Change: strings.Join(parts, " "), Reason: c.Reason})
	}
	for _, c := range lp.Services {
		change := "restart"
		if c.AddConstraint != "" {
			change = "+constraint " + c.AddConstraint
		}
		rows = append(rows, labelRow{Kind: "service", Target: c.Service.Name, Change: change, Reason: c.Reason})
	}
	if !env.DryRun {
		for i, c := range lp.Nodes {
			err := p.engine.SetNodeLabels(ctx, c.Node, c.Labels)
			rows[i].Done, rows[i].Error = err == nil, errString(err)
		}
		if p.state.Restarted == nil {
			p.state.Restarted = map[string]time.Time{}
		}
		for j, c := range lp.Services {
			i := len(lp.Nodes) + j
			err := p.engine.UpdateService(ctx, c.Service, c.AddConstraint, c.Restart)
			rows[i].Done, rows[i].Error = err == nil, errString(err)
			if err == nil && c.Restart {
				p.state.Restarted[c.Service.Name] = now.UTC()
			}
		}
		failed := map[string]bool{}
		for i, c := range lp.Nodes {
			if rows[i].Error != "" {
				failed[c.Node.ID] = true
			}
		}
		p.state.NodeLabels = plan.OwnedAfter(p.state.NodeLabels, lp.Owned, failed)
	}
	var events []state.Event
	for _, r := range rows {
		events = append(events, state.Event{Type: "label", Target: r.Kind + " " + r.Target, Reason: r.Change + ": " + r.Reason, Error: r.Error})
	}
	failed, err := p.recordAndPrint("labels sync", events, func() error { return printLabels(env, rows, lp.Findings) })
	if err != nil {
		return err
	}
	if failed > 0 {
		return withCode(ExitPartial, fmt.Errorf("%d of %d changes failed; the next pass re-reads and re-decides", failed, len(rows)))
	}
	// A node down is reported with the outcome (exit 3).
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func sortedKeysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func printLabels(env *Env, rows []labelRow, findings []string) error {
	if rows == nil {
		rows = []labelRow{}
	}
	if env.Output == "json" {
		return writeJSON(env.Stdout, map[string]any{"command": "labels sync", "dry_run": env.DryRun, "changes": rows, "findings": findings})
	}
	if !printsTable(env, len(rows) > 0 || len(findings) > 0) {
		return nil
	}
	t := findingRows(findings, 5, 3)
	for _, r := range rows {
		t = append(t, []string{r.Kind, r.Target, r.Change, r.Reason, resultCell(env, r.Error, "ok")})
	}
	table(env.Stdout, []string{"KIND", "TARGET", "CHANGE", "REASON", "RESULT"}, t)
	return nil
}
