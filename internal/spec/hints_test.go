package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestUnknownFieldSuggestsTheClosestKnownOne(t *testing.T) {
	cases := []struct {
		yaml, want string
	}{
		{"apps:\n  - {name: web, image: x:1, replicaz: 3}\n", `apps[0].replicaz: unknown field; did you mean "replicas"?`},
		{"apps:\n  - {name: web, image: x:1, imgae: y}\n", `apps[0].imgae: unknown field; did you mean "image"?`},
		{"apps:\n  - {name: web, image: x:1, stop-grace: 1s}\n", `apps[0].stop-grace: unknown field; did you mean "stop_grace"?`},
		{"projcet: x\n", `projcet: unknown field; did you mean "project"?`},
		{"apps:\n  - {name: web, image: x:1, health: {tyep: tcp}}\n", `apps[0].health.tyep: unknown field; did you mean "type"?`},
		// Nothing close: the known fields are listed.
		{"apps:\n  - {name: web, image: x:1, colour: red}\n", "apps[0].colour: unknown field (known: name, engine, image"},
	}
	for _, c := range cases {
		_, err := Parse("baton.yaml", []byte(c.yaml))
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.yaml, err, c.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"replicaz", "replicas", 1}, {"imgae", "image", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
