package commands

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/baton-orchestrator/baton/internal/bounded"
	"github.com/baton-orchestrator/baton/internal/mods"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/state"
)

func newModsCommand(env *Env) *cli.Command {
	return groupCommand("mods", "keep the mod file cache fresh", passCommand("refresh",
		"fetch due entries with conditional requests, verify, replace atomically; prune what left the list",
		"An entry is due when it was never downloaded, its file is missing, its URL or\n"+
			"checksum changed, or its interval passed. A due entry is fetched with If-None-Match /\n"+
			"If-Modified-Since (304: nothing is written), streamed to a temporary file in the same\n"+
			"directory, checked against max_size and sha256, fsynced and renamed into place; on any\n"+
			"failure the old file stays. Network errors and 5xx answers are retried with backoff.\n"+
			"Only files baton downloaded are ever pruned. Progress bars only on a terminal.",
		nil, func(c *cli.Context) error { return run(c.Context, env, modsPass()) }))
}

// modsPass: what is on disk of every listed or recorded file;
// plan.ModsPass decides.
func modsPass() passDef[map[string]plan.ModFileObs] {
	return passDef[map[string]plan.ModFileObs]{
		name: "mods refresh",
		observe: func(_ context.Context, x *pass) (map[string]plan.ModFileObs, error) {
			onDisk := map[string]plan.ModFileObs{}
			if m := x.spec.Mods; m != nil {
				for _, f := range m.Files {
					onDisk[f.Dest] = mods.Stat(m.Dir, f.Dest)
				}
				for dest := range x.state.Mods {
					onDisk[dest] = mods.Stat(m.Dir, dest)
				}
			}
			return onDisk, nil
		},
		decide: func(x *pass, onDisk map[string]plan.ModFileObs, now time.Time) plan.Plan {
			return plan.ModsPass(x.spec.Mods, onDisk, x.state.Mods, now)
		},
		exec: []executor{execFetch, execPrune},
		tidy: func(x *pass) {
			if m := x.spec.Mods; m != nil {
				dests := slices.Collect(maps.Keys(x.state.Mods))
				for _, f := range m.Files {
					dests = append(dests, f.Dest)
				}
				mods.RemoveLeftovers(m.Dir, dests)
			}
		},
		view: view{rows: "files", columns: []column{
			stepColumn("DEST", "dest", func(s plan.Step) any { return s.Target }),
			stepColumn("ACTION", "action", func(s plan.Step) any { return s.Do.(plan.ModAction).Kind }),
			reasonCol,
			{key: "result", omitEmpty: true, value: func(r *report, o plan.Outcome) any {
				if r.dryRun || o.Err != nil {
					return ""
				}
				return map[plan.Kind]string{plan.Fetch: "downloaded", plan.Prune: "pruned"}[o.Step.Kind]
			}},
			{key: "bytes", omitEmpty: true, value: func(_ *report, o plan.Outcome) any {
				if rec, ok := o.Data.(*state.Mod); ok {
					return rec.Size
				}
				return nil
			}},
			errorColumn,
			resultColumn(func(o plan.Outcome) string { return o.Note }),
		}},
	}
}

// execFetch downloads the due files, m.Parallel at once, with progress
// bars on a terminal; each outcome's Data is the file's new record.
var execFetch = executor{kinds: []plan.Kind{plan.Fetch}, run: func(ctx context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	m := x.spec.Mods
	outs := make([]plan.Outcome, len(steps))
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		for i, s := range steps {
			outs[i] = plan.Outcome{Step: s, Err: fmt.Errorf("mods: cache directory: %w", err)}
		}
		return outs
	}
	f := &mods.Fetcher{Client: &http.Client{}, Dir: m.Dir, MaxSize: m.MaxSize.Bytes, Timeout: m.Timeout.D, Retries: m.Retries, Clock: x.clock}
	env := x.env
	if isTerminal(env.Stderr) && !env.Quiet && env.Output == "table" {
		var mu sync.Mutex
		f.Progress = func(dest string, done, total int64) {
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
	now := x.clock.Now()
	bounded.Each(len(steps), m.Parallel, func(i int) {
		a := steps[i].Do.(plan.ModAction)
		res, err := f.Fetch(ctx, a, x.state.Mods[a.Dest], now)
		outs[i] = plan.Outcome{Step: steps[i], Err: err}
		if err == nil {
			rec := res.Mod
			outs[i].Data, outs[i].Quiet = &rec, res.Status == "not-modified"
			outs[i].Note = "downloaded " + humanBytes(res.Bytes)
		}
	})
	return outs
}}

// execPrune removes files baton downloaded that left the list.
var execPrune = executor{kinds: []plan.Kind{plan.Prune}, run: func(_ context.Context, x *pass, steps []plan.Step) []plan.Outcome {
	outs := eachStep(steps, func(s plan.Step) error { return mods.Prune(x.spec.Mods.Dir, s.Target) })
	for i := range outs {
		outs[i].Note = "pruned"
	}
	return outs
}}

// isTerminal reports whether w is a terminal (progress bars go only there).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
