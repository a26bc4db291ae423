package plan

import (
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// TestReplaceReasonNamesTheFieldsThatChanged: a container made from one
// spec, then the spec edited: the replace step names each changed field,
// from the record the container carries.
func TestReplaceReasonNamesTheFieldsThatChanged(t *testing.T) {
	const before = `
apps:
  - name: web
    image: web:1
    port: 8080
    env: {GREETING: hello, DB_PASSWORD: hunter2, KEEP: same}
    resources: {memory: 32m}
    labels: {team: shop}
`
	made := func(yaml string) fleet.Container {
		s := testSpec(t, yaml)
		w := Want(s, s.Apps[0], 0, "aaaaaa")
		labels := map[string]string{fleet.LabelSpec: w.Record, fleet.LabelPort: "8080"}
		for k, v := range w.Labels {
			labels[k] = v
		}
		return fleet.Container{ID: "c1", Name: w.Name, App: "web", Replica: 0, Hash: w.Hash, Image: w.Image, State: "running", Labels: labels}
	}
	old := made(before)
	if strings.Contains(old.Labels[fleet.LabelSpec], "hunter2") {
		t.Fatalf("the record label holds a secret's value: %s", old.Labels[fleet.LabelSpec])
	}
	cases := []struct {
		name, after, want string
	}{
		{"an env value and the memory limit", strings.NewReplacer("GREETING: hello", "GREETING: hi", "32m", "64m").Replace(before),
			"env.GREETING: hello → hi, resources.memory: 32m → 64m"},
		{"the image, an added and a removed variable", strings.NewReplacer("web:1", "web:2", "KEEP: same", "NEW: x").Replace(before),
			"image web:1 → web:2, -env.KEEP (was same), +env.NEW: x"},
		{"a secret's value is never shown", strings.Replace(before, "hunter2", "hunter3", 1),
			"env.DB_PASSWORD: changed (value hidden)"},
		{"a label, a command", strings.Replace(before, "team: shop", "team: web", 1) + "    command: [/app, --fast]\n",
			`+command: ["/app","--fast"], labels.team: shop → web`},
		{"a spelling of the same image is no change", strings.Replace(before, "web:1", "docker.io/library/web:1", 1) + "    args: [x]\n",
			`+args: ["x"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testSpec(t, c.after)
			acts := Scale(s, Desired(s, nil, nil), []fleet.Container{old}, map[string]bool{"c1": true})
			if len(acts) != 1 || acts[0].Kind != Replace {
				t.Fatalf("actions %+v", acts)
			}
			if acts[0].Reason != c.want {
				t.Errorf("reason %q, want %q", acts[0].Reason, c.want)
			}
		})
	}
	// Many changes: the first six, then how many more.
	many := strings.Replace(before, "env: {GREETING: hello, DB_PASSWORD: hunter2, KEEP: same}", "env: {A: 1, B: 2, C: 3, D: 4, E: 5, F: 6, G: 7}", 1)
	s := testSpec(t, many)
	acts := Scale(s, Desired(s, nil, nil), []fleet.Container{old}, map[string]bool{"c1": true})
	if r := acts[0].Reason; !strings.HasSuffix(r, "and 4 more") || strings.Count(r, ", ") != 6 {
		t.Errorf("many changes: %q", r)
	}
}

// TestReplaceReasonWithoutARecord: a container from before records shows
// what its list entry tells.
func TestReplaceReasonWithoutARecord(t *testing.T) {
	s := testSpec(t, "apps:\n  - {name: web, image: \"web:2\", port: 8080, labels: {team: web}}\n")
	old := fleet.Container{ID: "c1", Name: "baton-web-0-a", App: "web", Replica: 0, Hash: "0123456789ab", Image: "web:1", State: "running",
		Labels: map[string]string{"team": "shop", fleet.LabelPort: "8080", fleet.LabelApp: "web"}}
	acts := Scale(s, Desired(s, nil, nil), []fleet.Container{old}, nil)
	if want := "image web:1 → web:2, labels.team: shop → web"; acts[0].Reason != want {
		t.Errorf("reason %q, want %q", acts[0].Reason, want)
	}
	old.Image, old.Labels["team"] = "web:2", "web"
	acts = Scale(s, Desired(s, nil, nil), []fleet.Container{old}, nil)
	if !strings.HasPrefix(acts[0].Reason, "container spec changed (0123456789ab → ") || !strings.Contains(acts[0].Reason, "predates field records") {
		t.Errorf("reason %q", acts[0].Reason)
	}
}

func TestFormatUnits(t *testing.T) {
	for in, want := range map[int64]string{32 << 20: "32m", 1 << 30: "1g", 1536 << 10: "1536k", 1000: "1000"} {
		if got := spec.FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int64]string{500: "500m", 2000: "2", 1500: "1500m"} {
		if got := spec.FormatCPU(in); got != want {
			t.Errorf("FormatCPU(%d) = %q, want %q", in, got, want)
		}
	}
}
