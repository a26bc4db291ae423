package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/imageref"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// GCInput is what a gc pass observed: every container on the host, the
// images, the volumes, the Swarm services' images, and from the state file
// when each image was last seen in use.
type GCInput struct {
	Spec          *spec.Spec
	Containers    []fleet.Container
	Exits         map[string]fleet.Exit // finish times of the stopped containers GCToInspect named
	Images        []fleet.Image
	Volumes       []fleet.Volume
	ServiceImages []string
	LastUsed      map[string]time.Time
}

// GCItem is one thing gc removes.
type GCItem struct {
	Kind   string // container, image or volume
	ID     string
	Name   string
	Refs   []string // for images: the references to remove (tags, or the ID)
	Size   int64    // for images: the image's size
	Reason string
}

// GCPlan is gc's decision: what to remove, and the image last-use times to
// remember.
type GCPlan struct {
	Remove   []GCItem
	LastUsed map[string]time.Time
}

func excluded(sel []string, labels map[string]string) (string, bool) {
	for _, s := range sel {
		k, v, hasValue := strings.Cut(s, "=")
		if got, ok := labels[k]; ok && (!hasValue || got == v) {
			return s, true
		}
	}
	return "", false
}

func stopped(c fleet.Container) bool {
	return c.State == "exited" || c.State == "dead" || c.State == "created"
}

func (in GCInput) inScope(c fleet.Container) bool {
	return in.Spec.GC.AllContainers || c.Labels[fleet.LabelProject] == in.Spec.Project
}

// GCToInspect names the stopped containers whose finish time gc needs (the
// list call does not carry it).
func GCToInspect(in GCInput) []fleet.Container {
	var out []fleet.Container
	for _, c := range in.Containers {
		if stopped(c) && in.inScope(c) {
			if _, ex := excluded(in.Spec.GC.Exclude, c.Labels); !ex {
				out = append(out, c)
			}
		}
	}
	return out
}

