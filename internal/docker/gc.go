package docker

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// ListAll returns every container on the host, of any project or none, in
// one list call: gc must see every container that may use an image.
func (e *Engine) ListAll(ctx context.Context) ([]fleet.Container, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	sums, err := e.cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, e.wrap("list containers", err)
	}
	out := make([]fleet.Container, 0, len(sums))
	for _, s := range sums {
		out = append(out, Convert(s, ""))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Images lists the local images in one call.
func (e *Engine) Images(ctx context.Context) ([]fleet.Image, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	sums, err := e.cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, e.wrap("list images", err)
	}
	out := make([]fleet.Image, 0, len(sums))
	for _, s := range sums {
		out = append(out, ConvertImage(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ConvertImage turns an image list entry into a fleet.Image.
func ConvertImage(s image.Summary) fleet.Image {
	img := fleet.Image{ID: s.ID, Labels: s.Labels, Created: time.Unix(s.Created, 0).UTC(), Size: s.Size}
	for _, t := range s.RepoTags {
		if t != "<none>:<none>" && t != "" {
			img.Tags = append(img.Tags, t)
		}
	}
	for _, d := range s.RepoDigests {
		if d != "<none>@<none>" && d != "" {
			img.Digests = append(img.Digests, d)
		}
	}
	return img
}

// Volumes lists the volumes in one call.
func (e *Engine) Volumes(ctx context.Context) ([]fleet.Volume, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	resp, err := e.cli.VolumeList(ctx, volume.ListOptions{})
	if err != nil {
		return nil, e.wrap("list volumes", err)
	}
	out := make([]fleet.Volume, 0, len(resp.Volumes))
	for _, v := range resp.Volumes {
		if v == nil {
			continue
		}
		fv := fleet.Volume{Name: v.Name, Labels: v.Labels}
		if t, err := time.Parse(time.RFC3339, v.CreatedAt); err == nil {
			fv.Created = t.UTC()
		}
		out = append(out, fv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ServiceImages returns the image references of the Swarm services, or
// nothing when this engine is not a Swarm manager.
func (e *Engine) ServiceImages(ctx context.Context) ([]string, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	svcs, err := e.cli.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		if strings.Contains(err.Error(), "not a swarm manager") || strings.Contains(err.Error(), "not part of a swarm") {
			return nil, nil
		}
		return nil, e.wrap("list services", err)
	}
	var out []string
	for _, s := range svcs {
		if s.Spec.TaskTemplate.ContainerSpec != nil && s.Spec.TaskTemplate.ContainerSpec.Image != "" {
			out = append(out, s.Spec.TaskTemplate.ContainerSpec.Image)
		}
	}
	return out, nil
}

// RemoveImage removes an image reference (a tag, or an ID) without force:
// Docker's own conflict check refuses an image a container uses, even one
// created after gc looked.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	if _, err := e.cli.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil {
		if client.IsErrNotFound(err) {
			return nil
		}
		return e.wrap(fmt.Sprintf("remove image %s", ref), err)
	}
	return nil
}

// RemoveVolume removes a volume without force (Docker refuses one in use).
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	if err := e.cli.VolumeRemove(ctx, name, false); err != nil {
		if client.IsErrNotFound(err) {
			return nil
		}
		return e.wrap(fmt.Sprintf("remove volume %s", name), err)
	}
	return nil
}

// LayersSize is the disk space of all image layers, for measuring what a
// gc pass reclaimed.
func (e *Engine) LayersSize(ctx context.Context) (int64, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	du, err := e.cli.DiskUsage(ctx, types.DiskUsageOptions{Types: []types.DiskUsageObject{types.ImageObject}})
	if err != nil {
		return 0, e.wrap("disk usage", err)
	}
	return du.LayersSize, nil
}

// RemoveStopped removes a stopped container without force and without its
// volumes (gc's volume policy decides those): Docker refuses a container
// that was started again since gc looked.
func (e *Engine) RemoveStopped(ctx context.Context, id string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	if err := e.cli.ContainerRemove(ctx, id, container.RemoveOptions{}); err != nil && !client.IsErrNotFound(err) {
		return e.wrap(fmt.Sprintf("remove container %s", short(id)), err)
	}
	return nil
}
