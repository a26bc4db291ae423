package docker

// stack.go holds the engine side of stacks: the named volumes and networks
// baton creates (labelled with the project and the spec's key), checks and
// removes, and restarting a stopped container (stop-first's way back).
//
// This file enforces the ownership rule: a volume or network is created
// with baton's labels, used as is only when the spec calls it external, and
// one of the wanted name that exists without baton's label is refused, not
// adopted; a network is removed only when it carries the project's label
// and no container is attached.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// ErrNotOurs says a volume or network of the wanted name exists but baton
// did not create it for this project.
var ErrNotOurs = errors.New("not baton's")

// ErrInUse says a network still has containers attached.
var ErrInUse = errors.New("in use")

func ownedBy(labels map[string]string, project, keyLabel string) bool {
	return labels[fleet.LabelProject] == project && labels[keyLabel] != ""
}

func resourceLabels(project, keyLabel, key string, extra map[string]string) map[string]string {
	l := map[string]string{}
	for k, v := range extra {
		l[k] = v
	}
	l[fleet.LabelProject] = project
	l[keyLabel] = key
	return l
}

// EnsureVolume makes the named volume exist: an external one must exist
// already; another is created with baton's labels, or must carry them.
func (e *Engine) EnsureVolume(ctx context.Context, project string, w fleet.VolumeWant) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	v, err := e.cli.VolumeInspect(ctx, w.Name)
	switch {
	case err == nil && (w.External || ownedBy(v.Labels, project, fleet.LabelVolume)):
		return nil
	case err == nil:
		return fmt.Errorf("volume %q exists but is %w (no label %s=%s): declare it external: true to use it as it is, or remove it", w.Name, ErrNotOurs, fleet.LabelProject, project)
	case !client.IsErrNotFound(err):
		return e.wrap(fmt.Sprintf("inspect volume %q", w.Name), err)
	case w.External:
		return fmt.Errorf("external volume %q does not exist: create it, or drop external: true to let baton create it", w.Name)
	}
	_, err = e.cli.VolumeCreate(ctx, volume.CreateOptions{Name: w.Name, Driver: w.Driver, DriverOpts: w.DriverOpts,
		Labels: resourceLabels(project, fleet.LabelVolume, w.Key, w.Labels)})
	if err != nil {
		return e.wrap(fmt.Sprintf("create volume %q", w.Name), err)
	}
	return nil
}

// findNetwork returns the network named exactly name (inspect by name also
// matches ID prefixes), or nil.
func (e *Engine) findNetwork(ctx context.Context, name string) (*network.Summary, error) {
	nets, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return nil, e.wrap("list networks", err)
	}
	for i := range nets {
		if nets[i].Name == name {
			return &nets[i], nil
		}
	}
	return nil, nil
}

// EnsureNetwork makes the network exist: an external one must exist
// already; another is created with baton's labels, or must carry them.
func (e *Engine) EnsureNetwork(ctx context.Context, project string, w fleet.NetworkWant) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	n, err := e.findNetwork(ctx, w.Name)
	switch {
	case err != nil:
		return err
	case n != nil && (w.External || ownedBy(n.Labels, project, fleet.LabelNetwork)):
		return nil
	case n != nil:
		return fmt.Errorf("network %q exists but is %w (no label %s=%s): declare it external: true to use it as it is, or remove it", w.Name, ErrNotOurs, fleet.LabelProject, project)
	case w.External:
		return fmt.Errorf("external network %q does not exist: create it, or drop external: true to let baton create it", w.Name)
	}
	_, err = e.cli.NetworkCreate(ctx, w.Name, network.CreateOptions{Driver: w.Driver, Internal: w.Internal,
		Labels: resourceLabels(project, fleet.LabelNetwork, w.Key, w.Labels)})
	if err != nil {
		return e.wrap(fmt.Sprintf("create network %q", w.Name), err)
	}
	return nil
}

// Networks lists the networks baton created for project, in one call.
func (e *Engine) Networks(ctx context.Context, project string) ([]fleet.Network, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	nets, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", fleet.LabelProject+"="+project), filters.Arg("label", fleet.LabelNetwork))})
	if err != nil {
		return nil, e.wrap("list networks", err)
	}
	out := make([]fleet.Network, 0, len(nets))
	for _, n := range nets {
		out = append(out, ConvertNetwork(n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ConvertNetwork turns a network list entry into a fleet.Network.
func ConvertNetwork(n network.Summary) fleet.Network {
	fn := fleet.Network{ID: n.ID, Name: n.Name, Labels: n.Labels}
	if !n.Created.IsZero() {
		fn.Created = n.Created.UTC()
	}
	return fn
}

// RemoveNetwork removes a network baton created for project. It refuses
// one without the project's label (ErrNotOurs) and one that still has
// containers attached (ErrInUse, naming them); a network already gone is
// not an error.
func (e *Engine) RemoveNetwork(ctx context.Context, project, name string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	n, err := e.findNetwork(ctx, name)
	if err != nil || n == nil {
		return err
	}
	if !ownedBy(n.Labels, project, fleet.LabelNetwork) {
		return fmt.Errorf("refusing to remove network %q: %w", name, ErrNotOurs)
	}
	ins, err := e.cli.NetworkInspect(ctx, n.ID, network.InspectOptions{})
	if err != nil {
		if client.IsErrNotFound(err) {
			return nil
		}
		return e.wrap(fmt.Sprintf("inspect network %q", name), err)
	}
	if len(ins.Containers) > 0 {
		var names []string
		for _, c := range ins.Containers {
			names = append(names, c.Name)
		}
		sort.Strings(names)
		return fmt.Errorf("network %q is %w by %s", name, ErrInUse, strings.Join(names, ", "))
	}
	if err := e.cli.NetworkRemove(ctx, n.ID); err != nil && !client.IsErrNotFound(err) {
		return e.wrap(fmt.Sprintf("remove network %q", name), err)
	}
	return nil
}

// StartExisting starts a stopped container again (stop-first's way back
// when the new replica does not answer) and returns it as observed after
// the start: a Docker-chosen host port may differ from before.
func (e *Engine) StartExisting(ctx context.Context, id, networkName string) (fleet.Container, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	if err := e.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fleet.Container{}, e.wrap(fmt.Sprintf("start container %s", short(id)), err)
	}
	ins, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return fleet.Container{}, e.wrap(fmt.Sprintf("inspect container %s", short(id)), err)
	}
	return convertInspect(ins, networkName), nil
}
