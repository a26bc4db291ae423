package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: the decoder never panics, and a spec it accepts has only
// names, hosts and paths from their closed alphabets.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"../../testdata/specs/good", "../../testdata/specs/bad", "../../testdata/demo"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, a := range s.Apps {
			if !nameRe.MatchString(a.Name) {
				t.Fatalf("accepted name %q", a.Name)
			}
			if a.LB != nil && (strings.ContainsAny(strings.Join(a.LB.Host, ",")+a.LB.Path, " ;{}\n\r\t'\"\\$") || !strings.HasPrefix(a.LB.Path, "/")) {
				t.Fatalf("accepted host %q path %q", a.LB.Host, a.LB.Path)
			}
		}
		if s.Nginx != nil && strings.ContainsAny(s.Nginx.Listen, " ;{}\n") {
			t.Fatalf("accepted listen %q", s.Nginx.Listen)
		}
	})
}
