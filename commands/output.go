package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"golang.org/x/sys/unix"
)

// table writes rows under header in the plain kubectl/docker style, with
// no trailing spaces. It is the only user of the table library.
func table(w io.Writer, header []string, rows [][]string) {
	var buf bytes.Buffer
	t := tablewriter.NewWriter(&buf)
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
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// fitTable is table cut to the terminal's width: the widest columns are
// narrowed (never below minColumn) and their cells end in "…". Nothing is
// cut with -o wide, or when the width is unknown (a pipe, a cron mail,
// unless COLUMNS says).
func fitTable(env *Env, w io.Writer, header []string, rows [][]string) {
	if width := env.width(); width > 0 && !env.Wide {
		rows = fitRows(width, header, rows)
	}
	table(w, header, rows)
}

// minColumn is the narrowest fitTable makes a column (or its header's
// width, when wider).
const minColumn = 5

// fitRows narrows the widest columns until a row fits in width.
func fitRows(width int, header []string, rows [][]string) [][]string {
	n := len(header)
	widths := make([]int, n)
	floor := make([]int, n)
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
		floor[i] = max(minColumn, widths[i])
	}
	for _, r := range rows {
		for i := 0; i < n && i < len(r); i++ {
			widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
		}
	}
	total := func() int {
		t := 3 * (n - 1)
		for _, w := range widths {
			t += w
		}
		return t
	}
	for total() > width {
		widest := -1
		for i, w := range widths {
			if w > floor[i] && (widest < 0 || w > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break // as narrow as it gets
		}
		// Narrow the widest column to the next widest (or what fits),
		// so wide columns give way first and evenly.
		next := floor[widest]
		for i, w := range widths {
			if i != widest && w < widths[widest] && w > next {
				next = w
			}
		}
		widths[widest] = max(next, widths[widest]-(total()-width), floor[widest])
	}
	out := make([][]string, len(rows))
	for j, r := range rows {
		out[j] = make([]string, len(r))
		for i, c := range r {
			if i < n && utf8.RuneCountInString(c) > widths[i] {
				c = string([]rune(c)[:widths[i]-1]) + "…"
			}
			out[j][i] = c
		}
	}
	return out
}

// width is the terminal's width for tables: COLUMNS, else the width of the
// terminal stdout is (0: not a terminal).
func (e *Env) width() int {
	if c, err := strconv.Atoi(e.getenv("COLUMNS")); err == nil && c > 0 {
		return c
	}
	w := e.Stdout
	if t, ok := w.(*trackedWriter); ok {
		w = t.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 0
	}
	return int(ws.Col)
}

// object is a JSON object that keeps its fields in order.
type object []field

type field struct {
	key   string
	value any
}

// MarshalJSON writes the fields in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
