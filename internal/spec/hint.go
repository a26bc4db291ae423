// Hints for typos: the known field closest to an unknown one.

package spec

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// nonFinite recognizes YAML's spellings of NaN and infinity (.nan, .inf,
// -.Inf, ...), which strconv does not parse.
func nonFinite(v string) bool {
	switch strings.ToLower(strings.TrimLeft(v, "+-")) {
	case ".nan", ".inf", "nan", "inf", "infinity":
		return true
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!null":
			return "null"
		default:
			return fmt.Sprintf("%q", n.Value)
		}
	}
	return "something else"
}

// unknownField says a field is unknown and names the closest known one
// (a typo), or lists the known ones when none is close.
func unknownField(name string, known []string) string {
	if best := Closest(name, known); best != "" {
		return fmt.Sprintf("unknown field; did you mean %q?", best)
	}
	return fmt.Sprintf("unknown field (known: %s)", strings.Join(known, ", "))
}

// Closest is the one of known that name is a typo of, or "" when none is
// close: at most one edit in four letters (and at most 3), or name
// spelled with '-' where known has '_'. The CLI names subcommands so too.
func Closest(name string, known []string) string {
	best, bestD := "", 0
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); best == "" || d < bestD {
			best, bestD = k, d
		}
	}
	limit := min(3, max(1, len(best)/4))
	if best != "" && (bestD <= limit || strings.ReplaceAll(name, "-", "_") == best) {
		return best
	}
	return ""
}

// editDistance is the Damerau–Levenshtein distance (optimal string
// alignment) between a and b: insertions, deletions, substitutions and
// swaps of two neighbours each count one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
