package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

func newRebalanceCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:     "rebalance",
		Category: passCategory,
		Usage:    "move the fewest Swarm services off nodes under memory pressure",
		Description: "Against a Swarm manager (--docker-host). A node's memory use is the memory\n" +
			"reservations of the tasks on it, or their real usage read at each node's own\n" +
			"engine (swarm.rebalance.usage: docker). While a node is above the threshold, the\n" +
			"smallest service that alone brings it under moves, else the largest that can;\n" +
			"a receiver never ends above the target. A move pins the service to its new node\n" +
			"(node.hostname constraint); once its tasks run there the pin is removed, without\n" +
			"a restart, so the service spec ends as it was. Caps per pass and per node, a\n" +
			"global cooldown and a per-service cooldown keep anything from ping-ponging.\n" +
			"Without swarm.rebalance in the spec it only reports each node's pressure.",
		Action: passAction(env, "rebalance", func(ctx context.Context, o *passOutcome) error { return runRebalance(ctx, env, o) }),
	}
}

// rebalanceEventType is the event type of a rebalance action (move or
// unpin): "rebalance-move".
func rebalanceEventType(action string) string { return "rebalance-" + action }

// rebalanceRow is one action as printed.
type rebalanceRow struct {
	Action  string `json:"action"` // move or unpin
	Service string `json:"service"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
	Reason  string `json:"reason"`
	Done    bool   `json:"done"`
	// Arrived: the moved tasks run on the new node and the pin is gone.
	Arrived bool   `json:"arrived,omitempty"`
	Error   string `json:"error,omitempty"`
}

func runRebalance(ctx context.Context, env *Env, o *passOutcome) error {
	p, err := openPass(ctx, env, true, o)
	if err != nil {
		return err
	}
	defer p.close()
	sw := p.spec.Swarm
	if sw == nil {
		return fmt.Errorf("rebalance: the spec has no swarm section")
	}
	if p.swarm.nodes == nil {
		return fmt.Errorf("rebalance: could not list the swarm's nodes")
	}
	services, err := p.engine.Services(ctx)
	if err != nil {
		return fmt.Errorf("observe swarm: %w", err)
	}
	tasks, err := p.engine.Tasks(ctx)
	if err != nil {
		return fmt.Errorf("observe swarm: %w", err)
	}
	cfg, reportOnly := sw.RebalanceOrReport()
	in := plan.RebalanceInput{Config: cfg, Nodes: p.swarm.nodes, Services: services, Tasks: tasks,
		Anchors: sw.Anchors, Moved: p.state.Moved, Now: env.now(), ReportOnly: reportOnly}
	var usageFindings []string
	if cfg.Usage == "docker" {
		in.Usage, usageFindings = p.readUsage(ctx, p.swarm.nodes)
	}
	rp := plan.Rebalance(in)
	rp.Findings = append(usageFindings, rp.Findings...)

	var rows []rebalanceRow
	for _, u := range rp.Unpins {
		rows = append(rows, rebalanceRow{Action: "unpin", Service: u.Name, Reason: u.Reason})
	}
	for _, m := range rp.Moves {
		rows = append(rows, rebalanceRow{Action: "move", Service: m.Name, From: m.From, To: m.To, Bytes: m.Bytes, Reason: m.Reason})
	}
	var still int
	if !env.DryRun {
		still = p.applyRebalance(ctx, cfg, rp, rows)
	}
	if !env.DryRun && !reportOnly {
		// Only moves within the cooldowns matter.
		keep := max(cfg.Cooldown.D, cfg.ServiceCooldown.D)
		for name, at := range p.state.Moved {
			if env.now().Sub(at) > keep {
				delete(p.state.Moved, name)
			}
		}
	}
	var events []state.Event
	for _, r := range rows {
		events = append(events, state.Event{Type: rebalanceEventType(r.Action), Target: "service " + r.Service, Reason: r.Reason, Error: r.Error})
	}
	failed, err := p.recordAndPrint("rebalance", events, func() error { return printRebalance(env, rp, rows) })
	if err != nil {
		return err
	}
	switch {
	case failed > 0:
		return withCode(ExitPartial, fmt.Errorf("%d of %d rebalance actions failed; the next pass re-reads and re-decides", failed, len(rows)))
	case still > 0:
		return withCode(ExitPartial, fmt.Errorf("%d moved service(s) did not run on their new node within swarm.rebalance.wait (%s); the next pass removes the pin once they do", still, cfg.Wait.D))
	}
	return nil
}

// applyRebalance removes arrived pins, pins the moved services, waits
// (bounded by cfg.Wait) for their tasks to run on the new node, and
// removes those pins again. It fills in rows and returns how many moves
// had not arrived when the wait ended.
func (p *pass) applyRebalance(ctx context.Context, cfg *spec.Rebalance, rp plan.RebalancePlan, rows []rebalanceRow) int {
	for i, u := range rp.Unpins {
		err := p.engine.UnpinService(ctx, u.Service)
		rows[i].Done, rows[i].Error, rows[i].Arrived = err == nil, errString(err), err == nil
	}
	now := p.env.now().UTC()
	pinned := map[string]int{} // service ID → row
	for j, m := range rp.Moves {
		i := len(rp.Unpins) + j
		err := p.engine.PinService(ctx, m.Service, m.To, p.env.now())
		rows[i].Done, rows[i].Error = err == nil, errString(err)
		if err == nil {
			if p.state.Moved == nil {
				p.state.Moved = map[string]time.Time{}
			}
			p.state.Moved[m.Name] = now
			pinned[m.Service.ID] = i
		}
	}
	if len(pinned) == 0 {
		return 0
	}
	deadline := time.Now().Add(cfg.Wait.D)
	for len(pinned) > 0 && time.Now().Before(deadline) {
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			break
		}
		services, err := p.engine.Services(ctx)
		if err != nil {
			continue
		}
		tasks, err := p.engine.Tasks(ctx)
		if err != nil {
			continue
		}
		// What the next pass would unpin has arrived.
		arrived := plan.Rebalance(plan.RebalanceInput{Config: cfg, Nodes: p.swarm.nodes, Services: services, Tasks: tasks, Now: time.Now(), ReportOnly: true})
		for _, u := range arrived.Unpins {
			i, ok := pinned[u.Service.ID]
			if !ok {
				continue
			}
			if err := p.engine.UnpinService(ctx, u.Service); err != nil {
				p.env.warnf("rebalance: %v (the next pass removes the pin)", err)
				continue
			}
			rows[i].Arrived = true
			delete(pinned, u.Service.ID)
		}
	}
	return len(pinned)
}

// readUsage reads the memory of every Swarm task's container at each
// node's own engine (taskStats). A node without an endpoint or that does
// not answer counts reservations, and is reported.
func (p *pass) readUsage(ctx context.Context, nodes []fleet.Node) (map[string]int64, []string) {
	got, problems := p.taskStats(ctx, nodes, nil)
	usage := make(map[string]int64, len(got))
	for id, u := range got {
		usage[id] = int64(u.MemBytes)
	}
	var out []string
	for _, np := range problems {
		out = append(out, np.String("its reservations count"))
	}
	return usage, out
}

func printRebalance(env *Env, rp plan.RebalancePlan, rows []rebalanceRow) error {
	if rows == nil {
		rows = []rebalanceRow{}
	}
	if env.Output == "json" {
		return writeJSON(env.Stdout, map[string]any{"command": "rebalance", "dry_run": env.DryRun, "actions": rows,
			"before": rp.Before, "after": rp.After, "findings": rp.Findings})
	}
	if !printsTable(env, len(rows) > 0 || len(rp.Findings) > 0) {
		return nil
	}
	var nt [][]string
	for i, b := range rp.Before {
		a := rp.After[i]
		state := "ok"
		switch {
		case b.Down:
			state = "down"
		case b.Over && a.Over:
			state = "over"
		case b.Over:
			state = "over → ok"
		}
		nt = append(nt, []string{b.Node, mib(b.Capacity), mib(b.Used) + " (" + pctOf(b.Share) + ")", mib(a.Used) + " (" + pctOf(a.Share) + ")", state})
	}
	table(env.Stdout, []string{"NODE", "MEMORY", "USED", "AFTER", "STATE"}, nt)
	t := findingRows(rp.Findings, 5, 3)
	for _, r := range rows {
		done, where := "ok", ""
		if r.Action == "move" {
			done, where = "ok: moving, pinned until it runs there", r.From+" → "+r.To
			if r.Arrived {
				done = "ok: moved, pin removed"
			}
		}
		t = append(t, []string{r.Action, r.Service, where, r.Reason, resultCell(env, r.Error, done)})
	}
	fmt.Fprintln(env.Stdout)
	table(env.Stdout, []string{"ACTION", "SERVICE", "WHERE", "REASON", "RESULT"}, t)
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }

func pctOf(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }
