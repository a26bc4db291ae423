package commands

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
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

type appStatus struct {
	App          string    `json:"app"`
	Want         int       `json:"want"`
	Running      int       `json:"running"`
	Ready        int       `json:"ready"`
	Current      int       `json:"current"`
	Stopped      int       `json:"stopped"`
	Health       string    `json:"health"` // ok, degraded, failing or down
	Addresses    []string  `json:"addresses"`
	LastAction   string    `json:"last_action,omitempty"`
	LastActionAt time.Time `json:"last_action_at,omitzero"`
}

func runStatus(ctx context.Context, env *Env) error {
	p, err := openPass(ctx, env, false, nil)
	if err != nil {
		return err
	}
	defer p.close()
	if _, err := p.observe(ctx); err != nil {
		return err
	}
	out := p.out.apps
	nodes := nodeStatuses(p.swarm.nodes)
	if env.Output == "json" {
		obj := map[string]any{"apps": out}
		if p.swarm.nodes != nil {
			obj["nodes"] = nodes
		}
		return writeJSON(env.Stdout, obj)
	}
	rows := make([][]string, 0, len(out))
	now := env.now()
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

// appStatuses counts each spec app's replicas in an observation.
func appStatuses(s *spec.Spec, obs observation, st *state.State) []appStatus {
	out := []appStatus{}
	for _, a := range s.Apps {
		as := appStatus{App: a.Name, Want: a.WantReplicas(), Addresses: []string{}}
		hash := s.HashOf(a)
		for _, c := range obs.replicasOf(a) {
			if c.App != a.Name {
				continue
			}
			if !c.Running() {
				as.Stopped++
				continue
			}
			as.Running++
			if c.Hash == hash {
				as.Current++
			}
			if obs.ready[c.ID] {
				as.Ready++
				if c.Addr != "" {
					as.Addresses = append(as.Addresses, c.Addr)
				}
			}
		}
		sort.Strings(as.Addresses)
		switch {
		case as.Running == 0 && as.Want > 0:
			as.Health = "down"
		case as.Ready == as.Running && as.Running >= as.Want:
			as.Health = "ok"
		case as.Ready == 0 && as.Running > 0:
			as.Health = "failing"
		default:
			as.Health = "degraded"
		}
		if as.Want == 0 && as.Running == 0 {
			as.Health = "ok"
		}
		if rec := st.Apps[a.Name]; rec != nil {
			as.LastAction, as.LastActionAt = rec.LastAction, rec.LastActionAt
		}
		out = append(out, as)
	}
	return out
}
