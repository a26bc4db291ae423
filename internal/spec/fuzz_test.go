package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: the decoder never panics, and a spec it accepts has only
// names, hosts and URL paths from their closed alphabets and file paths a
// quote carries.
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
		if s.Nginx != nil && strings.ContainsAny(s.Nginx.Listen+s.Nginx.ListenTLS, " ;{}\n") {
			t.Fatalf("accepted listen %q / %q", s.Nginx.Listen, s.Nginx.ListenTLS)
		}
		// Every path that reaches a config, as the render resolves it, is
		// one a quote carries (templates/fuzz_test.go renders and runs the
		// balancer's own check on accepted specs).
		var paths []string
		if s.Nginx != nil {
			paths = append(paths, s.Resolve(s.Nginx.AccessLog))
		}
		for _, a := range s.Apps {
			if a.LB == nil {
				continue
			}
			for _, h := range a.LB.HostNames() {
				c, k := s.TLSFiles(a.LB, h)
				paths = append(paths, c, k)
			}
		}
		for _, p := range paths {
			if err := CheckConfigPath(p); err != nil {
				t.Fatalf("accepted a spec whose config would name %q: %v", p, err)
			}
		}
	})
}
