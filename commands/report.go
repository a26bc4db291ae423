package commands

// report.go is the one printer of passes: a table for people (nothing when
// the pass had nothing to say, so cron mails only when something
// happened) or one JSON object with -o json. Each pass gives a view: its
// columns, which are both the table's columns and its JSON rows' fields.

import (
	"fmt"
	"io"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
)

// report is what a pass prints.
type report struct {
	command  string
	dryRun   bool
	view     view
	outcomes []plan.Outcome
	info     any // the plan's Info
	extra    map[string]any
	// kinds are the kinds of action the pass's executors apply (for the
	// metrics' zero series).
	kinds []plan.Kind
	// pending is the JSON object print made, written by flush once the
	// exit status is known (so a failing pass's one object carries its
	// error).
	pending object
}

// view is how a pass prints.
type view struct {
	rows    string // the JSON key of the action rows: actions, removed, files, changes
	columns []column
	// findingCells are a finding's cells in the table; nil: its text in
	// the column headed REASON, "-" elsewhere (and a string in JSON).
	findingCells func(s plan.Step) []string
	findingJSON  func(o plan.Outcome) any
	// preface prints before the table even when there is no table (not
	// under --quiet); before and after print around the table (tables
	// only); fields adds fields to the JSON object.
	preface func(env *Env, r *report)
	before  func(w io.Writer, r *report)
	after   func(w io.Writer, r *report)
	fields  func(r *report) []field
}

// column is one column of the table (head) and one field of the JSON rows
// (key); either may be empty.
type column struct {
	head, key string
	omitEmpty bool
	value     func(r *report, o plan.Outcome) any
}

// step and done: the common columns.
func stepColumn(head, key string, f func(s plan.Step) any) column {
	return column{head: head, key: key, value: func(_ *report, o plan.Outcome) any { return f(o.Step) }}
}

var (
	doneColumn  = column{key: "done", value: func(r *report, o plan.Outcome) any { return !r.dryRun && o.Err == nil }}
	errorColumn = column{key: "error", omitEmpty: true, value: func(_ *report, o plan.Outcome) any { return errText(o.Err) }}
	reasonCol   = stepColumn("REASON", "reason", func(s plan.Step) any { return s.Reason })
)

// resultColumn is the RESULT column: planned on a dry run, the error, or
// ok (with the outcome's note).
func resultColumn(done func(o plan.Outcome) string) column {
	return column{head: "RESULT", value: func(r *report, o plan.Outcome) any {
		switch {
		case r.dryRun:
			return "planned"
		case o.Err != nil:
			return "failed: " + o.Err.Error()
		}
		return done(o)
	}}
}

// okNote is "ok", or "ok: " and the note.
func okNote(o plan.Outcome) string {
	if o.Note != "" {
		return "ok: " + o.Note
	}
	return "ok"
}

func (r *report) split(verbose bool) (findings, actions, syncs []plan.Outcome) {
	for _, o := range r.outcomes {
		switch {
		case o.Quiet && verbose && o.Step.Kind == plan.Report:
			findings = append(findings, o) // a known incident, shown when asked
		case o.Quiet:
		case o.Step.Kind == plan.Report:
			findings = append(findings, o)
		case o.Step.Kind == plan.Sync:
			if res, ok := o.Data.(*lbResult); o.Err != nil || (ok && res.acted()) {
				syncs = append(syncs, o)
			}
		default:
			actions = append(actions, o)
		}
	}
	return findings, actions, syncs
}

// hasContainerSteps: the pass started or stopped containers.
func (r *report) hasContainerSteps() bool {
	for _, o := range r.outcomes {
		if k := o.Step.Kind; k == plan.Start || k == plan.Replace || k == plan.Remove {
			return true
		}
	}
	return false
}

