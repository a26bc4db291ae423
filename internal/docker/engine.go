// Package docker is baton's Docker engine adapter and the only importer of
// the Docker SDK. It converts SDK types into fleet types nil-safely
// (docker-gen issue #227: list results may lack NetworkSettings or Ports).
//
// Every observation is one list call; the package never inspects containers
// one by one while observing.
package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

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

// Rename renames a container.
func (e *Engine) Rename(ctx context.Context, id, name string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	if err := e.cli.ContainerRename(ctx, id, name); err != nil && !client.IsErrNotFound(err) {
		return e.wrap(fmt.Sprintf("rename container %s", short(id)), err)
	}
	return nil
}