// GC decides a gc pass.
//
// Rules:
//   - a stopped container of this project (or any, with all_containers)
//     is removed once it finished at least grace ago — by its finish time,
//     not its creation (spotify/docker-gc) — but for a slot's holder: the
//     newest stopped container, with anonymous volumes, of a replica slot
//     the spec may want and nothing runs in (its next start carries those
//     volumes: removing the container would orphan the slot's data);
//   - an image is in use when a container that stays uses it (running or
//     stopped), a Swarm service or the spec names it (references compared
//     as images: registry, library/, :latest and digests normalized by
//     internal/imageref); an image in use is never removed;
//   - only images in scope are removed (see ours: this project's by
//     default, every image with gc.scope host); an image in scope that is
//     in use gets now as its last use;
//   - per repository the keep_images images in scope most recently used
//     (last use, or creation when never seen in use) are kept; the others
//     go;
//   - an untagged image in scope that nobody uses goes once created grace
//     ago;
//   - an orphan volume (mounted by no container that stays) goes when the
//     policy allows: anonymous only by default, and only this project's
//     (labelled baton.project by the start that made it) unless gc.scope
//     is host;
//   - anything with an excluded label stays.
//
// What this pass removes is left out of the in-use sets, so the pass after
// finds nothing more to do.
func GC(in GCInput, now time.Time) GCPlan {
	g := in.Spec.GC
	p := GCPlan{LastUsed: map[string]time.Time{}}
	removed := map[string]bool{}
	holders := in.slotHolders()
	for _, c := range in.Containers {
		if !stopped(c) || !in.inScope(c) || holders[c.ID] {
			continue
		}
		if _, ex := excluded(g.Exclude, c.Labels); ex {
			continue
		}
		finished := c.Created
		how := c.State
		if x, ok := in.Exits[c.ID]; ok && !x.FinishedAt.IsZero() {
			finished = x.FinishedAt
			how = x.String()
		}
		age := now.Sub(finished)
		if age < g.Grace.D {
			continue
		}
		removed[c.ID] = true
		p.Remove = append(p.Remove, GCItem{Kind: "container", ID: c.ID, Name: c.Name,
			Reason: fmt.Sprintf("%s %s ago (grace %s)", how, age.Round(time.Second), g.Grace.D)})
	}

	// Images in use: by any container that stays, a Swarm service or the
	// spec, compared as images (imageref keys), not spellings.
	inUse := map[string]string{} // image ID → why
	for _, c := range in.Containers {
		if !removed[c.ID] && c.ImageID != "" {
			inUse[c.ImageID] = "used by container " + c.Name
		}
	}
	named := map[string]string{} // imageref key → why
	name := func(ref, why string) {
		if r, err := imageref.Parse(ref); err == nil {
			for _, k := range r.Keys() {
				named[k] = why
			}
		}
	}
	for _, ref := range in.ServiceImages {
		name(ref, "named by a Swarm service")
	}
	for _, a := range in.Spec.Apps {
		name(a.Image, "named in the spec")
	}
	for _, img := range in.Images {
		for _, k := range imageKeys(img) {
			if why, ok := named[k]; ok {
				inUse[img.ID] = why
			}
		}
	}

	// Scope: which images this pass may remove at all.
	ours := in.ours()
	for _, img := range in.Images {
		if !ours[img.ID] {
			continue
		}
		if _, ok := inUse[img.ID]; ok {
			p.LastUsed[img.ID] = now.UTC()
		} else if t, ok := in.LastUsed[img.ID]; ok {
			p.LastUsed[img.ID] = t
		}
	}
	lastUse := func(img fleet.Image) time.Time {
		if t, ok := p.LastUsed[img.ID]; ok && t.After(img.Created) {
			return t
		}
		return img.Created
	}

	// Keep the most recently used per repository, among the images in scope.
	keep := *g.KeepImages
	kept := map[string]bool{}
	byRepo := map[string][]fleet.Image{}
	var repos []string
	for _, img := range in.Images {
		if !ours[img.ID] {
			continue
		}
		for _, r := range repositories(img) {
			if byRepo[r] == nil {
				repos = append(repos, r)
			}
			byRepo[r] = append(byRepo[r], img)
		}
	}
	sort.Strings(repos)
	what := "images"
	if g.Scope != ScopeHost {
		what = "images this project used"
	}
	repoOf := map[string]string{}
	for _, repo := range repos {
		imgs := byRepo[repo]
		sort.Slice(imgs, func(i, j int) bool {
			li, lj := lastUse(imgs[i]), lastUse(imgs[j])
			if !li.Equal(lj) {
				return li.After(lj)
			}
			return imgs[i].ID < imgs[j].ID
		})
		for i, img := range imgs {
			if i < keep || keep == 0 {
				kept[img.ID] = true
			} else if repoOf[img.ID] == "" {
				repoOf[img.ID] = fmt.Sprintf("repository %s has %d %s and keeps the %d most recently used", repo, len(imgs), what, keep)
			}
		}
	}
	for _, img := range in.Images {
		if _, used := inUse[img.ID]; used || !ours[img.ID] {
			continue
		}
		if _, ex := excluded(g.Exclude, img.Labels); ex {
			continue
		}
		switch {
		case len(img.Tags) == 0:
			age := now.Sub(img.Created)
			if !*g.Dangling || age < g.Grace.D {
				continue
			}
			p.Remove = append(p.Remove, GCItem{Kind: "image", ID: img.ID, Name: shortID(img.ID), Refs: []string{img.ID}, Size: img.Size,
				Reason: fmt.Sprintf("dangling (untagged), unused, created %s ago", age.Round(time.Second))})
		case !kept[img.ID]:
			p.Remove = append(p.Remove, GCItem{Kind: "image", ID: img.ID, Name: strings.Join(img.Tags, ","), Refs: img.Tags, Size: img.Size,
				Reason: fmt.Sprintf("%s; last used %s", repoOf[img.ID], lastUse(img).Format(time.RFC3339))})
		}
	}

	// Orphan volumes.
	mounted := map[string]bool{}
	for _, c := range in.Containers {
		if !removed[c.ID] {
			for _, v := range c.Volumes {
				mounted[v] = true
			}
		}
	}
	for _, v := range in.Volumes {
		if _, ex := excluded(g.Exclude, v.Labels); ex || mounted[v.Name] {
			continue
		}
		if v.Labels[fleet.LabelVolume] != "" {
			// A stack's volume: only its own project's gc, only by
			// explicit opt-in, only once the spec dropped it (stack.go).
			if why := stackVolumeGoes(in.Spec, v); why != "" {
				p.Remove = append(p.Remove, GCItem{Kind: "volume", ID: v.Name, Name: v.Name, Reason: why})
			}
			continue
		}
		if g.Volumes == "none" || (g.Volumes == "anonymous" && !v.Anonymous()) {
			continue
		}
		if g.Scope != ScopeHost && v.Labels[fleet.LabelProject] != in.Spec.Project {
			continue // not this project's (another's, anybody's, or made before baton labelled them): gc.scope host reaches it
		}
		if v.Anonymous() && !v.Created.IsZero() && now.Sub(v.Created) < g.Grace.D {
			continue // a replacement's volume is kept for at least the grace
		}
		kind := "named"
		if v.Anonymous() {
			kind = "anonymous"
		}
		p.Remove = append(p.Remove, GCItem{Kind: "volume", ID: v.Name, Name: shortID(v.Name),
			Reason: fmt.Sprintf("orphan %s volume: no container mounts it", kind)})
	}
	return p
}

