package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/state"
)

func TestRefreshMods(t *testing.T) {
	s := testSpec(t, `
mods:
  dir: /cache
  interval: 1h
  files:
    - {url: "http://127.0.0.1/new", dest: new.jar}
    - {url: "http://127.0.0.1/fresh", dest: fresh.jar}
    - {url: "http://127.0.0.1/stale", dest: stale.jar}
    - {url: "http://127.0.0.1/fast", dest: fast.jar, interval: 1m}
    - {url: "http://127.0.0.1/moved2", dest: moved.jar}
    - {url: "http://127.0.0.1/gone", dest: deleted.jar}
    - {url: "http://127.0.0.1/sum", dest: sum.jar, sha256: "`+strings.Repeat("b", 64)+`"}
`)
	rec := func(url string, checked time.Duration) *state.Mod {
		return &state.Mod{URL: url, ETag: `"v1"`, SHA256: strings.Repeat("a", 64), CheckedAt: t0.Add(-checked)}
	}
	recorded := map[string]*state.Mod{
		"fresh.jar":   rec("http://127.0.0.1/fresh", 10*time.Minute),
		"stale.jar":   rec("http://127.0.0.1/stale", 2*time.Hour),
		"fast.jar":    rec("http://127.0.0.1/fast", 2*time.Minute),
		"moved.jar":   rec("http://127.0.0.1/moved1", time.Minute),
		"deleted.jar": rec("http://127.0.0.1/gone", time.Minute),
		"sum.jar":     rec("http://127.0.0.1/sum", time.Minute),
		"old.jar":     rec("http://127.0.0.1/old", time.Minute),
	}
	onDisk := map[string]ModFileObs{}
	for _, d := range []string{"fresh.jar", "stale.jar", "fast.jar", "moved.jar", "sum.jar", "old.jar", "mine.jar"} {
		onDisk[d] = ModFileObs{Exists: true}
	}
	got := map[string]ModAction{}
	for _, a := range RefreshMods(s.Mods, onDisk, recorded, t0) {
		got[a.Kind+" "+a.Dest] = a
	}
	want := map[string]bool{ // action → conditional
		"fetch new.jar": false, "fetch stale.jar": true, "fetch fast.jar": true, "fetch moved.jar": false,
		"fetch deleted.jar": false, "fetch sum.jar": false, "prune old.jar": false,
	}
	if len(got) != len(want) {
		t.Errorf("got %d actions, want %d: %v", len(got), len(want), got)
	}
	for k, cond := range want {
		a, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if a.Conditional != cond {
			t.Errorf("%s: conditional=%v, want %v", k, a.Conditional, cond)
		}
		if a.Reason == "" {
			t.Errorf("%s has no reason", k)
		}
	}
	if _, ok := got["prune mine.jar"]; ok {
		t.Error("a file baton did not download was pruned")
	}
}
