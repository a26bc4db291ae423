package commands

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

func newEventsCommand(env *Env) *cli.Command {
	var app, typ, since string
	return &cli.Command{
		Name:  "events",
		Usage: "show the event log: every action and finding of past passes, with reasons",
		Description: "The log is JSON lines beside the state file (state.json → state.events.jsonl),\n" +
			"appended under the state lock and rotated by size. Reading needs no lock.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "app", Usage: "only events of this app", Destination: &app},
			&cli.StringFlag{Name: "type", Usage: "only events of these types, comma-separated (start, replace, remove, unhealthy, recovered, hold, crashloop)", Destination: &typ},
			&cli.StringFlag{Name: "since", Usage: "only events after a duration ago (1h) or a time (RFC 3339)", Destination: &since},
		},
		Action: func(*cli.Context) error {
			var after time.Time
			if since != "" {
				if d, err := time.ParseDuration(since); err == nil {
					after = env.clock().Now().Add(-d)
				} else if t, err := time.Parse(time.RFC3339, since); err == nil {
					after = t
				} else {
					return fmt.Errorf("--since %q: want a duration (90m) or an RFC 3339 time", since)
				}
			}
			types := map[string]bool{}
			for _, t := range strings.Split(typ, ",") {
				if t = strings.TrimSpace(t); t != "" {
					if !slices.Contains(spec.EventTypes, t) {
						// a typo would print nothing, as if nothing happened
						err := fmt.Errorf("--type: unknown event type %q", t)
						if best := spec.Closest(t, spec.EventTypes); best != "" {
							return withCode(ExitError, err, fmt.Sprintf("did you mean %q?", best))
						}
						return withCode(ExitError, err, "the types: "+strings.Join(spec.EventTypes, ", "))
					}
					types[t] = true
				}
			}
			all, skipped, err := state.ReadEventLog(env.StatePath)
			if err != nil {
				return err
			}
			for _, k := range skipped {
				env.warnf("events: %s", k)
			}
			out := []state.Event{}
			for _, e := range all {
				if (app == "" || e.App == app) && (len(types) == 0 || types[e.Type]) && !e.Time.Before(after) {
					out = append(out, e)
				}
			}
			if env.Output == "json" {
				return writeJSON(env.Stdout, map[string]any{"events": out})
			}
			if len(out) == 0 {
				return nil
			}
			rows := make([][]string, 0, len(out))
			for _, e := range out {
				result := "-" // a finding, not an action
				if e.Type == "start" || e.Type == "replace" || e.Type == "remove" {
					result = "ok"
				}
				if e.Error != "" {
					result = "failed: " + e.Error
				} else if e.Container != "" {
					result = "ok: " + e.Container
				}
				rows = append(rows, []string{e.Time.Local().Format(time.DateTime), e.Command, e.App, e.Type, e.Target, e.Reason, result})
			}
			table(env.Stdout, []string{"TIME", "COMMAND", "APP", "TYPE", "TARGET", "REASON", "RESULT"}, rows)
			return nil
		},
	}
}