func (r *report) print(env *Env) error {
	if env.Output == "json" {
		// Scripts get every current finding, known incidents too.
		r.pending = r.json(r.split(true))
		return nil
	}
	findings, actions, syncs := r.split(env.Verbose)
	if r.view.preface != nil && !env.Quiet {
		r.view.preface(env, r)
	}
	// Nothing under --quiet, and only when there is something to say (so
	// cron mails only when something happened).
	if env.Quiet || len(findings)+len(actions)+len(syncs) == 0 {
		return nil
	}
	if r.dryRun {
		fmt.Fprintln(env.Stderr, "baton: dry run: nothing was changed")
	}
	w := env.Stdout
	if r.view.before != nil {
		r.view.before(w, r)
	}
	var head []string
	reasonAt := 0
	for _, c := range r.view.columns {
		if c.head != "" {
			if c.head == "REASON" {
				reasonAt = len(head)
			}
			head = append(head, c.head)
		}
	}
	var rows [][]string
	for _, f := range findings {
		if r.view.findingCells != nil {
			rows = append(rows, r.view.findingCells(f.Step))
			continue
		}
		row := make([]string, len(head))
		for i := range row {
			row[i] = "-"
		}
		row[reasonAt] = f.Step.Reason
		rows = append(rows, row)
	}
	for _, o := range append(actions, syncs...) {
		var row []string
		for _, c := range r.view.columns {
			if c.head != "" {
				row = append(row, cell(c.value(r, o)))
			}
		}
		rows = append(rows, row)
	}
	table(w, head, rows)
	if r.view.after != nil {
		r.view.after(w, r)
	}
	for _, o := range syncs {
		if res, ok := o.Data.(*lbResult); ok && res.Diff != "" {
			fmt.Fprint(w, "\n"+res.Diff)
		}
	}
	return nil
}

// flush writes the pending JSON object, with the error fields of err
// (exit.go) when the pass did not exit 0.
func (r *report) flush(env *Env, err error) error {
	if r.pending == nil {
		if err != nil && env.Output == "json" {
			// A pass that could not run (a held lock, a bad spec) still
			// prints its one object: under heal --for, one per pass.
			return writeJSON(env.Stdout, append(object{{"command", r.command}, {"dry_run", r.dryRun}}, errorFields(env, err)...))
		}
		return nil
	}
	obj := r.pending
	r.pending = nil
	if err != nil {
		obj = append(obj, errorFields(env, err)...)
	}
	return writeJSON(env.Stdout, obj)
}

func (r *report) json(findings, actions, syncs []plan.Outcome) object {
	rows := make([]object, 0, len(actions))
	for _, o := range actions {
		var row object
		for _, c := range r.view.columns {
			if c.key == "" {
				continue
			}
			v := c.value(r, o)
			if c.omitEmpty && (v == "" || v == nil) {
				continue
			}
			row = append(row, field{c.key, v})
		}
		rows = append(rows, row)
	}
	fs := make([]any, 0, len(findings))
	for _, f := range findings {
		if r.view.findingJSON != nil {
			fs = append(fs, r.view.findingJSON(f))
		} else {
			fs = append(fs, f.Step.Reason)
		}
	}
	obj := object{{"command", r.command}, {"dry_run", r.dryRun}, {r.view.rows, rows}, {"findings", fs}}
	if len(syncs) > 0 {
		lbs := make([]*lbResult, 0, len(syncs))
		for _, o := range syncs {
			if res, ok := o.Data.(*lbResult); ok {
				lbs = append(lbs, res)
			}
		}
		obj = append(obj, field{"balancer", lbs})
	}
	if r.view.fields != nil {
		obj = append(obj, r.view.fields(r)...)
	}
	return obj
}

// cell prints a column value in a table.
func cell(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return "-"
		}
		return v
	case nil:
		return "-"
	}
	return fmt.Sprint(v)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// startedOf names the container an outcome started, if any.
func startedOf(o plan.Outcome) string {
	if c, ok := o.Data.(*fleet.Container); ok && c != nil {
		return c.Name
	}
	return ""
}
