package commands

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/plan"
)

func newRebalanceCommand(env *Env) *cli.Command {
	return passCommand("rebalance", "move the fewest Swarm services off nodes under memory pressure",
		"Against a Swarm manager (--docker-host). A node's memory use is the memory\n"+
			"reservations of the tasks on it, or their real usage read at each node's own\n"+
			"engine (swarm.rebalance.usage: docker). While a node is above the threshold, the\n"+
			"smallest service that alone brings it under moves, else the largest that can;\n"+
			"a receiver never ends above the target. A move pins the service to its new node\n"+
			"(node.hostname constraint); once its tasks run there the pin is removed, without\n"+
			"a restart, so the service spec ends as it was. Caps per pass and per node, a\n"+
			"global cooldown and a per-service cooldown keep anything from ping-ponging.\n"+
			"Without swarm.rebalance in the spec it only reports each node's pressure.",
		nil, func(c *cli.Context) error { return run(c.Context, env, rebalancePass()) })
}

// rebalancePass: the services, tasks and (usage: docker) each node's
// measured task memory; plan.RebalancePass decides.
func rebalancePass() passDef[swarmSeen] {
	return passDef[swarmSeen]{
		name: "rebalance",
		observe: func(ctx context.Context, x *pass) (swarmSeen, error) {
			seen, err := x.observeSwarm(ctx)
			if cfg, _ := x.spec.Swarm.RebalanceOrReport(); err == nil && cfg.Usage == "docker" {
				seen.usage, seen.unread = x.readUsage(ctx)
			}
			return seen, err
		},
		decide: func(x *pass, seen swarmSeen, now time.Time) plan.Plan {
			cfg, reportOnly := x.spec.Swarm.RebalanceOrReport()
			return plan.RebalancePass(plan.RebalanceInput{Config: cfg, Nodes: x.nodes, Services: seen.services, Tasks: seen.tasks,
				Usage: seen.usage, Anchors: x.spec.Swarm.Anchors, Moved: plan.MovedFrom(seen.services, x.state.Moved), Now: now, ReportOnly: reportOnly}, seen.unread)
		},
		exec: []executor{execUnpin, execMove},
		view: rebalanceView(),
	}
}

func rebalanceView() view {
	move := func(s plan.Step) plan.Move { m, _ := s.Do.(plan.Move); return m }
	loads := func(r *report) plan.RebalancePlan { rp, _ := r.info.(plan.RebalancePlan); return rp }
	return view{
		rows: "actions",
		columns: []column{
			stepColumn("ACTION", "action", func(s plan.Step) any { return string(s.Kind) }),
			stepColumn("SERVICE", "service", func(s plan.Step) any { return s.Target[len("service "):] }),
			stepColumn("WHERE", "", func(s plan.Step) any {
				if m := move(s); m.Name != "" {
					return m.From + " → " + m.To
				}
				return ""
			}),
			{key: "from", omitEmpty: true, value: func(_ *report, o plan.Outcome) any { return move(o.Step).From }},
			{key: "to", omitEmpty: true, value: func(_ *report, o plan.Outcome) any { return move(o.Step).To }},
			{key: "bytes", omitEmpty: true, value: func(_ *report, o plan.Outcome) any { return nilIfZero(move(o.Step).Bytes) }},
			reasonCol, doneColumn,
			{key: "arrived", omitEmpty: true, value: func(_ *report, o plan.Outcome) any {
				if a, _ := o.Data.(arrived); a {
					return true
				}
				return nil
			}},
			errorColumn,
			resultColumn(func(o plan.Outcome) string {
				a, _ := o.Data.(arrived)
				switch {
				case o.Step.Kind != plan.MoveService:
					return "ok"
				case bool(a):
					return "ok: moved, pin removed"
				}
				return "ok: moving, pinned until it runs there"
			}),
		},
		before: func(w io.Writer, r *report) {
			rp := loads(r)
			var rows [][]string
			for i, b := range rp.Before {
				a, state := rp.After[i], "ok"
				switch {
				case b.Down:
					state = "down"
				case b.Over && a.Over:
					state = "over"
				case b.Over:
					state = "over → ok"
				}
				rows = append(rows, []string{b.Node, mib(b.Capacity), mib(b.Used) + " (" + pct(b.Share) + ")", mib(a.Used) + " (" + pct(a.Share) + ")", state})
			}
			table(w, []string{"NODE", "MEMORY", "USED", "AFTER", "STATE"}, rows)
			fmt.Fprintln(w)
		},
		fields: func(r *report) []field { return []field{{"before", loads(r).Before}, {"after", loads(r).After}} },
	}
}

func nilIfZero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }

func pct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }
