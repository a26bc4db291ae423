// Starting a container from what a pass wants.

package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
)

// EnsureImage makes ref present according to the pull policy
// (never|missing|always).
func (e *Engine) EnsureImage(ctx context.Context, ref, policy string) error {
	ctx, cancel := e.bound(ctx, 10)
	defer cancel()
	if policy != "always" {
		_, err := e.cli.ImageInspect(ctx, ref)
		if err == nil {
			return nil
		}
		if !client.IsErrNotFound(err) {
			return e.wrap(fmt.Sprintf("inspect image %q", ref), err)
		}
		if policy == "never" {
			return fmt.Errorf("image %q is not present and pull is %q", ref, policy)
		}
	}
	rc, err := e.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return e.wrap(fmt.Sprintf("pull image %q", ref), err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return e.wrap(fmt.Sprintf("pull image %q", ref), err)
	}
	return nil
}

// Start creates and starts a container and returns it as observed after
// start (one inspect, for the Docker-chosen host port). The volumes and
// networks it needs must exist (EnsureVolume, EnsureNetwork). On a failure
// after create the created container is removed again.
func (e *Engine) Start(ctx context.Context, w fleet.Want) (fleet.Container, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	cfg, hc, nc, extra := createConfig(w)
	labelImageVolumes(hc, w, e.imageVolumes(ctx, w.Image))
	created, err := e.cli.ContainerCreate(ctx, cfg, hc, nc, nil, w.Name)
	if err != nil {
		return fleet.Container{}, e.wrap(fmt.Sprintf("create container %q", w.Name), err)
	}
	undo := func(err error) (fleet.Container, error) {
		rmErr := e.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		return fleet.Container{}, errors.Join(err, rmErr)
	}
	// API 1.41 (dockerd 20.10) attaches one network at create; the others
	// are connected before the start.
	for _, at := range extra {
		if err := e.cli.NetworkConnect(ctx, at.Network, created.ID, &network.EndpointSettings{Aliases: at.Aliases}); err != nil {
			return undo(e.wrap(fmt.Sprintf("connect container %q to network %q", w.Name, at.Network), err))
		}
	}
	if err := e.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return undo(e.wrap(fmt.Sprintf("start container %q", w.Name), err))
	}
	ins, err := e.cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		return fleet.Container{ID: created.ID, Name: w.Name, App: w.App, Replica: w.Replica}, e.wrap(fmt.Sprintf("inspect container %q", w.Name), err)
	}
	return convertInspect(ins, w.Network), nil
}

// createConfig turns a Want into the create call's parts and the networks
// to connect after create.
func createConfig(w fleet.Want) (*container.Config, *container.HostConfig, *network.NetworkingConfig, []fleet.Attach) {
	labels := map[string]string{}
	for k, v := range w.Labels {
		labels[k] = v
	}
	labels[fleet.LabelProject] = w.Project
	labels[fleet.LabelApp] = w.App
	labels[fleet.LabelReplica] = strconv.Itoa(w.Replica)
	labels[fleet.LabelHash] = w.Hash
	if w.Record != "" {
		labels[fleet.LabelSpec] = w.Record
	}
	if w.Port > 0 {
		labels[fleet.LabelPort] = strconv.Itoa(w.Port)
	}

	grace := int(w.StopGrace / time.Second)
	cfg := &container.Config{
		Image:       w.Image,
		Cmd:         w.Args,
		Entrypoint:  w.Command,
		Env:         w.Env,
		Labels:      labels,
		StopTimeout: &grace,
		User:        w.User,
		WorkingDir:  w.WorkingDir,
		StopSignal:  w.StopSignal,
	}
	hc := &container.HostConfig{
		Resources: container.Resources{Memory: w.MemoryB, NanoCPUs: w.MilliCPU * 1e6},
		// No restart policy unless the spec sets one: baton is the one
		// that restarts, with probes and backoff; Docker restarting behind
		// its back would hide crash loops.
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Tmpfs:          w.Tmpfs,
		ReadonlyRootfs: w.ReadOnly,
		CapAdd:         w.CapAdd,
		CapDrop:        w.CapDrop,
		ExtraHosts:     w.ExtraHosts,
	}
	if w.Restart != "" {
		hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyMode(w.Restart), MaximumRetryCount: w.RestartRetries}
	}
	if w.LogDriver != "" {
		hc.LogConfig = container.LogConfig{Type: w.LogDriver, Config: w.LogOptions}
	}
	for _, m := range w.Mounts {
		mt := mount.Mount{Type: mount.TypeVolume, Source: m.Name, Target: m.Target, ReadOnly: m.ReadOnly}
		switch {
		case m.Type == "bind":
			mt.Type, mt.Source = mount.TypeBind, m.Source
		case m.Name == "" && w.Carry[path.Clean(m.Target)] != "":
			mt.Source = w.Carry[path.Clean(m.Target)]
		case m.Name == "":
			mt.VolumeOptions = anonymousVolume(w)
		}
		hc.Mounts = append(hc.Mounts, mt)
	}
	exposed := nat.PortSet{}
	bindings := nat.PortMap{}
	if w.Port > 0 {
		port := nat.Port(fmt.Sprintf("%d/tcp", w.Port))
		exposed[port] = struct{}{}
		if w.Network == "" {
			bindings[port] = []nat.PortBinding{{HostIP: w.PublishIP, HostPort: ""}}
		}
	}
	for _, p := range w.Ports {
		port := nat.Port(fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto))
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], nat.PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(p.HostPort)})
	}
	if len(exposed) > 0 {
		cfg.ExposedPorts = exposed
	}
	if len(bindings) > 0 {
		hc.PortBindings = bindings
	}
	primary, extra := w.Network, w.Networks
	var aliases []string
	switch {
	case primary == "" && len(extra) > 0:
		primary, aliases, extra = extra[0].Network, extra[0].Aliases, extra[1:]
	case primary != "":
		var rest []fleet.Attach
		for _, at := range extra {
			if at.Network == primary {
				aliases = at.Aliases
			} else {
				rest = append(rest, at)
			}
		}
		extra = rest
	}
	var nc *network.NetworkingConfig
	if primary != "" {
		hc.NetworkMode = container.NetworkMode(primary)
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{primary: {Aliases: aliases}}}
	}
	return cfg, hc, nc, extra
}

