package commands

// logs.go is `baton logs APP`: the logs of an app's replicas interleaved,
// each line prefixed with its replica, as `docker compose logs` prints a
// service's containers. Without --follow the lines are merged in the
// order the daemon stamped them; with it they are printed as they come.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/bounded"
	"github.com/baton-orchestrator/baton/internal/fleet"
)

func newLogsCommand(env *Env) *cli.Command {
	var follow, timestamps bool
	var since, tail string
	return &cli.Command{
		Name:      "logs",
		Usage:     "print an app's replica logs, interleaved, each line prefixed with its replica",
		ArgsUsage: "APP",
		Description: "Reads the logs of every container of APP (running or stopped, so a crashed\n" +
			"replica's last words are there) from Docker, merged in time order and prefixed\n" +
			"with the replica (web-0 | ...), as docker compose logs does. --follow keeps\n" +
			"printing until the replicas stop or baton is interrupted; replicas started after\n" +
			"it began are not followed. Takes no lock and changes nothing.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines", Destination: &follow},
			&cli.StringFlag{Name: "since", Usage: "only lines after a duration ago (10m) or a time (RFC 3339)", Destination: &since},
			&cli.StringFlag{Name: "tail", Value: "all", Usage: "only the last `N` lines of each replica (or all)", Destination: &tail},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "show the daemon's timestamp of each line", Destination: &timestamps},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("logs: want one APP, got %d arguments", c.NArg())
			}
			o := fleet.LogOptions{Follow: follow, Tail: -1}
			var err error
			if o.Since, err = parseSince(env, "--since", since); err != nil {
				return err
			}
			if tail != "all" {
				if o.Tail, err = strconv.Atoi(tail); err != nil || o.Tail < 0 {
					return fmt.Errorf("--tail %q: want a number of lines or all", tail)
				}
			}
			if follow && env.Output == "json" {
				return withCode(ExitError, errors.New("logs: --follow streams lines and -o json prints one object: give one of them"))
			}
			return runLogs(c.Context, env, c.Args().First(), o, timestamps)
		},
	}
}

// parseSince reads a --since value: a duration ago or an RFC 3339 time.
func parseSince(env *Env, flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return env.clock().Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want a duration (90m) or an RFC 3339 time", flag, v)
}

// logSource is one container whose lines are printed under prefix.
type logSource struct {
	prefix string
	c      fleet.Container
}

// logEntry is one printed line.
type logEntry struct {
	src   int
	line  fleet.LogLine
	order int
}

func runLogs(ctx context.Context, env *Env, app string, o fleet.LogOptions, timestamps bool) error {
	x, err := openPass(ctx, env, "logs", false)
	if err != nil {
		return err
	}
	defer x.close()
	if a := x.spec.App(app); a != nil && a.OnSwarm() {
		return withCode(ExitError, fmt.Errorf("logs: app %q is a Swarm service: its tasks' logs are Swarm's", app),
			fmt.Sprintf("docker service logs %s-%s (against the manager)", x.spec.Project, app))
	}
	cs, err := x.engine.List(ctx, x.spec.Project, x.spec.Docker.Network)
	if err != nil {
		return fmt.Errorf("observe docker: %w", err)
	}
	srcs := logSources(cs, app)
	if len(srcs) == 0 {
		if x.spec.App(app) == nil {
			return fmt.Errorf("logs: no app %q in the spec and no container of it", app)
		}
		if env.Output == "json" {
			return writeJSON(env.Stdout, object{{"app", app}, {"lines", []any{}}})
		}
		env.warnf("logs: app %q has no containers", app)
		return nil
	}
	width := 0
	for _, s := range srcs {
		width = max(width, len(s.prefix))
	}
	print := func(e logEntry) {
		text := e.line.Text
		if timestamps {
			text = e.line.Time.Format(time.RFC3339Nano) + " " + text
		}
		fmt.Fprintf(env.Stdout, "%-*s | %s\n", width, srcs[e.src].prefix, text)
	}
	var mu sync.Mutex
	var entries []logEntry
	errs := make([]error, len(srcs))
	limit := 16
	if o.Follow {
		limit = len(srcs) // every replica at once, until it stops
	}
	bounded.Each(len(srcs), limit, func(i int) {
		errs[i] = x.engine.Logs(ctx, srcs[i].c.ID, o, func(l fleet.LogLine) {
			mu.Lock()
			defer mu.Unlock()
			e := logEntry{src: i, line: l, order: len(entries)}
			if o.Follow {
				print(e)
				return
			}
			entries = append(entries, e)
		})
	})
	if !o.Follow {
		sort.SliceStable(entries, func(i, j int) bool {
			a, b := entries[i], entries[j]
			if !a.line.Time.Equal(b.line.Time) {
				return a.line.Time.Before(b.line.Time)
			}
			if a.src != b.src {
				return a.src < b.src
			}
			return a.order < b.order
		})
		if env.Output == "json" {
			rows := make([]object, 0, len(entries))
			for _, e := range entries {
				s := srcs[e.src]
				rows = append(rows, object{{"replica", s.prefix}, {"container", s.c.Name}, {"time", e.line.Time}, {"stream", e.line.Stream}, {"text", e.line.Text}})
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			return writeJSON(env.Stdout, object{{"app", app}, {"lines", rows}})
		}
		for _, e := range entries {
			print(e)
		}
	}
	if ctx.Err() != nil {
		return nil // interrupted while following
	}
	return errors.Join(errs...)
}

// logSources are app's containers, by replica and then age, each named
// <app>-<replica>, or by its container name when a replica has several
// (a rollout's old and new one, a crashed one kept for gc).
func logSources(cs []fleet.Container, app string) []logSource {
	var mine []fleet.Container
	for _, c := range cs {
		if c.App == app {
			mine = append(mine, c)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool {
		if mine[i].Replica != mine[j].Replica {
			return mine[i].Replica < mine[j].Replica
		}
		return mine[i].Created.Before(mine[j].Created)
	})
	per := map[int]int{}
	for _, c := range mine {
		per[c.Replica]++
	}
	out := make([]logSource, 0, len(mine))
	for _, c := range mine {
		p := app + "-" + strconv.Itoa(c.Replica)
		if per[c.Replica] > 1 || c.Replica < 0 {
			p = strings.TrimSuffix(c.Name, fleet.RetiringSuffix)
		}
		out = append(out, logSource{prefix: p, c: c})
	}
	return out
}
