package plan

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

const gcSpec = `
project: shop
gc: {grace: 1h, keep_images: 4, exclude: [keep=true]}
apps:
  - {name: web, image: "web:3"}
`

func img(id string, age time.Duration, tags ...string) fleet.Image {
	return fleet.Image{ID: id, Tags: tags, Created: t0.Add(-age), Size: 100}
}

func gcIn(t *testing.T, yaml string) GCInput {
	s := testSpec(t, yaml)
	return GCInput{
		Spec: s,
		Containers: []fleet.Container{
			{ID: "run", Name: "running", State: "running", ImageID: "i1", Labels: map[string]string{fleet.LabelProject: "shop"}},
			{ID: "old", Name: "old-exit", State: "exited", ImageID: "i2", Created: t0.Add(-48 * time.Hour), Labels: map[string]string{fleet.LabelProject: "shop"}},
			{ID: "new", Name: "new-exit", State: "exited", ImageID: "i6", Created: t0.Add(-48 * time.Hour), Labels: map[string]string{fleet.LabelProject: "shop"}},
			{ID: "kept", Name: "kept-exit", State: "exited", ImageID: "i6", Created: t0.Add(-48 * time.Hour), Labels: map[string]string{fleet.LabelProject: "shop", "keep": "true"}},
			{ID: "other", Name: "not-ours", State: "exited", ImageID: "i7", Created: t0.Add(-48 * time.Hour), Volumes: []string{"named-used"}},
		},
		// old finished 2h ago; new finished 10 minutes ago although created 48h ago.
		Exits: map[string]fleet.Exit{
			"old": {State: "exited", FinishedAt: t0.Add(-2 * time.Hour)},
			"new": {State: "exited", FinishedAt: t0.Add(-10 * time.Minute)},
		},
		Images: []fleet.Image{
			img("i1", 90*time.Hour, "web:1"), // used by a running container
			img("i2", 80*time.Hour, "web:2"), // used only by the container gc removes
			img("i3", 70*time.Hour, "web:3"), // named in the spec
			img("i4", 60*time.Hour, "web:4"),
			img("i5", 50*time.Hour, "web:5"),
			img("i6", 40*time.Hour, "web:6"),   // used by stopped containers
			img("i7", 30*time.Hour, "other:1"), // used by a stopped container of another project
			img("i8", 20*time.Hour),            // dangling
			img("i9", 10*time.Minute),          // dangling, inside the grace
			{ID: "i10", Tags: []string{"pinned:1"}, Labels: map[string]string{"keep": "true"}}, // excluded
			img("i11", 100*time.Hour, "other:0"),
			img("i12", 110*time.Hour, "other:-1"),
		},
		Volumes: []fleet.Volume{
			{Name: strings.Repeat("a", 64)},
			{Name: "named-orphan"},
			{Name: "named-used"},
		},
		LastUsed: map[string]time.Time{"i4": t0.Add(-time.Minute)}, // web:4 was in use a minute ago
	}
}

func names(p GCPlan) string {
	var out []string
	for _, it := range p.Remove {
		out = append(out, it.Kind+":"+it.Name)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestGC(t *testing.T) {
	in := gcIn(t, gcSpec)
	p := GC(in, t0)
	want := "container:old-exit image:i8 image:web:2 image:web:5 volume:aaaaaaaaaaaa"
	if got := names(p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, it := range p.Remove {
		if it.Reason == "" {
			t.Errorf("%s has no reason", it.Name)
		}
	}
	// Last use: everything in use is stamped now; remembered times are kept.
	for _, id := range []string{"i1", "i3", "i6", "i7"} {
		if !p.LastUsed[id].Equal(t0) {
			t.Errorf("%s in use but last use %v", id, p.LastUsed[id])
		}
	}
	if !p.LastUsed["i4"].Equal(t0.Add(-time.Minute)) {
		t.Error("the remembered last use of web:4 was lost")
	}
}

func TestGCKeepsTheMostRecentlyUsedNotTheNewest(t *testing.T) {
	// keep_images 4 over web:1..6: in use now are 1 (running), 3 (spec) and
	// 6 (stopped containers); they take three of the four places and are
	// never removed anyway. Of the rest, web:4 was used a minute ago, so it
	// takes the last place before the newer web:5.
	in := gcIn(t, gcSpec)
	p := GC(in, t0)
	got := names(p)
	if strings.Contains(got, "web:4") || !strings.Contains(got, "web:5") {
		t.Errorf("keep-N must count from last use: %s", got)
	}
}

func TestGCSecondPassIsANoop(t *testing.T) {
	in := gcIn(t, gcSpec)
	p := GC(in, t0)
	gone := map[string]bool{}
	for _, it := range p.Remove {
		gone[it.ID] = true
	}
	next := in
	next.Containers, next.Images, next.Volumes = nil, nil, nil
	for _, c := range in.Containers {
		if !gone[c.ID] {
			next.Containers = append(next.Containers, c)
		}
	}
	for _, i := range in.Images {
		if !gone[i.ID] {
			next.Images = append(next.Images, i)
		}
	}
	for _, v := range in.Volumes {
		if !gone[v.Name] {
			next.Volumes = append(next.Volumes, v)
		}
	}
	next.LastUsed = p.LastUsed
	if again := GC(next, t0.Add(time.Second)); len(again.Remove) != 0 {
		t.Errorf("second pass removes %s", names(again))
	}
}

func TestGCOptions(t *testing.T) {
	cases := []struct {
		name, gc    string
		has, hasNot []string
	}{
		{"all_containers reaches other projects' containers", "{grace: 1h, all_containers: true}", []string{"container:not-ours"}, nil},
		{"volumes all removes named orphans, never a mounted one", "{grace: 1h, volumes: all}", []string{"volume:named-orphan"}, []string{"volume:named-used"}},
		{"volumes none keeps every volume", "{grace: 1h, volumes: none}", nil, []string{"volume:"}},
		{"keep_images 0 removes no tagged image", "{grace: 1h, keep_images: 0}", []string{"image:i8"}, []string{"image:web"}},
		{"dangling false keeps untagged images", "{grace: 1h, dangling: false}", nil, []string{"image:i8"}},
		{"a long grace keeps the container that finished 2h ago", "{grace: 3h, exclude: [keep]}", nil, []string{"container:"}},
		{"keep_images 1 leaves the in-use images and removes every other", "{grace: 1h, keep_images: 1}", []string{"image:web:4", "image:web:5", "image:other:0"}, []string{"image:web:1", "image:web:3", "image:web:6", "image:other:1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := gcIn(t, "project: shop\ngc: "+c.gc+"\napps:\n  - {name: web, image: \"web:3\"}\n")
			got := names(GC(in, t0))
			for _, h := range c.has {
				if !strings.Contains(got, h) {
					t.Errorf("want %s in %s", h, got)
				}
			}
			for _, h := range c.hasNot {
				if strings.Contains(got, h) {
					t.Errorf("want no %s in %s", h, got)
				}
			}
		})
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{"web": "web:latest", "web:1": "web:1", "host:5000/web": "host:5000/web:latest",
		"host:5000/web:2": "host:5000/web:2", "web:1@sha256:abc": "web:1"} {
		if got := normalizeRef(in); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
}
