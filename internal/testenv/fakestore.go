package testenv

import (
	"context"
	"fmt"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// fakestore.go is the rest of FakeEngine's containers (restarting a
// stopped one) and its images, volumes and networks.

// StartExisting starts a stopped container again.
func (f *FakeEngine) StartExisting(_ context.Context, id, _ string) (fleet.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("start existing " + id); err != nil {
		return fleet.Container{}, err
	}
	c := f.Containers[id]
	if c == nil {
		return fleet.Container{}, fmt.Errorf("no such container %s", id)
	}
	c.State = "running"
	return *c, nil
}

// EnsureVolume creates a volume unless it exists.
func (f *FakeEngine) EnsureVolume(_ context.Context, project string, w fleet.VolumeWant) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ensure volume " + w.Name); err != nil {
		return err
	}
	for _, v := range f.VolumeSet {
		if v.Name == w.Name {
			return nil
		}
	}
	f.VolumeSet = append(f.VolumeSet, fleet.Volume{Name: w.Name, Labels: map[string]string{fleet.LabelProject: project, fleet.LabelVolume: w.Key}, Created: f.now()})
	return nil
}

// EnsureNetwork creates a network unless it exists.
func (f *FakeEngine) EnsureNetwork(_ context.Context, project string, w fleet.NetworkWant) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ensure network " + w.Name); err != nil {
		return err
	}
	for _, n := range f.NetworkSet {
		if n.Name == w.Name {
			return nil
		}
	}
	f.next++
	f.NetworkSet = append(f.NetworkSet, fleet.Network{ID: fmt.Sprintf("net%04d", f.next), Name: w.Name,
		Labels: map[string]string{fleet.LabelProject: project, fleet.LabelNetwork: w.Key}, Created: f.now()})
	return nil
}

// Networks lists the project's networks.
func (f *FakeEngine) Networks(_ context.Context, project string) ([]fleet.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fleet.Network
	for _, n := range f.NetworkSet {
		if n.Labels[fleet.LabelProject] == project {
			out = append(out, n)
		}
	}
	return out, f.call("networks")
}

// RemoveNetwork removes a network.
func (f *FakeEngine) RemoveNetwork(_ context.Context, _, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove network " + name); err != nil {
		return err
	}
	kept := f.NetworkSet[:0]
	for _, n := range f.NetworkSet {
		if n.Name != name {
			kept = append(kept, n)
		}
	}
	f.NetworkSet = kept
	return nil
}

// Images, Volumes and ServiceImages list what the fake holds.
func (f *FakeEngine) Images(context.Context) ([]fleet.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fleet.Image(nil), f.ImageSet...), f.call("images")
}

func (f *FakeEngine) Volumes(context.Context) ([]fleet.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fleet.Volume(nil), f.VolumeSet...), f.call("volumes")
}

func (f *FakeEngine) ServiceImages(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.ServiceSet {
		out = append(out, s.Image)
	}
	return out, f.call("service images")
}

// RemoveImage removes the image tagged ref (or with ID ref).
func (f *FakeEngine) RemoveImage(_ context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove image " + ref); err != nil {
		return err
	}
	kept := f.ImageSet[:0]
	for _, img := range f.ImageSet {
		var tags []string
		for _, t := range img.Tags {
			if t != ref {
				tags = append(tags, t)
			}
		}
		img.Tags = tags
		if img.ID != ref && (len(tags) > 0 || len(img.Digests) > 0) {
			kept = append(kept, img)
		}
	}
	f.ImageSet = kept
	return nil
}

// RemoveVolume removes a volume.
func (f *FakeEngine) RemoveVolume(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove volume " + name); err != nil {
		return err
	}
	kept := f.VolumeSet[:0]
	for _, v := range f.VolumeSet {
		if v.Name != name {
			kept = append(kept, v)
		}
	}
	f.VolumeSet = kept
	return nil
}

// LayersSize is the images' total size.
func (f *FakeEngine) LayersSize(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, img := range f.ImageSet {
		n += img.Size
	}
	return n, f.call("disk usage")
}
