// Package docker is baton's Docker engine adapter and the only importer of
// the Docker SDK. It converts SDK types into fleet types nil-safely
// (docker-gen issue #227: list results may lack NetworkSettings or Ports).
//
// Every observation is one list call; the package never inspects containers
// one by one while observing.
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// Engine talks to one Docker daemon.
type Engine struct {
	cli     *client.Client
	timeout time.Duration
	// host and context name the daemon in messages (an ssh:// daemon's
	// client talks to a dummy HTTP host).
	host, context string
}

// New connects to host (a DOCKER_HOST-style URL: unix://, tcp:// or
// ssh://; empty means the endpoint Resolve chooses: DOCKER_HOST, a Docker
// context or the default socket), negotiating the API version down to what
// the daemon speaks (dockerd 20.10 speaks 1.41). Every API call is bounded
// by timeout (pulls by ten times it), so a daemon that stops answering
// fails the pass instead of hanging it; 0 means 60s.
func New(host string, timeout time.Duration) (*Engine, error) {
	return Connect(Options{Host: host, Timeout: timeout})
}

// bound limits one API call to factor times the engine's timeout.
func (e *Engine) bound(ctx context.Context, factor int) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(factor)*e.timeout)
}

// Host is the daemon address, for messages.
func (e *Engine) Host() string {
	if e.host != "" {
		return e.host
	}
	return e.cli.DaemonHost()
}

// Close releases the client's connections.
func (e *Engine) Close() error { return e.cli.Close() }

// wrap names the daemon's socket in every error, so a cron mail says where
// baton looked: unreachable, too slow, or answering what it should not
// (broken JSON gave "list containers: unexpected EOF" and no socket).
func (e *Engine) wrap(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: the Docker daemon at %s did not answer within --docker-timeout (%s): %w", op, e.Host(), e.timeout, err)
	}
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("%s: %w", op, &UnreachableError{Host: e.Host(), Context: e.context, Err: err})
	}
	return fmt.Errorf("%s (Docker daemon at %s): %w", op, e.Host(), err)
}

// List returns every container (running or not) labelled with project, in
// one list call. network selects the address reported in Addr.
func (e *Engine) List(ctx context.Context, project, network string) ([]fleet.Container, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", fleet.LabelProject+"="+project))
	sums, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, e.wrap("list containers", err)
	}
	out := make([]fleet.Container, 0, len(sums))
	for _, s := range sums {
		if s.Labels[SwarmTaskLabel] != "" {
			// A Swarm task's container is Swarm's to start and stop,
			// whatever its labels say.
			continue
		}
		out = append(out, Convert(s, network))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].App != out[j].App {
			return out[i].App < out[j].App
		}
		if out[i].Replica != out[j].Replica {
			return out[i].Replica < out[j].Replica
		}
		return out[i].Created.Before(out[j].Created)
	})
	return out, nil
}

// Convert turns a list entry into a fleet.Container. It never panics on
// missing fields.
func Convert(s container.Summary, networkName string) fleet.Container {
	c := fleet.Container{
		ID:      s.ID,
		Image:   s.Image,
		ImageID: s.ImageID,
		Labels:  s.Labels,
		State:   string(s.State),
		Status:  s.Status,
		Health:  healthFromStatus(s.Status),
		Created: time.Unix(s.Created, 0).UTC(),
		Replica: -1,
	}
	if len(s.Names) > 0 {
		c.Name = strings.TrimPrefix(s.Names[0], "/")
	}
	for _, m := range s.Mounts {
		c.Mounts = append(c.Mounts, fleet.Mount{Type: string(m.Type), Name: m.Name, Source: m.Source, Target: m.Destination, ReadOnly: !m.RW})
		if m.Type == "volume" && m.Name != "" {
			c.Volumes = append(c.Volumes, m.Name)
		}
	}
	if s.NetworkSettings != nil {
		for name := range s.NetworkSettings.Networks {
			c.Networks = append(c.Networks, name)
		}
		sort.Strings(c.Networks)
	}
	lbPort := 0 // the port the balancer reaches; 0: any (containers from before the label)
	if s.Labels != nil {
		c.App = s.Labels[fleet.LabelApp]
		c.Hash = s.Labels[fleet.LabelHash]
		if r, err := strconv.Atoi(s.Labels[fleet.LabelReplica]); err == nil && r >= 0 {
			c.Replica = r
		}
		lbPort, _ = strconv.Atoi(s.Labels[fleet.LabelPort])
	}
	if c.State != "running" {
		return c
	}
	if networkName != "" {
		if s.NetworkSettings != nil {
			if ep := s.NetworkSettings.Networks[networkName]; ep != nil && ep.IPAddress != "" {
				if port := privatePort(s.Ports, lbPort); port > 0 {
					c.Addr = net.JoinHostPort(ep.IPAddress, strconv.Itoa(port))
				}
			}
		}
		return c
	}
	for _, p := range s.Ports {
		if p.PublicPort == 0 || p.Type != "tcp" || strings.Contains(p.IP, ":") {
			continue // IPv6 binding duplicates the IPv4 one
		}
		if lbPort > 0 && int(p.PrivatePort) != lbPort {
			continue // a fixed port of the stack, not the balancer's
		}
		ip := p.IP
		if ip == "" || ip == "0.0.0.0" {
			ip = "127.0.0.1"
		}
		c.Addr = net.JoinHostPort(ip, strconv.Itoa(int(p.PublicPort)))
		c.DirectAddr = directAddr(s, int(p.PrivatePort))
		break
	}
	return c
}

// directAddr is the container's own address for port on the default
// bridge (probes skip the userland proxy there), or "".
func directAddr(s container.Summary, port int) string {
	if s.NetworkSettings == nil {
		return ""
	}
	if ep := s.NetworkSettings.Networks["bridge"]; ep != nil && ep.IPAddress != "" {
		return net.JoinHostPort(ep.IPAddress, strconv.Itoa(port))
	}
	return ""
}

func privatePort(ports []container.Port, want int) int {
	if want > 0 {
		return want
	}
	for _, p := range ports {
		if p.Type == "tcp" && p.PrivatePort > 0 {
			return int(p.PrivatePort)
		}
	}
	return 0
}

// healthFromStatus reads the image HEALTHCHECK verdict from the list
// status ("Up 2 minutes (healthy)"), so no inspect is needed.
func healthFromStatus(status string) string {
	switch {
	case strings.HasSuffix(status, "(healthy)"):
		return "healthy"
	case strings.HasSuffix(status, "(unhealthy)"):
		return "unhealthy"
	case strings.HasSuffix(status, "(health: starting)"):
		return "starting"
	}
	return ""
}

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
		if m.Type == "bind" {
			mt.Type, mt.Source = mount.TypeBind, m.Source
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

// Stop stops a container, giving it grace to exit after SIGTERM.
func (e *Engine) Stop(ctx context.Context, id string, grace time.Duration) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	secs := int(grace / time.Second)
	if err := e.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil && !client.IsErrNotFound(err) {
		return e.wrap(fmt.Sprintf("stop container %s", short(id)), err)
	}
	return nil
}

// Remove removes a container and keeps every volume it mounted, named or
// anonymous: a replacement of a database image that declares a VOLUME
// must never delete its data (gc reclaims orphan anonymous volumes after
// its grace). A container that is already gone is not an error.
func (e *Engine) Remove(ctx context.Context, id string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	err := e.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	if err != nil && !client.IsErrNotFound(err) {
		return e.wrap(fmt.Sprintf("remove container %s", short(id)), err)
	}
	return nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Inspect returns how a container stands or ended. Heal calls it only for
// containers that are not running (to name OOM kills) and for new
// containers it waits on; observation stays one list call.
func (e *Engine) Inspect(ctx context.Context, id string) (fleet.Exit, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	ins, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return fleet.Exit{}, e.wrap(fmt.Sprintf("inspect container %s", short(id)), err)
	}
	return exitOf(ins), nil
}

func exitOf(ins container.InspectResponse) fleet.Exit {
	var x fleet.Exit
	if ins.ContainerJSONBase == nil || ins.State == nil {
		return x
	}
	st := ins.State
	x.State = string(st.Status)
	x.ExitCode = st.ExitCode
	x.OOMKilled = st.OOMKilled
	x.Error = st.Error
	if st.Health != nil {
		x.Health = string(st.Health.Status)
	}
	if t, err := time.Parse(time.RFC3339Nano, st.FinishedAt); err == nil && t.Year() > 1 {
		x.FinishedAt = t.UTC()
	}
	return x
}

// Exec runs argv inside a running container and returns nil when it exits
// 0. The command's combined output (first 512 bytes) is in the error.
func (e *Engine) Exec(ctx context.Context, id string, argv []string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	created, err := e.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return e.wrap(fmt.Sprintf("exec in %s", short(id)), err)
	}
	att, err := e.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return e.wrap(fmt.Sprintf("exec in %s", short(id)), err)
	}
	defer att.Close()
	// The hijacked connection ignores ctx: close it when ctx ends so a
	// hanging command cannot outlive the probe's timeout.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			att.Close()
		case <-done:
		}
	}()
	out, _ := io.ReadAll(io.LimitReader(att.Reader, 64<<10))
	if ctx.Err() != nil {
		return fmt.Errorf("exec %q: %w", strings.Join(argv, " "), ctx.Err())
	}
	ins, err := e.cli.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return e.wrap(fmt.Sprintf("exec in %s", short(id)), err)
	}
	if ins.Running {
		return fmt.Errorf("exec %q still running", strings.Join(argv, " "))
	}
	if ins.ExitCode != 0 {
		msg := strings.TrimSpace(stripStreamHeaders(out))
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return fmt.Errorf("exec %q exited %d: %s", strings.Join(argv, " "), ins.ExitCode, msg)
	}
	return nil
}

// stripStreamHeaders removes Docker's 8-byte multiplexing headers from an
// attached non-TTY stream, keeping the text.
func stripStreamHeaders(b []byte) string {
	var out []byte
	for len(b) >= 8 && (b[0] == 1 || b[0] == 2) && b[1] == 0 && b[2] == 0 && b[3] == 0 {
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		b = b[8:]
		if n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return string(append(out, b...))
}

// Stats returns a container's cumulative CPU time and memory use from one
// one-shot stats call (no two-second sampling: the CPU rate is computed
// from the counter's difference between passes).
func (e *Engine) Stats(ctx context.Context, id string) (fleet.Usage, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	r, err := e.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return fleet.Usage{}, e.wrap(fmt.Sprintf("stats of %s", short(id)), err)
	}
	defer r.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&s); err != nil {
		return fleet.Usage{}, e.wrap(fmt.Sprintf("stats of %s", short(id)), err)
	}
	return usageOf(s), nil
}

// usageOf converts a stats reading. Page cache is reclaimable, so it is
// not memory in use: cgroup v1 reports it as "cache", v2 as
// "inactive_file" (what docker stats subtracts). A reading without a time
// keeps a zero At, which no CPU rate is drawn from.
func usageOf(s container.StatsResponse) fleet.Usage {
	mem := s.MemoryStats.Usage
	if c, ok := s.MemoryStats.Stats["cache"]; ok && c < mem {
		mem -= c
	} else if c, ok := s.MemoryStats.Stats["inactive_file"]; ok && c < mem {
		mem -= c
	}
	var at time.Time
	if !s.Read.IsZero() {
		at = s.Read.UTC()
	}
	return fleet.Usage{CPUNanos: s.CPUStats.CPUUsage.TotalUsage, MemBytes: mem, MemLimit: s.MemoryStats.Limit, At: at}
}

// Rename renames a container.
func (e *Engine) Rename(ctx context.Context, id, name string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	if err := e.cli.ContainerRename(ctx, id, name); err != nil && !client.IsErrNotFound(err) {
		return e.wrap(fmt.Sprintf("rename container %s", short(id)), err)
	}
	return nil
}
