package commands

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/plan"
)

func newGCCommand(env *Env) *cli.Command {
	return passCommand("gc", "remove exited containers past their grace, unused images beyond keep-N by last use, orphan volumes",
		"Never removes an image that any container uses (running or stopped), that a Swarm\n"+
			"service or the spec names, nor anything with an excluded label. Keep-N counts from\n"+
			"when baton last saw an image in use (kept in the state file), not from its build.\n"+
			"--dry-run prints exactly what the real pass removes; removal errors are reported\n"+
			"per item and never stop the rest. The report shows the image space reclaimed.",
		nil, func(c *cli.Context) error { return run(c.Context, env, gcPass()) })
}

// gcPass: every container on the host, the images, the volumes and the
// Swarm services' images (four list calls), plus the finish times of the
// stopped containers in scope; plan.GCPass decides.
func gcPass() passDef[plan.GCInput] {
	return passDef[plan.GCInput]{
		name: "gc",
		observe: func(ctx context.Context, x *pass) (in plan.GCInput, err error) {
			in = plan.GCInput{Spec: x.spec, LastUsed: x.state.GCMemory(x.spec.GC.Scope)}
			if in.Containers, err = x.engine.ListAll(ctx); err == nil {
				if in.Images, err = x.engine.Images(ctx); err == nil {
					if in.Volumes, err = x.engine.Volumes(ctx); err == nil {
						in.ServiceImages, err = x.engine.ServiceImages(ctx)
					}
				}
			}
			if err != nil {
				return in, fmt.Errorf("observe docker: %w", err)
			}
			in.Exits = x.inspectStopped(ctx, plan.GCToInspect(in))
			return in, nil
		},
		decide: func(_ *pass, in plan.GCInput, now time.Time) plan.Plan { return plan.GCPass(in, now) },
		exec:   []executor{execDiscard},
		view:   gcView(),
	}
}

func gcView() view {
	item := func(o plan.Outcome) plan.GCItem { it, _ := o.Step.Do.(plan.GCItem); return it }
	col := func(head, key string, f func(it plan.GCItem) any) column {
		return column{head: head, key: key, value: func(_ *report, o plan.Outcome) any { return f(item(o)) }}
	}
	return view{
		rows: "removed",
		columns: []column{
			col("KIND", "kind", func(it plan.GCItem) any { return it.Kind }),
			col("", "id", func(it plan.GCItem) any { return it.ID }),
			col("NAME", "name", func(it plan.GCItem) any { return it.Name }),
			col("", "refs", func(it plan.GCItem) any { return it.Refs }),
			reasonCol,
			col("SIZE", "", func(it plan.GCItem) any {
				if it.Kind != "image" {
					return "-"
				}
				return humanBytes(it.Size)
			}),
			col("", "size", func(it plan.GCItem) any { return it.Size }),
			doneColumn, errorColumn,
			resultColumn(func(plan.Outcome) string { return "removed" }),
		},
		after: func(w io.Writer, r *report) {
			if r.dryRun {
				var size int64
				for _, o := range r.outcomes {
					if it := item(o); it.Kind == "image" {
						size += it.Size
					}
				}
				fmt.Fprintf(w, "\nimages: %s in all (layers shared with kept images are not freed)\n", humanBytes(size))
				return
			}
			fmt.Fprintf(w, "\nreclaimed: %s of image layers\n", humanBytes(r.reclaimed()))
		},
		fields: func(r *report) []field { return []field{{"reclaimed_bytes", r.reclaimed()}} },
	}
}

// reclaimed is the image-layer space the pass freed.
func (r *report) reclaimed() int64 {
	n, _ := r.extra["reclaimed_bytes"].(int64)
	return n
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
