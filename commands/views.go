package commands

// views.go is how scale, heal and lb render print (the other passes keep
// their views in their own files): APP ACTION TARGET REASON RESULT, the
// findings first, the balancer syncs last and their diffs after the table.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/baton-orchestrator/baton/internal/plan"
)

// actionsView is the view of the passes that act on apps.
func actionsView() view {
	return view{
		rows: "actions",
		columns: []column{
			stepColumn("APP", "app", func(s plan.Step) any { return s.App }),
			stepColumn("ACTION", "action", actionName),
			stepColumn("TARGET", "target", func(s plan.Step) any { return s.Target }),
			stepColumn("", "replica", func(s plan.Step) any {
				if a, ok := s.Do.(*plan.Action); ok {
					return a.Replica
				}
				return -1
			}),
			reasonCol,
			{key: "container", omitEmpty: true, value: func(_ *report, o plan.Outcome) any { return startedOf(o) }},
			doneColumn, errorColumn,
			{head: "RESULT", value: func(r *report, o plan.Outcome) any {
				if res, ok := o.Data.(*lbResult); ok {
					return balancerResult(r.dryRun, res, o.Err)
				}
				return resultColumn(okNote).value(r, o)
			}},
		},
		findingCells: func(s plan.Step) []string { return []string{s.App, s.Type, s.Target, s.Reason, "-"} },
		findingJSON: func(o plan.Outcome) any {
			s := o.Step
			obj := object{{"app", s.App}, {"type", s.Type}, {"target", s.Target}, {"reason", s.Reason}}
			if o.Quiet {
				obj = append(obj, field{"known", true}) // an incident an earlier pass reported
			}
			if s.Resolved {
				obj = append(obj, field{"resolved", true})
			}
			return obj
		},
		fields: func(r *report) []field {
			si, ok := r.info.(scaleInfo)
			if !ok {
				return nil
			}
			var fs []field
			if len(si.decisions) > 0 {
				fs = append(fs, field{"autoscale", si.decisions})
			}
			if si.preview != nil && r.dryRun {
				fs = append(fs, field{"balancer_preview", si.preview})
			}
			return fs
		},
	}
}

// actionName is the ACTION cell: the kind, or a service action's own name
// ("scale service").
func actionName(s plan.Step) any {
	if a, ok := s.Do.(plan.ServiceAction); ok {
		return string(a.Kind)
	}
	return string(s.Kind)
}

// balancerResult says what a balancer sync did: a failed reload is never
// reported as done.
func balancerResult(dry bool, b *lbResult, err error) string {
	switch {
	case err != nil && b.Changed:
		return "rewritten and tested; failed: " + firstLine(err.Error())
	case err != nil:
		return "failed: " + firstLine(err.Error())
	case dry && b.Changed:
		return "would rewrite and reload"
	case dry && b.Reloaded:
		return "would reload"
	case b.Changed:
		return "rewritten, tested, reloaded"
	case b.Reloaded && b.Tested:
		return "tested, reloaded"
	case b.Reloaded:
		return "reloaded"
	case b.Tested:
		return "tested"
	}
	return "unchanged"
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// printExplain shows why each autoscaled app has its count.
func printExplain(env *Env, ds []plan.AutoscaleDecision) {
	for _, d := range ds {
		fmt.Fprintf(env.Stdout, "%s: %d ready of %d; raw %d, stabilized %d, floor %d → %d\n", d.App, d.Ready, d.Current, d.Raw, d.Stabilized, d.Floor, d.Final)
		var rows [][]string
		for _, m := range d.Metrics {
			rec := "-"
			if m.Recommend >= 0 {
				rec = fmt.Sprint(m.Recommend)
			}
			value, ratio := "-", "-"
			if !strings.HasPrefix(m.Note, "missing") {
				value, ratio = trimFloat(m.Value), trimFloat(m.Ratio)
			}
			rows = append(rows, []string{"  " + m.Metric, value, trimFloat(m.Target), ratio, rec, m.Note})
		}
		if len(rows) > 0 {
			table(env.Stdout, []string{"  METRIC", "VALUE", "TARGET", "RATIO", "RECOMMENDS", "NOTE"}, rows)
		}
		fmt.Fprintf(env.Stdout, "  reason: %s\n\n", d.Reason)
	}
}

func trimFloat(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}
