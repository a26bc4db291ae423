package commands

import (
	"context"
	"time"

	"github.com/baton-orchestrator/baton/internal/docker"
	"github.com/baton-orchestrator/baton/internal/fleet"
)

// Engine is what passes need from a Docker daemon: the seam between the
// runner and the engine. internal/docker implements it against a real
// dockerd; in-process tests give Env.Connect a fake.
type Engine interface {
	Host() string
	Close() error
	// Info says what the daemon is (doctor).
	Info(ctx context.Context) (fleet.Daemon, error)

	// Containers.
	List(ctx context.Context, project, network string) ([]fleet.Container, error)
	ListAll(ctx context.Context) ([]fleet.Container, error)
	Inspect(ctx context.Context, id string) (fleet.Exit, error)
	Exec(ctx context.Context, id string, argv []string) error
	Stats(ctx context.Context, id string) (fleet.Usage, error)
	// Logs calls each for every line a container printed (with Follow:
	// until it stops or ctx ends).
	Logs(ctx context.Context, id string, o fleet.LogOptions, each func(fleet.LogLine)) error
	EnsureImage(ctx context.Context, ref, policy string) error
	Start(ctx context.Context, w fleet.Want) (fleet.Container, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
	Remove(ctx context.Context, id string) error
	Rename(ctx context.Context, id, name string) error
	RemoveStopped(ctx context.Context, id string) error
	// StartExisting starts a stopped container again (stop-first's way
	// back when the new replica does not answer).
	StartExisting(ctx context.Context, id, network string) (fleet.Container, error)

	// A stack's volumes and networks.
	EnsureVolume(ctx context.Context, project string, w fleet.VolumeWant) error
	EnsureNetwork(ctx context.Context, project string, w fleet.NetworkWant) error
	Networks(ctx context.Context, project string) ([]fleet.Network, error)
	RemoveNetwork(ctx context.Context, project, name string) error

	// Images and volumes (gc).
	Images(ctx context.Context) ([]fleet.Image, error)
	Volumes(ctx context.Context) ([]fleet.Volume, error)
	ServiceImages(ctx context.Context) ([]string, error)
	RemoveImage(ctx context.Context, ref string) error
	RemoveVolume(ctx context.Context, name string) error
	LayersSize(ctx context.Context) (int64, error)

	// Swarm.
	Nodes(ctx context.Context) ([]fleet.Node, error)
	Services(ctx context.Context) ([]fleet.Service, error)
	Tasks(ctx context.Context) ([]fleet.Task, error)
	EditNode(ctx context.Context, n fleet.Node, edit fleet.NodeEdit) error
	EditService(ctx context.Context, s fleet.Service, edit fleet.ServiceEdit) error
	CreateService(ctx context.Context, w fleet.ServiceWant) error
	UpdateServiceSpec(ctx context.Context, id string, w fleet.ServiceWant) error
	PlaceService(ctx context.Context, s fleet.Service, p fleet.Placement, keep []string) error
	EnsureSwarmFile(ctx context.Context, project, kind string, f fleet.FileRef) (string, error)
	SwarmFiles(ctx context.Context, project string) ([]fleet.SwarmFile, error)
	RemoveSwarmFile(ctx context.Context, f fleet.SwarmFile) error
	// A node's own engine and a manager, for swarm join.
	Membership(ctx context.Context) (fleet.Membership, error)
	JoinInfo(ctx context.Context) (fleet.JoinInfo, error)
	JoinSwarm(ctx context.Context, r fleet.JoinRequest) error
	RemoveNode(ctx context.Context, id string) error
	ScaleService(ctx context.Context, id string, attempts int, decide func(current uint64) uint64) (from, to uint64, conflicts int, err error)
	RemoveService(ctx context.Context, id string) error
	PinService(ctx context.Context, s fleet.Service, host string, now time.Time) error
	UnpinService(ctx context.Context, s fleet.Service) error
}

// connect opens the engine at host through env.Connect, or the real
// Docker client: the pass's own daemon (host is --docker-host, maybe
// empty) is chosen the docker CLI's way, with --context, DOCKER_HOST,
// DOCKER_CONTEXT and the current context (internal/docker endpoint.go);
// any other host (a swarm node's endpoint) is used as given.
func (e *Env) connect(host string) (Engine, error) {
	if e.Connect != nil {
		return e.Connect(host, e.DockerTimeout)
	}
	o := docker.Options{Host: host, Context: e.DockerContext, Getenv: e.getenv, Timeout: e.DockerTimeout}
	if host != e.DockerHost {
		o.Context = ""
	}
	eng, err := docker.Connect(o)
	if err != nil {
		return nil, err
	}
	return eng, nil
}
