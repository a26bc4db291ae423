package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestBadSpecs loads every fixture under testdata/specs/bad. Each names
// the problems it must produce in "# want: ..." lines (substrings of a
// problem, after the file name); no other problem may appear and no spec
// may be returned.
func TestBadSpecs(t *testing.T) {
	files, err := filepath.Glob("../../testdata/specs/bad/*.yaml")
	if err != nil || len(files) < 15 {
		t.Fatalf("want at least 15 bad-spec fixtures, got %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, w)
				}
			}
			if len(wants) == 0 {
				t.Fatal("fixture has no # want: line")
			}
			s, err := Parse(f, data)
			if s != nil {
				t.Fatal("a bad spec must not be returned")
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("want *spec.Error, got %T %v", err, err)
			}
			if len(se.Problems) != len(wants) {
				t.Errorf("want %d problems, got %d:\n%v", len(wants), len(se.Problems), err)
			}
			for _, w := range wants {
				found := false
				for _, p := range se.Problems {
					if strings.HasPrefix(p.String(), f+":") && strings.Contains(p.String(), w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem contains %q; got:\n%v", w, err)
				}
			}
		})
	}
}

func TestGoodSpecsLoad(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/specs/good/*.yaml")
	demo, _ := filepath.Glob("../../testdata/demo/*.yaml")
	files = append(files, demo...)
	if len(files) == 0 {
		t.Fatal("no good specs found")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse("t.yaml", []byte(`
nginx: {config: c.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: "127.0.0.1:80"}
apps:
  - name: web
    image: x:1
    port: 8080
    lb: {}
  - name: worker
    image: y:1
    drain: 0s
`))
	if err != nil {
		t.Fatal(err)
	}
	web, worker := s.App("web"), s.App("worker")
	checks := []struct {
		name      string
		got, want any
	}{
		{"project", s.Project, "baton"},
		{"publish ip", s.Docker.PublishIP, "127.0.0.1"},
		{"replicas", *web.Replicas, 1},
		{"pull", web.Pull, "missing"},
		{"method", web.LB.Method, "round_robin"},
		{"path", web.LB.Path, "/"},
		{"health type with a port", web.Health.Type, "tcp"},
		{"health type without a port", worker.Health.Type, "none"},
		{"explicit zero drain kept", worker.Drain.D, time.Duration(0)},
		{"default drain", web.Drain.D, DefaultDrain},
		{"failure threshold", web.Health.FailureThreshold, 3},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestUnits(t *testing.T) {
	sizes := map[string]int64{"512m": 512 << 20, "1g": 1 << 30, "64k": 64 << 10, "1048576": 1 << 20, "10Mi": 10 << 20}
	for in, want := range sizes {
		var z Size
		if err := z.parseScalar(in); err != nil || z.Bytes != want {
			t.Errorf("size %q: got %d, %v; want %d", in, z.Bytes, err, want)
		}
	}
	cpus := map[string]int64{"500m": 500, "0.5": 500, "2": 2000, "1.25": 1250}
	for in, want := range cpus {
		var c MilliCPU
		if err := c.parseScalar(in); err != nil || c.Milli != want {
			t.Errorf("cpu %q: got %d, %v; want %d", in, c.Milli, err, want)
		}
	}
	for _, bad := range []string{"", "m", "-5m", "0", "abc"} {
		var c MilliCPU
		if err := c.parseScalar(bad); err == nil {
			t.Errorf("cpu %q: want an error", bad)
		}
	}
}

func TestHashIgnoresReplicasAndLB(t *testing.T) {
	one, two := 1, 2
	a := &App{Name: "web", Image: "x:1", Replicas: &one, Env: map[string]string{"A": "1", "B": "2"}}
	b := &App{Name: "web", Image: "x:1", Replicas: &two, LB: &LB{Path: "/x"}, Env: map[string]string{"B": "2", "A": "1"}}
	if a.Hash("") != b.Hash("") {
		t.Error("replicas, lb and env order must not change the hash")
	}
	c := *a
	c.Image = "x:2"
	if a.Hash("") == c.Hash("") {
		t.Error("a new image must change the hash")
	}
	if a.Hash("") == a.Hash("net") {
		t.Error("the network must change the hash")
	}
}

func TestAliasBombIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("want an error")
	}
}

// TestReferenceNamesEveryField keeps docs/spec.md in step with the types:
// every YAML field of every spec type must appear in it as `field`.
func TestReferenceNamesEveryField(t *testing.T) {
	doc, err := os.ReadFile("../../docs/spec.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(tp reflect.Type) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || seen[tp] {
			return
		}
		seen[tp] = true
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "" || tag == "-" {
				continue
			}
			if !strings.Contains(string(doc), "`"+tag+"`") {
				t.Errorf("docs/spec.md does not document field %q of %s", tag, tp.Name())
			}
			if _, isScalar := reflect.New(f.Type).Interface().(scalar); !isScalar {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(Spec{}))
}

// TestHashComparesImagesNotSpellings: spellings of one image hash alike;
// a spec already written in the familiar form with a tag keeps the hash it
// had before normalization (pinned below: the values of 88cf9b6, the hash
// with the stack fields), so normalization rolls nothing there.
func TestHashComparesImagesNotSpellings(t *testing.T) {
	hash := func(img string) string {
		t.Helper()
		s, err := Parse("x.yaml", []byte("apps:\n  - name: web\n    image: "+img+"\n    port: 8080\n    env: {A: b}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return s.Apps[0].Hash("")
	}
	for img, want := range map[string]string{
		"team/app:1":                     "4b4fa78166a0",
		"registry.example.com/web:1.4.2": "1f546f41ec9b",
		"baton-test:v1":                  "268150a80900",
	} {
		if got := hash(img); got != want {
			t.Errorf("%s: hash %s, want %s as before normalization", img, got, want)
		}
	}
	for _, same := range [][]string{
		{"team/app:1", "docker.io/team/app:1", "index.docker.io/team/app:1"},
		{"nginx", "nginx:latest", "library/nginx", "docker.io/library/nginx:latest"},
	} {
		for _, img := range same[1:] {
			if hash(img) != hash(same[0]) {
				t.Errorf("%s and %s hash differently", img, same[0])
			}
		}
	}
	if hash("team/app:1") == hash("team/app:2") {
		t.Error("different tags must hash differently")
	}
}

func TestImageReferencesDockerRefusesAreProblems(t *testing.T) {
	for _, img := range []string{"Team/App:1", "app:", "app@sha256:abc"} {
		_, err := Parse("x.yaml", []byte("apps:\n  - name: web\n    image: \""+img+"\"\n"))
		if err == nil || !strings.Contains(err.Error(), "x.yaml:3:12: apps[0].image") {
			t.Errorf("%s: want a problem at the image, got %v", img, err)
		}
	}
}
