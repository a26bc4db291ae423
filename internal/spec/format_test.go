package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestFormatRoundTrips: every good spec, written by Format and read back,
// is the same spec.
func TestFormatRoundTrips(t *testing.T) {
	for _, name := range []string{"stack.yaml", "full.yaml", "swarm.yaml"} {
		f := filepath.Join("../../testdata/specs/good", name)
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := Parse(f, data)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Format(parseRaw(t, f, data), "# written by Format")
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(f, out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			// Written defaults come back as set, and positions differ:
			// compare without them.
			back.Path = orig.Path
			back.meta, orig.meta = nil, nil
			clearSet(reflect.ValueOf(back))
			clearSet(reflect.ValueOf(orig))
			if !reflect.DeepEqual(back, orig) {
				t.Errorf("round trip differs:\n%s", out)
			}
			if !strings.HasPrefix(string(out), "# written by Format\n") {
				t.Errorf("no header:\n%s", out)
			}
		})
	}
}

// clearSet clears every Duration's Set flag under v.
func clearSet(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			clearSet(v.Elem())
		}
	case reflect.Struct:
		if d, ok := v.Addr().Interface().(*Duration); ok {
			d.Set = false
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				clearSet(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			clearSet(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := v.MapIndex(k)
			if e.Kind() == reflect.Pointer {
				clearSet(e)
			}
		}
	}
}

// parseRaw decodes a spec without validation or defaults, as the importer
// builds one.
func parseRaw(t *testing.T, path string, data []byte) *Spec {
	t.Helper()
	s, err := Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFormatUnits(t *testing.T) {
	five := 0
	s := &Spec{Project: "p", Apps: []*App{{Name: "a", Image: "x", Replicas: &five,
		StopGrace: Duration{D: 90e9, Set: true}, Drain: Duration{Set: true},
		Resources: Resources{Memory: Size{Bytes: 512 << 20}, CPU: MilliCPU{Milli: 1500}}}},
		Volumes: map[string]*Volume{"data": nil}}
	out, err := Format(s, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"replicas: 0", "stop_grace: 1m30s", "drain: 0s", "memory: 512m", "cpu: 1500m", "data: {}"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Index(string(out), "volumes:") > strings.Index(string(out), "apps:") {
		t.Errorf("volumes come before apps:\n%s", out)
	}
}
