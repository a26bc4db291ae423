package commands

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/baton-orchestrator/baton/internal/bounded"
	"github.com/baton-orchestrator/baton/internal/mods"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/state"
)

func newModsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:     "mods",
		Category: passCategory,
		Usage:    "keep the mod file cache fresh",
		Subcommands: []*cli.Command{{
			Name:  "refresh",
			Usage: "fetch due entries with conditional requests, verify, replace atomically; prune what left the list",
			Description: "An entry is due when it was never downloaded, its file is missing, its URL or\n" +
				"checksum changed, or its interval passed. A due entry is fetched with If-None-Match /\n" +
				"If-Modified-Since (304: nothing is written), streamed to a temporary file in the same\n" +
				"directory, checked against max_size and sha256, fsynced and renamed into place; on any\n" +
				"failure the old file stays. Network errors and 5xx answers are retried with backoff.\n" +
				"Only files baton downloaded are ever pruned. Progress bars only on a terminal.",
			Action: passAction(env, "mods refresh", func(ctx context.Context, o *passOutcome) error { return runModsRefresh(ctx, env, o) }),
		}},
	}
}

type modRow struct {
	Dest   string `json:"dest"`
	Action string `json:"action"`
	Reason string `json:"reason"`
	Result string `json:"result,omitempty"` // downloaded, not-modified, pruned
	Bytes  int64  `json:"bytes,omitempty"`
	Error  string `json:"error,omitempty"`
}

func runModsRefresh(ctx context.Context, env *Env, o *passOutcome) error {
	p, err := openPass(ctx, env, true, o)
	if err != nil {
		return err
	}
	defer p.close()
	m := p.spec.Mods
	if m == nil || (len(m.Files) == 0 && len(p.state.Mods) == 0) {
		return printMods(env, nil)
	}
	if !env.DryRun {
		if err := os.MkdirAll(m.Dir, 0o755); err != nil {
			return fmt.Errorf("mods: cache directory: %w", err)
		}
	}
	onDisk := map[string]plan.ModFileObs{}
	for _, f := range m.Files {
		onDisk[f.Dest] = mods.Stat(m.Dir, f.Dest)
	}
	for dest := range p.state.Mods {
		onDisk[dest] = mods.Stat(m.Dir, dest)
	}
	now := env.now()
	actions := plan.RefreshMods(m, onDisk, p.state.Mods, now)
	rows := make([]modRow, len(actions))
	for i, a := range actions {
		rows[i] = modRow{Dest: a.Dest, Action: a.Kind, Reason: a.Reason}
	}
	if env.DryRun {
		return printMods(env, rows)
	}

	fetcher := &mods.Fetcher{Client: &http.Client{}, Dir: m.Dir, MaxSize: m.MaxSize.Bytes, Timeout: m.Timeout.D, Retries: m.Retries}
	if isTerminal(env.Stderr) && !env.Quiet && env.Output == "table" {
		var mu sync.Mutex
		fetcher.Progress = func(dest string, done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			if total > 0 {
				fmt.Fprintf(env.Stderr, "\r\033[K%s %3d%% %s/%s", dest, done*100/total, humanBytes(done), humanBytes(total))
			} else {
				fmt.Fprintf(env.Stderr, "\r\033[K%s %s", dest, humanBytes(done))
			}
		}
		defer fmt.Fprint(env.Stderr, "\r\033[K")
	}
	if p.state.Mods == nil {
		p.state.Mods = map[string]*state.Mod{}
	}
	var mu sync.Mutex
	bounded.Each(len(actions), m.Parallel, func(i int) {
		a := actions[i]
		if a.Kind != "fetch" {
			return
		}
		mu.Lock()
		prev := p.state.Mods[a.Dest]
		mu.Unlock()
		res, err := fetcher.Fetch(ctx, a, prev, now)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			rows[i].Error = err.Error()
			return
		}
		rec := res.Mod
		p.state.Mods[a.Dest] = &rec
		rows[i].Result, rows[i].Bytes = res.Status, res.Bytes
	})
	for i, a := range actions {
		if a.Kind != "prune" {
			continue
		}
		if err := mods.Prune(m.Dir, a.Dest); err != nil {
			rows[i].Error = err.Error()
			continue
		}
		delete(p.state.Mods, a.Dest)
		rows[i].Result = "pruned"
	}

	var events []state.Event
	failed := 0
	for _, r := range rows {
		typ := "download"
		if r.Action == "prune" {
			typ = "prune"
		}
		if r.Result == "not-modified" {
			continue // checked, nothing changed: not an event
		}
		events = append(events, state.Event{Type: typ, Target: r.Dest, Reason: r.Reason, Error: r.Error})
		if r.Error != "" {
			failed++
		}
	}
	p.out.actions, p.out.failed = len(rows), failed
	recErr := p.record("mods refresh", nil, events)
	saveErr := p.save()
	if err := printMods(env, rows); err != nil {
		return err
	}
	if err := errors.Join(recErr, saveErr); err != nil {
		return err
	}
	if failed > 0 {
		return withCode(ExitPartial, fmt.Errorf("%d of %d entries failed; their old files stay", failed, len(rows)))
	}
	return nil
}

// printMods prints the rows; a pass where every due entry answered 304 is
// as quiet as one with nothing due.
func printMods(env *Env, rows []modRow) error {
	if rows == nil {
		rows = []modRow{}
	}
	if env.Output == "json" {
		return writeJSON(env.Stdout, map[string]any{"command": "mods refresh", "dry_run": env.DryRun, "files": rows})
	}
	var t [][]string
	for _, r := range rows {
		result := "planned"
		switch {
		case env.DryRun:
		case r.Error != "":
			result = "failed: " + r.Error
		case r.Result == "not-modified":
			continue
		case r.Result == "downloaded":
			result = "downloaded " + humanBytes(r.Bytes)
		default:
			result = r.Result
		}
		t = append(t, []string{r.Dest, r.Action, r.Reason, result})
	}
	if env.Quiet || len(t) == 0 {
		return nil
	}
	if env.DryRun {
		fmt.Fprintln(env.Stderr, "baton: dry run: nothing was fetched or removed")
	}
	table(env.Stdout, []string{"DEST", "ACTION", "REASON", "RESULT"}, t)
	return nil
}

// isTerminal reports whether w is a terminal (progress bars go only there).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
