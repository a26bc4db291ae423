package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/state"
)

func newGCCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:     "gc",
		Category: passCategory,
		Usage:    "remove exited containers past their grace, unused images beyond keep-N by last use, orphan volumes",
		Description: "Never removes an image that any container uses (running or stopped), that a Swarm\n" +
			"service or the spec names, nor anything with an excluded label. Keep-N counts from\n" +
			"when baton last saw an image in use (kept in the state file), not from its build.\n" +
			"--dry-run prints exactly what the real pass removes; removal errors are reported\n" +
			"per item and never stop the rest. The report shows the image space reclaimed.",
		Action: passAction(env, "gc", func(ctx context.Context, o *passOutcome) error { return runGC(ctx, env, o) }),
	}
}

type gcRow struct {
	plan.GCItem
	Done  bool   `json:"done"`
	Error string `json:"error,omitempty"`
}

func runGC(ctx context.Context, env *Env, o *passOutcome) error {
	p, err := openPass(ctx, env, true, o)
	if err != nil {
		return err
	}
	defer p.close()
	in := plan.GCInput{Spec: p.spec, LastUsed: p.state.GCMemory(p.spec.GC.Scope)}
	if in.Containers, err = p.engine.ListAll(ctx); err != nil {
		return fmt.Errorf("observe docker: %w", err)
	}
	if in.Images, err = p.engine.Images(ctx); err != nil {
		return fmt.Errorf("observe docker: %w", err)
	}
	if in.Volumes, err = p.engine.Volumes(ctx); err != nil {
		return fmt.Errorf("observe docker: %w", err)
	}
	if in.ServiceImages, err = p.engine.ServiceImages(ctx); err != nil {
		return fmt.Errorf("observe docker: %w", err)
	}
	in.Exits = p.inspectStopped(ctx, plan.GCToInspect(in))
	gp := plan.GC(in, env.now())

	rows := make([]gcRow, len(gp.Remove))
	for i, it := range gp.Remove {
		rows[i] = gcRow{GCItem: it}
	}
	var reclaimed int64
	if !env.DryRun {
		var before int64 = -1
		for _, it := range gp.Remove {
			if it.Kind == "image" {
				if b, err := p.engine.LayersSize(ctx); err == nil {
					before = b
				}
				break
			}
		}
		// Containers first, then images (now free), then volumes.
		for _, kind := range []string{"container", "image", "volume"} {
			for i := range rows {
				if rows[i].Kind != kind {
					continue
				}
				err := p.removeGCItem(ctx, rows[i].GCItem)
				rows[i].Done = err == nil
				if err != nil {
					rows[i].Error = err.Error()
				}
			}
		}
		if before >= 0 {
			if after, err := p.engine.LayersSize(ctx); err == nil && before > after {
				reclaimed = before - after
			}
		}
		p.state.SetGCMemory(p.spec.GC.Scope, gp.LastUsed)
	}
	var events []state.Event
	failed := 0
	for _, r := range rows {
		ev := state.Event{Type: "remove", Target: r.Kind + " " + r.Name, Reason: r.Reason, Error: r.Error}
		events = append(events, ev)
		if r.Error != "" {
			failed++
		}
	}
	p.out.actions, p.out.failed = len(rows), failed
	var recErr error
	if !env.DryRun {
		recErr = p.record("gc", nil, events)
	}
	saveErr := p.save()
	if err := printGC(env, rows, reclaimed); err != nil {
		return err
	}
	if err := errors.Join(recErr, saveErr); err != nil {
		return err
	}
	if failed > 0 {
		return withCode(ExitPartial, fmt.Errorf("%d of %d removals failed; the others were done", failed, len(rows)))
	}
	return nil
}

func (p *pass) removeGCItem(ctx context.Context, it plan.GCItem) error {
	switch it.Kind {
	case "container":
		return p.engine.RemoveStopped(ctx, it.ID)
	case "image":
		for _, ref := range it.Refs {
			if err := p.engine.RemoveImage(ctx, ref); err != nil {
				return err
			}
		}
		return nil
	case "volume":
		return p.engine.RemoveVolume(ctx, it.ID)
	}
	return fmt.Errorf("unknown kind %q", it.Kind)
}

func printGC(env *Env, rows []gcRow, reclaimed int64) error {
	if env.Output == "json" {
		return writeJSON(env.Stdout, map[string]any{"command": "gc", "dry_run": env.DryRun, "removed": rows, "reclaimed_bytes": reclaimed})
	}
	if env.Quiet || len(rows) == 0 {
		return nil
	}
	if env.DryRun {
		fmt.Fprintln(env.Stderr, "baton: dry run: nothing was removed")
	}
	var t [][]string
	var size int64
	for _, r := range rows {
		result := "planned"
		if !env.DryRun {
			result = "removed"
			if r.Error != "" {
				result = "failed: " + r.Error
			}
		}
		sz := "-"
		if r.Kind == "image" {
			sz = humanBytes(r.Size)
			size += r.Size
		}
		t = append(t, []string{r.Kind, r.Name, r.Reason, sz, result})
	}
	table(env.Stdout, []string{"KIND", "NAME", "REASON", "SIZE", "RESULT"}, t)
	if env.DryRun {
		fmt.Fprintf(env.Stdout, "\nimages: %s in all (layers shared with kept images are not freed)\n", humanBytes(size))
	} else {
		fmt.Fprintf(env.Stdout, "\nreclaimed: %s of image layers\n", humanBytes(reclaimed))
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
