package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a spec, at a position in its file.
type Problem struct {
	File  string
	Line  int
	Col   int
	Field string
	Msg   string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
	if p.Field == "" {
		return loc + ": " + p.Msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Field, p.Msg)
}

// Error lists every problem found in a spec, one per line.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	n := len(lines)
	head := "1 problem"
	if n != 1 {
		head = fmt.Sprintf("%d problems", n)
	}
	return "invalid spec (" + head + "):\n  " + strings.Join(lines, "\n  ")
}

// maxNodes bounds the work a hostile file (alias bombs) can cause.
const maxNodes = 200000

// oneOrMany is implemented by list types that also accept a single value.
type oneOrMany interface {
	oneOrMany()
}

// scalar is implemented by spec types decoded from one YAML scalar.
type scalar interface {
	parseScalar(s string) error
}

type pos struct{ line, col int }

type decoder struct {
	file     string
	problems []Problem
	at       map[string]pos
	bad      map[string]bool // fields that failed to decode
	written  map[string]bool // fields given a value (not null): an explicit 0 is kept
	nodes    int
}

func (d *decoder) add(n *yaml.Node, field, format string, args ...any) {
	d.bad[field] = true
	p := Problem{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

// Load reads, decodes, validates and defaults the spec at path.
func Load(path string) (*Spec, error) {
	data, err := readInput(path, MaxSpecFile)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates data as the spec file named path. On any
// problem it returns an *Error listing all of them and no spec.
func Parse(path string, data []byte) (*Spec, error) {
	d := &decoder{file: path, at: map[string]pos{}, bad: map[string]bool{}, written: map[string]bool{}}
	if d.badText(data) {
		return nil, &Error{Problems: d.problems}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(nil, "", "empty spec")
		} else {
			d.syntax(err)
		}
		return nil, &Error{Problems: d.problems}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.add(&extra, "", "more than one YAML document; a spec is one document")
	}
	s := &Spec{Path: path, meta: &meta{file: path, at: d.at, written: d.written}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.decode(root, reflect.ValueOf(s).Elem(), "")
	// Dir is known before validation: paths the spec derives from it (a
	// relative access log or certificate) are checked as they will be used.
	if abs, err := filepath.Abs(path); err == nil {
		s.Dir = filepath.Dir(abs)
	}
	// Validate even after decode problems, so every problem is reported at
	// once; problem() skips fields that already failed to decode.
	d.validate(s)
	d.validateDefaults(s)
	d.validateOutputs(s)
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool {
			a, b := d.problems[i], d.problems[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			if a.Col != b.Col {
				return a.Col < b.Col
			}
			return a.Field < b.Field
		})
		return nil, &Error{Problems: d.problems}
	}
	s.applyDefaults()
	s.resolvePaths()
	s.rememberHashes()
	return s, nil
}

// badText reports (as a problem with line:column) the first byte that is
// not UTF-8 or a control character YAML does not allow (tab, newline and
// carriage return are fine). yaml.v3 names neither position. A file with
// a UTF-16 byte-order mark is left to yaml.v3, which decodes it.
func (d *decoder) badText(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return false
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		msg := ""
		switch {
		case r == utf8.RuneError && size <= 1:
			msg = fmt.Sprintf("invalid UTF-8 (byte 0x%02x): a spec is UTF-8 text", data[i])
		case (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f || (r >= 0x80 && r < 0xa0 && r != 0x85) || r == 0xfeff && i > 0:
			msg = fmt.Sprintf("control character %U is not allowed in YAML (write it as an escape inside double quotes)", r)
		}
		if msg != "" {
			d.problems = append(d.problems, Problem{File: d.file, Line: line, Col: col, Msg: msg})
			return true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return false
}

// syntax turns a yaml.v3 parse error ("yaml: line 3: ...") into a Problem.
func (d *decoder) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.Index(rest, ":"); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Col: 1, Msg: "YAML syntax: " + msg})
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// decode fills v from n strictly, recording every problem with its position.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.add(n, path, "spec too large or too many aliases")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		d.decode(n.Alias, v, path)
		return
	}
	d.at[path] = pos{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an explicit null leaves the zero value
	}
	d.written[path] = true
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if sc, ok := v.Addr().Interface().(scalar); ok {
		if n.Kind != yaml.ScalarNode {
			d.add(n, path, "expected a single value, got %s", kindName(n))
			return
		}
		if err := sc.parseScalar(n.Value); err != nil {
			d.add(n, path, "%s", err.Error())
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if _, one := v.Addr().Interface().(oneOrMany); one && n.Kind == yaml.ScalarNode {
			// A single value where a list is allowed: a list of one.
			s := reflect.MakeSlice(v.Type(), 1, 1)
			d.decode(n, s.Index(0), path)
			v.Set(s)
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.add(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.add(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.add(k, path, "keys must be plain strings")
				continue
			}
			if d.duplicate(seen, k, path+"."+k.Value) {
				continue
			}
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, path+"."+k.Value)
			m.SetMapIndex(reflect.ValueOf(k.Value), ev)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.add(n, path, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!str") {
			d.add(n, path, "expected a whole number, got %s", kindName(n))
			return
		}
		i, err := strconv.Atoi(n.Value)
		if err != nil {
			d.add(n, path, "expected a whole number, got %q", n.Value)
			return
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.add(n, path, "expected a number, got %s", kindName(n))
			return
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		if nonFinite(n.Value) || (err == nil && (math.IsNaN(f) || math.IsInf(f, 0))) {
			d.add(n, path, "must be a finite number, got %q", n.Value)
			return
		}
		if err != nil {
			d.add(n, path, "expected a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.add(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(n.Value == "true")
	default:
		d.add(n, path, "internal: cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := map[string]int{}
	var names []string
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		names = append(names, tag)
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if d.duplicate(seen, k, join(path, k.Value)) {
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			d.add(k, join(path, k.Value), "%s", unknownField(k.Value, names))
			continue
		}
		d.decode(val, v.Field(idx), join(path, k.Value))
	}
}

// duplicate reports a key written twice in one mapping (YAML decoders keep
// the last one silently: "replicas: 2" then "replicas: 400" planned 400
// starts). The second one is a problem naming where the first is.
func (d *decoder) duplicate(seen map[string]*yaml.Node, k *yaml.Node, field string) bool {
	if first, dup := seen[k.Value]; dup {
		d.add(k, field, "duplicate key %q (first at line %d, column %d): a key is written once", k.Value, first.Line, first.Column)
		return true
	}
	seen[k.Value] = k
	return false
}
