package commands

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
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
	Addresses    []string  `json:"addresses"`
	LastAction   string    `json:"last_action,omitempty"`
	LastActionAt time.Time `json:"last_action_at,omitzero"`
}

func runStatus(ctx context.Context, env *Env) error {
	p, err := openPass(ctx, env, false)
	if err != nil {
		return err
	}
	defer p.close()
	obs, err := p.observe(ctx)
	if err != nil {
		return err
	}
	var out []appStatus
	for _, a := range p.spec.Apps {
		st := appStatus{App: a.Name, Want: a.WantReplicas(), Addresses: []string{}}
		hash := a.Hash(p.spec.Docker.Network)
		for _, c := range obs.containers {
			if c.App != a.Name {
				continue
			}
			if !c.Running() {
				st.Stopped++
				continue
			}
			st.Running++
			if c.Hash == hash {
				st.Current++
			}
			if obs.ready[c.ID] {
				st.Ready++
				if c.Addr != "" {
					st.Addresses = append(st.Addresses, c.Addr)
				}
			}
		}
		sort.Strings(st.Addresses)
		if rec := p.state.Apps[a.Name]; rec != nil {
			st.LastAction, st.LastActionAt = rec.LastAction, rec.LastActionAt
		}
		out = append(out, st)
	}
	if env.Output == "json" {
		return writeJSON(env.Stdout, map[string]any{"apps": out})
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
			fmt.Sprint(s.Current), fmt.Sprint(s.Stopped), addrs, last})
	}
	table(env.Stdout, []string{"APP", "WANT", "RUNNING", "READY", "CURRENT", "STOPPED", "ADDRESSES", "LAST ACTION"}, rows)
	return nil
}