// ScopeHost is gc.scope's value that makes image removal host-wide.
const ScopeHost = "host"

// ours is the set of image IDs this pass may remove. With gc.scope host,
// every image. Else (project, the default) the images of this project: one
// with a tag or digest in a repository the spec names, one a container of
// this project uses (in any state, removed by this pass or not), and one a
// past gc pass of this scope counted as the project's (in LastUsed, the
// memory of this scope: a tag moved by a pull leaves such an image
// dangling, and only that memory still ties it to the project).
func (in GCInput) ours() map[string]bool {
	out := map[string]bool{}
	if in.Spec.GC.Scope == ScopeHost {
		for _, img := range in.Images {
			out[img.ID] = true
		}
		return out
	}
	repos := map[string]bool{}
	for _, a := range in.Spec.Apps {
		if r, err := imageref.Parse(a.Image); err == nil && r.Name != "" {
			repos[r.Name] = true
		}
	}
	for _, c := range in.Containers {
		if c.Labels[fleet.LabelProject] == in.Spec.Project && c.ImageID != "" {
			out[c.ImageID] = true
		}
	}
	for _, img := range in.Images {
		if _, ok := in.LastUsed[img.ID]; ok {
			out[img.ID] = true
		}
		for _, ref := range append(append([]string{}, img.Tags...), img.Digests...) {
			if r, err := imageref.Parse(ref); err == nil && repos[r.Name] {
				out[img.ID] = true
			}
		}
	}
	return out
}

// imageKeys are the imageref keys an image is found under: its ID (as
// Docker gives it, "sha256:..."), its tags, its digests.
func imageKeys(img fleet.Image) []string {
	out := []string{"id " + img.ID}
	for _, ref := range append(append([]string{}, img.Tags...), img.Digests...) {
		if r, err := imageref.Parse(ref); err == nil {
			out = append(out, r.Keys()...)
		}
	}
	return out
}

// repositories are the familiar names of the repositories an image is
// tagged in, each once.
func repositories(img fleet.Image) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range img.Tags {
		repo := t
		if r, err := imageref.Parse(t); err == nil && r.Name != "" {
			repo = r.Repository()
		}
		if !seen[repo] {
			seen[repo] = true
			out = append(out, repo)
		}
	}
	return out
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// slotHolders are the IDs of the containers that hold a replica slot's
// data: per slot of a local app of the spec (below its replicas, or its
// autoscale max) with no running container, the newest exited one, when
// it has anonymous volumes.
func (in GCInput) slotHolders() map[string]bool {
	newest := map[Slot]fleet.Container{}
	runs := map[Slot]bool{}
	for _, c := range in.Containers {
		a := in.Spec.App(c.App)
		if c.Labels[fleet.LabelProject] != in.Spec.Project || a == nil || a.OnSwarm() || c.Replica < 0 || c.Replica >= mayWant(a) {
			continue
		}
		k := Slot{c.App, c.Replica}
		switch {
		case c.Running() || occupies(c):
			runs[k] = true
		case exited(c) && (newest[k].ID == "" || c.Created.After(newest[k].Created)):
			newest[k] = c
		}
	}
	out := map[string]bool{}
	for k, c := range newest {
		if !runs[k] && len(c.AnonymousVolumes()) > 0 {
			out[c.ID] = true
		}
	}
	return out
}

// mayWant is the most replicas the app's spec may want.
func mayWant(a *spec.App) int {
	n := 1
	if a.Replicas != nil {
		n = *a.Replicas
	}
	if a.Autoscale != nil && a.Autoscale.Max > n {
		n = a.Autoscale.Max
	}
	return n
}