// convertInspect maps an inspect result onto the list shape and reuses
// Convert, so both paths agree on addresses.
func convertInspect(ins container.InspectResponse, networkName string) fleet.Container {
	s := container.Summary{Labels: map[string]string{}}
	if ins.ContainerJSONBase != nil {
		s.ID = ins.ID
		s.Names = []string{ins.Name}
		if ins.State != nil {
			s.State = container.ContainerState(ins.State.Status)
		}
		if t, err := time.Parse(time.RFC3339Nano, ins.Created); err == nil {
			s.Created = t.Unix()
		}
	}
	if ins.Config != nil {
		s.Image = ins.Config.Image
		s.Labels = ins.Config.Labels
	}
	s.Mounts = ins.Mounts
	if ins.NetworkSettings != nil {
		for port, bindings := range ins.NetworkSettings.Ports {
			for _, b := range bindings {
				pub, _ := strconv.Atoi(b.HostPort)
				s.Ports = append(s.Ports, container.Port{IP: b.HostIP, PrivatePort: uint16(port.Int()), PublicPort: uint16(pub), Type: port.Proto()})
			}
			if len(bindings) == 0 {
				s.Ports = append(s.Ports, container.Port{PrivatePort: uint16(port.Int()), Type: port.Proto()})
			}
		}
		s.NetworkSettings = &container.NetworkSettingsSummary{Networks: ins.NetworkSettings.Networks}
	}
	return Convert(s, networkName)
}

// anonymousVolume labels an anonymous volume Docker makes for a container
// with the container's project and app, so gc knows it for this
// project's (gc.scope project never removes another's).
func anonymousVolume(w fleet.Want) *mount.VolumeOptions {
	return &mount.VolumeOptions{Labels: map[string]string{fleet.LabelProject: w.Project, fleet.LabelApp: w.App}}
}

// imageVolumes are the paths the image declares VOLUME for (none when it
// cannot be inspected: the create then says why).
func (e *Engine) imageVolumes(ctx context.Context, ref string) []string {
	ins, err := e.cli.ImageInspect(ctx, ref)
	if err != nil || ins.Config == nil {
		return nil
	}
	var out []string
	for p := range ins.Config.Volumes {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// labelImageVolumes mounts, at each path the image declares VOLUME for
// that no mount covers, an anonymous volume labelled as the spec's own
// anonymous volumes are (Docker would otherwise make one with no label,
// which gc could not tell from anybody's; it copies the image's content
// at the path into it, as for its own), and then the volumes the want
// carries (the slot's previous container's) at their paths.
func labelImageVolumes(hc *container.HostConfig, w fleet.Want, paths []string) {
	covered := map[string]bool{}
	for _, m := range hc.Mounts {
		covered[path.Clean(m.Target)] = true
	}
	for t := range hc.Tmpfs {
		covered[path.Clean(t)] = true
	}
	for _, p := range paths {
		if !covered[path.Clean(p)] && w.Carry[path.Clean(p)] == "" {
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Target: p, VolumeOptions: anonymousVolume(w)})
		}
	}
	// Every carried volume no mount of the spec covers is mounted where
	// the slot's previous container had it — also where the image no
	// longer declares a VOLUME — as the plan (and so the dry run) says.
	carried := make([]string, 0, len(w.Carry))
	for p := range w.Carry {
		carried = append(carried, p)
	}
	sort.Strings(carried)
	for _, p := range carried {
		if !covered[path.Clean(p)] {
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: w.Carry[p], Target: p})
		}
	}
}
