package commands

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/state"
)

func newStatusCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show apps: replicas wanted, running and ready, why an app is not as wanted; APP: one row per replica",
		ArgsUsage: "[APP...]",
		Description: "Reads the spec, the state (without taking the lock, so it works while a pass\n" +
			"runs), the event log and Docker (one list call, the image list, concurrent readiness\n" +
			"probes). One row per app, with WHY it is not as wanted: crash-looping, its image\n" +
			"missing, backing off, its last action failed, replicas not ready or outdated.\n" +
			"With APP (or -o wide): one row per replica: container, image, state, ready, consecutive\n" +
			"probe failures, restarts by heal, age, address and the last event's reason. Tables are\n" +
			"cut to the terminal's width (not with -o wide). Changes nothing.",
		Action: func(c *cli.Context) error { return runStatus(c.Context, env, c.Args().Slice()) },
	}
}

// appRow is one app in status's JSON: its counts and why.
type appRow struct {
	plan.AppStatus
	Why string `json:"why"`
}

func runStatus(ctx context.Context, env *Env, apps []string) error {
	x, err := openPass(ctx, env, "status", false)
	if err != nil {
		return err
	}
	defer x.close()
	for _, a := range apps {
		if x.spec.App(a) == nil {
			return fmt.Errorf("status: no app %q in the spec", a)
		}
	}
	if err := x.observeFleet(ctx); err != nil {
		return err
	}
	now := x.clock.Now()
	in := plan.StatusInput{Spec: x.spec, Apps: x.apps, Ready: x.fleet.ready, ProbeErr: x.fleet.probeErr, State: x.state,
		Containers: append(append([]fleet.Container(nil), x.fleet.containers...), x.fleet.taskReplicas...)}
	// The images are only asked for when an app on this host runs short,
	// so a status of a healthy fleet stays one list call.
	short := slices.ContainsFunc(x.apps, func(as plan.AppStatus) bool {
		a := x.spec.App(as.App)
		return a != nil && !a.OnSwarm() && as.Running < as.Want
	})
	if short {
		if imgs, err := x.engine.Images(ctx); err == nil {
			in.Images = []string{}
			for _, img := range imgs {
				in.Images = append(in.Images, img.Tags...)
			}
		} else {
			env.logf("status: images: %v", err)
		}
	}
	if evs, _, err := state.ReadEventLog(env.StatePath); err == nil {
		in.Events = evs
	}
	why := plan.Why(in, now)
	replicas := plan.Replicas(in, apps, now)
	out := make([]appRow, 0, len(x.apps))
	for _, a := range x.apps {
		if len(apps) == 0 || slices.Contains(apps, a.App) {
			out = append(out, appRow{a, why[a.App]})
		}
	}
	nodes := nodeStatuses(x.nodes)
	if env.Output == "json" {
		obj := object{{"apps", out}, {"replicas", replicas}}
		if x.nodes != nil {
			obj = append(obj, field{"nodes", nodes})
		}
		return writeJSON(env.Stdout, obj)
	}
	if len(apps) > 0 || env.Wide {
		printReplicas(env, replicas)
		return nil
	}
	rows := make([][]string, 0, len(out))
	for _, s := range out {
		last := "-"
		if s.LastAction != "" {
			last = fmt.Sprintf("%s ago: %s", now.Sub(s.LastActionAt).Round(time.Second), s.LastAction)
		}
		rows = append(rows, []string{s.App, fmt.Sprint(s.Want), fmt.Sprint(s.Running), fmt.Sprint(s.Ready),
			fmt.Sprint(s.Current), fmt.Sprint(s.Stopped), s.Health, orDash(s.Why), last})
	}
	fitTable(env, env.Stdout, []string{"APP", "WANT", "RUNNING", "READY", "UP-TO-DATE", "STOPPED", "HEALTH", "WHY", "LAST ACTION"}, rows)
	if len(nodes) > 0 {
		var nt [][]string
		for _, n := range nodes {
			nt = append(nt, []string{n.Node, n.State, n.Availability, n.Role, n.Addr, mib(n.MemoryBytes)})
		}
		fmt.Fprintln(env.Stdout)
		fitTable(env, env.Stdout, []string{"NODE", "STATE", "AVAILABILITY", "ROLE", "ADDRESS", "MEMORY"}, nt)
	}
	return nil
}

// printReplicas is the one-row-per-replica table.
func printReplicas(env *Env, rs []plan.ReplicaStatus) {
	rows := make([][]string, 0, len(rs))
	for _, r := range rs {
		ready := "no"
		if r.Ready {
			ready = "yes"
		}
		if !r.Ready && r.Probe != "" {
			ready = "no: " + r.Probe
		}
		rows = append(rows, []string{fmt.Sprintf("%s-%d", r.App, r.Replica), r.Container, orDash(r.Image), r.State, ready,
			fmt.Sprint(r.ProbeFailures), fmt.Sprint(r.Restarts), age(r.Age), orDash(r.Addr), orDash(r.LastEvent)})
	}
	fitTable(env, env.Stdout, []string{"REPLICA", "CONTAINER", "IMAGE", "STATE", "READY", "PROBE FAILS", "RESTARTS", "AGE", "ADDRESS", "LAST EVENT"}, rows)
}

// age is a duration the way docker ps and kubectl print it: 45s, 3m, 5h, 2d.
func age(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
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
