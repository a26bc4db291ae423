package spec

// format.go writes a Spec as YAML (for `baton import compose`): only the
// fields that are set, in the order of the types, lists of plain values
// in flow style, map keys sorted. What it writes, Parse reads back into
// the same spec.

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// topOrder is the order of the top-level fields in a written spec: the
// stack's networks and volumes before the apps that use them.
var topOrder = []string{"project", "docker", "nginx", "networks", "volumes", "apps", "hooks", "gc", "mods", "swarm"}

// formattable is a scalar type Format can write back.
type formattable interface{ formatScalar() (string, bool) }

func (d Duration) formatScalar() (string, bool) {
	return formatDuration(d), d.Set || d.D != 0
}
func (z Size) formatScalar() (string, bool) { return formatSize(z.Bytes), z.Bytes != 0 }
func (p Percent) formatScalar() (string, bool) {
	return strconv.FormatFloat(p.Fraction*100, 'f', -1, 64) + "%", p.Fraction != 0
}
func (c MilliCPU) formatScalar() (string, bool) {
	if c.Milli%1000 == 0 {
		return strconv.FormatInt(c.Milli/1000, 10), c.Milli != 0
	}
	return strconv.FormatInt(c.Milli, 10) + "m", c.Milli != 0
}

// Format returns s as a YAML document, with header (may be empty) as its
// leading comment. A set field of a scalar type Format cannot write is an
// error.
func Format(s *Spec, header string) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(unformattable); ok {
				err = fmt.Errorf("format spec: %s", string(e))
				return
			}
			panic(r)
		}
	}()
	root := nodeOf(reflect.ValueOf(s).Elem())
	if root == nil {
		root = &yaml.Node{Kind: yaml.MappingNode}
	}
	// Reorder the top level.
	pairs := map[string][2]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		pairs[root.Content[i].Value] = [2]*yaml.Node{root.Content[i], root.Content[i+1]}
	}
	root.Content = nil
	for _, k := range topOrder {
		if p, ok := pairs[k]; ok {
			root.Content = append(root.Content, p[0], p[1])
		}
	}
	root.HeadComment = strings.TrimRight(header, "\n")
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("format spec: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("format spec: %w", err)
	}
	return buf.Bytes(), nil
}

func scalarNode(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

// unformattable is the panic value of nodeOf for a scalar type it cannot
// write.
type unformattable string

// nodeOf converts v; nil means "not set, leave it out".
func nodeOf(v reflect.Value) *yaml.Node {
	if f, ok := v.Interface().(formattable); ok {
		text, set := f.formatScalar()
		if !set {
			return nil
		}
		return scalarNode(text)
	}
	if v.Kind() == reflect.Struct && v.CanAddr() {
		if _, ok := v.Addr().Interface().(scalar); ok {
			if !v.IsZero() {
				panic(unformattable(fmt.Sprintf("cannot write a %s", v.Type())))
			}
			return nil
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		n := nodeOf(v.Elem())
		if n == nil {
			// A set pointer to an empty value is written: replicas: 0,
			// an empty volume entry {}.
			switch v.Elem().Kind() {
			case reflect.Struct:
				return &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			case reflect.Int:
				return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "0"}
			case reflect.Bool:
				return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"}
			}
		}
		return n
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			tag := t.Field(i).Tag.Get("yaml")
			if tag == "" || tag == "-" {
				continue
			}
			if c := nodeOf(v.Field(i)); c != nil {
				n.Content = append(n.Content, scalarNode(tag), c)
			}
		}
		if len(n.Content) == 0 {
			return nil
		}
		return n
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		n := &yaml.Node{Kind: yaml.SequenceNode}
		plain := true
		for i := 0; i < v.Len(); i++ {
			c := nodeOf(v.Index(i))
			if c == nil {
				c = &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			}
			if c.Kind != yaml.ScalarNode {
				plain = false
			}
			n.Content = append(n.Content, c)
		}
		if plain {
			n.Style = yaml.FlowStyle
		}
		return n
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range keys {
			c := nodeOf(v.MapIndex(reflect.ValueOf(k)))
			if c == nil {
				c = &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			}
			n.Content = append(n.Content, scalarNode(k), c)
		}
		return n
	case reflect.String:
		if v.String() == "" {
			return nil
		}
		return scalarNode(v.String())
	case reflect.Int:
		if v.Int() == 0 {
			return nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}
	case reflect.Float64:
		if v.Float() == 0 {
			return nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v.Float(), 'f', -1, 64)}
	case reflect.Bool:
		if !v.Bool() {
			return nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"}
	}
	return nil
}

func formatDuration(d Duration) string {
	s := d.D.String()
	// time.Duration prints 1m0s; the spec reads 1m as well.
	for _, z := range []string{"m0s", "h0m"} {
		if strings.HasSuffix(s, z) {
			s = strings.TrimSuffix(s, z[1:])
		}
	}
	return s
}

func formatSize(b int64) string {
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if b%u.m == 0 {
			return strconv.FormatInt(b/u.m, 10) + u.suffix
		}
	}
	return strconv.FormatInt(b, 10)
}
