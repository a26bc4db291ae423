package plan

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// gcSpec is host-wide (scope: host): the rules of keep-N, dangling and
// exclusion over every image; TestGCProjectScope has the default scope.
const gcSpec = `
project: shop
gc: {grace: 1h, keep_images: 4, exclude: [keep=true], scope: host}
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
			gc := strings.TrimSuffix(c.gc, "}") + ", scope: host}"
			in := gcIn(t, "project: shop\ngc: "+gc+"\napps:\n  - {name: web, image: \"web:3\"}\n")
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

// TestGCProjectScope: by default gc removes only this project's images —
// of a repository the spec names, used by one of its containers, or in the
// memory of past project-scope passes — and counts keep-N among those:
// another project's images stay whatever their number.
func TestGCProjectScope(t *testing.T) {
	in := gcIn(t, "project: shop\ngc: {grace: 1h, keep_images: 1, exclude: [keep=true]}\napps:\n  - {name: web, image: \"web:3\"}\n")
	in.Images = append(in.Images,
		img("j7", 100*time.Hour, "base:2"),  // used by this project's running container
		img("j1", 5*time.Hour),              // dangling, remembered as this project's
		img("j2", 200*time.Hour, "base:1"),  // used by this project's removed container
		img("j3", 300*time.Hour, "base:0"),  // another's, same repository, unused
		img("j4", 400*time.Hour, "web:0"),   // the spec's repository: this project's
		img("j5", 500*time.Hour, "web:old"), // ditto
		img("j6", 600*time.Hour, "webx:1"),  // a repository the spec does not name
	)
	in.Containers = append(in.Containers, fleet.Container{ID: "gone", Name: "gone", State: "exited", ImageID: "j2",
		Created: t0.Add(-48 * time.Hour), Labels: map[string]string{fleet.LabelProject: "shop"}},
		fleet.Container{ID: "base", Name: "base", State: "running", ImageID: "j7", Labels: map[string]string{fleet.LabelProject: "shop"}})
	in.Exits["gone"] = fleet.Exit{State: "exited", FinishedAt: t0.Add(-5 * time.Hour)}
	in.LastUsed["j1"] = t0.Add(-4 * time.Hour)
	p := GC(in, t0)
	got := names(p)
	for _, want := range []string{"image:j1", "image:base:1", "image:web:0", "image:web:old", "image:web:2", "image:web:4", "image:web:5"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %s in %s", want, got)
		}
	}
	for _, not := range []string{"image:i8", "image:other:", "image:base:0", "image:base:2", "image:webx:1", "image:pinned"} {
		if strings.Contains(got, not) {
			t.Errorf("%s is not this project's image: %s", not, got)
		}
	}
	if _, ok := p.LastUsed["i7"]; ok {
		t.Error("the memory of the project scope holds another project's image")
	}
	if !p.LastUsed["i3"].Equal(t0) || !p.LastUsed["i1"].Equal(t0) {
		t.Error("this project's images in use must be stamped now")
	}
	host := gcIn(t, "project: shop\ngc: {grace: 1h, keep_images: 4, exclude: [keep=true], scope: host}\napps:\n  - {name: web, image: \"web:3\"}\n")
	if got := names(GC(host, t0)); !strings.Contains(got, "image:i8") {
		t.Errorf("scope host removes any dangling image: %s", got)
	}
}

// TestGCComparesImagesNotSpellings: whatever spelling the spec or a Swarm
// service uses (registry, library/, :latest, digest, ID), the image it
// names is in use.
func TestGCComparesImagesNotSpellings(t *testing.T) {
	const d = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
	const id = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
	for _, c := range []struct {
		spec, service string
		image         fleet.Image
	}{
		{spec: "docker.io/team/app:1", image: img("a1", time.Hour, "team/app:1")},
		{spec: "docker.io/library/web:1", image: img("a2", time.Hour, "web:1")},
		{spec: "library/web:1", image: img("a2", time.Hour, "web:1")},
		{spec: "web", image: img("a3", time.Hour, "web:latest")},
		{spec: "team/app@" + d, image: fleet.Image{ID: "a4", Digests: []string{"team/app@" + d}, Created: t0.Add(-time.Hour)}},
		{spec: "team/app:9@" + d, image: fleet.Image{ID: "a5", Tags: []string{"team/app:7"}, Digests: []string{"docker.io/team/app@" + d}, Created: t0.Add(-time.Hour)}},
		{spec: id, image: img(id, time.Hour, "team/app:3")},
		{spec: "x:1", service: "docker.io/team/app:1@" + d, image: fleet.Image{ID: "a6", Tags: []string{"team/app:1"}, Created: t0.Add(-time.Hour)}},
	} {
		yaml := "project: shop\ngc: {grace: 0s, keep_images: 1, scope: host}\napps:\n  - {name: web, image: \"" + c.spec + "\"}\n"
		in := GCInput{Spec: testSpec(t, yaml), ServiceImages: []string{c.service}, LastUsed: map[string]time.Time{},
			Images: []fleet.Image{c.image, img("newer", time.Minute, "team/app:99", "web:99")}}
		p := GC(in, t0)
		for _, it := range p.Remove {
			if it.ID == c.image.ID {
				t.Errorf("spec %q, service %q: removed %s, which they name", c.spec, c.service, it.Name)
			}
		}
	}
}

// TestGCKeepsTheDataOfASlotThatIsDown: the newest exited container of a
// replica slot the spec still wants, with nothing running there, holds
// the slot's anonymous volume (the next start carries it), so gc keeps it
// and with it the volume, past any grace; once a replica runs in the slot
// again, or the slot is no longer wanted, or the container has no such
// volume, it goes as any other.
func TestGCKeepsTheDataOfASlotThatIsDown(t *testing.T) {
	vol := strings.Repeat("e", 64)
	mk := func(id string, replica int, state string, withVol bool) fleet.Container {
		c := fleet.Container{ID: id, Name: "shop-db-" + id, App: "db", Replica: replica, State: state, Created: t0.Add(-48 * time.Hour),
			Labels: map[string]string{fleet.LabelProject: "shop", fleet.LabelApp: "db"}}
		if withVol {
			c.Mounts = []fleet.Mount{{Type: "volume", Name: vol, Target: "/data"}}
			c.Volumes = []string{vol}
		}
		return c
	}
	s := testSpec(t, "project: shop\ngc: {grace: 0s}\napps:\n  - {name: db, image: \"db:1\", replicas: 1}\n")
	volumes := []fleet.Volume{{Name: vol, Labels: map[string]string{fleet.LabelProject: "shop"}, Created: t0.Add(-48 * time.Hour)}}
	for _, c := range []struct {
		name       string
		containers []fleet.Container
		want       string
	}{
		{"the slot is down: its exited container and volume stay", []fleet.Container{mk("x0", 0, "exited", true)}, ""},
		{"an older exited one of the slot goes, the newest stays", []fleet.Container{mk("x0", 0, "exited", true), func() fleet.Container {
			c := mk("x9", 0, "exited", false)
			c.Created = t0.Add(-72 * time.Hour)
			return c
		}()}, "container:shop-db-x9"},
		{"a replica runs in the slot again: the exited one and its orphaned volume go", []fleet.Container{mk("x0", 0, "exited", true), mk("r0", 0, "running", false)}, "container:shop-db-x0 volume:eeeeeeeeeeee"},
		{"a slot beyond the replicas is not wanted", []fleet.Container{mk("x1", 1, "exited", true)}, "container:shop-db-x1 volume:eeeeeeeeeeee"},
		{"no anonymous volume: nothing to hold", []fleet.Container{mk("x0", 0, "exited", false)}, "container:shop-db-x0 volume:eeeeeeeeeeee"},
	} {
		got := names(GC(GCInput{Spec: s, Containers: c.containers, Volumes: volumes}, t0))
		if got != c.want {
			t.Errorf("%s: removes %q, want %q", c.name, got, c.want)
		}
	}
}
