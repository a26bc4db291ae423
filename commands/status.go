package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

func newStatusCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show apps: replicas wanted, running, ready and current; addresses; last action",
		Description: "Reads the spec, the state (without taking the lock, so it works while a pass\n" +
			"runs) and Docker (one list call plus concurrent readiness probes). Changes nothing.",
		Action: func(c *cli.Context) error { return runStatus(c.Context, env) },
	}
}

func runStatus(ctx context.Context, env *Env) error {
	x, err := openPass(ctx, env, "status", false)
	if err != nil {
		return err
	}
	defer x.close()
	if err := x.observeFleet(ctx); err != nil {
		return err
	}
	out := x.apps
	nodes := nodeStatuses(x.nodes)
	if env.Output == "json" {
		obj := map[string]any{"apps": out}
		if x.nodes != nil {
			obj["nodes"] = nodes
		}
		return writeJSON(env.Stdout, obj)
	}
	rows := make([][]string, 0, len(out))
	now := x.clock.Now()
	for _, s := range out {
		last := "-"
		if s.LastAction != "" {
			last = fmt.Sprintf("%s ago: %s", now.Sub(s.LastActionAt).Round(time.Second), s.LastAction)
		}
		addrs := strings.Join(s.Addresses, ",")
		if addrs == "" {
			addrs = "-"
		}
		rows = append(rows, []string{s.App, fmt.Sprint(s.Want), fmt.Sprint(s.Running), fmt.Sprint(s.Ready),
			fmt.Sprint(s.Current), fmt.Sprint(s.Stopped), s.Health, addrs, last})
	}
	table(env.Stdout, []string{"APP", "WANT", "RUNNING", "READY", "CURRENT", "STOPPED", "HEALTH", "ADDRESSES", "LAST ACTION"}, rows)
	if len(nodes) > 0 {
		var nt [][]string
		for _, n := range nodes {
			nt = append(nt, []string{n.Node, n.State, n.Availability, n.Role, n.Addr, mib(n.MemoryBytes)})
		}
		fmt.Fprintln(env.Stdout)
		table(env.Stdout, []string{"NODE", "STATE", "AVAILABILITY", "ROLE", "ADDRESS", "MEMORY"}, nt)
	}
	return nil
}

// nodeStatus is one Swarm node as status shows it.
type nodeStatus struct {
	Node         string `json:"node"`
	State        string `json:"state"` // ready or down
	Availability string `json:"availability"`
	Role         string `json:"role"`
	Addr         string `json:"addr"`
	MemoryBytes  int64  `json:"memory_bytes"`
}

func nodeStatuses(nodes []fleet.Node) []nodeStatus {
	out := []nodeStatus{}
	for _, n := range nodes {
		st := nodeStatus{Node: n.Hostname, State: "ready", Availability: "active", Role: n.Role, Addr: n.Addr, MemoryBytes: n.MemoryBytes}
		if !n.Ready {
			st.State = "down"
		}
		if !n.Active {
			st.Availability = "drain or pause"
		}
		out = append(out, st)
	}
	return out
}
