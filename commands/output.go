package commands

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/olekukonko/tablewriter"
)

// table writes rows under header in the plain kubectl/docker style. It is
// the only user of the table library.
func table(w io.Writer, header []string, rows [][]string) {
	t := tablewriter.NewWriter(w)
	t.SetHeader(header)
	t.SetAutoFormatHeaders(false)
	t.SetAutoWrapText(false)
	t.SetHeaderAlignment(tablewriter.ALIGN_LEFT)
	t.SetAlignment(tablewriter.ALIGN_LEFT)
	t.SetBorder(false)
	t.SetCenterSeparator("")
	t.SetColumnSeparator("")
	t.SetRowSeparator("")
	t.SetHeaderLine(false)
	t.SetTablePadding("   ")
	t.SetNoWhiteSpace(true)
	t.AppendBulk(rows)
	t.Render()
}

// printsTable reports whether a pass prints its table: not under --quiet,
// and only when it has something to say (so cron mails only when
// something happened). On a dry run it first says so on stderr.
func printsTable(env *Env, something bool) bool {
	if env.Quiet || !something {
		return false
	}
	if env.DryRun {
		fmt.Fprintln(env.Stderr, "baton: dry run: nothing was changed")
	}
	return true
}

// resultCell is an action's RESULT column: planned on a dry run, the
// error, or ok (done says what "ok" means when it is more than that).
func resultCell(env *Env, errText, done string) string {
	switch {
	case env.DryRun:
		return "planned"
	case errText != "":
		return "failed: " + errText
	}
	return done
}

// findingRows are findings as rows of a width-column table: the text in
// column at, "-" elsewhere.
func findingRows(findings []string, width, at int) [][]string {
	rows := make([][]string, 0, len(findings))
	for _, f := range findings {
		row := make([]string, width)
		for i := range row {
			row[i] = "-"
		}
		row[at] = f
		rows = append(rows, row)
	}
	return rows
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
