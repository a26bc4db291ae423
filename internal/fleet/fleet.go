// Package fleet holds baton's own view of what runs: the containers it
// observed and the containers it wants started. Engine adapters convert
// their SDK types into these, so deciders never see an SDK type.
package fleet

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Labels baton puts on every container it owns. A container without
// LabelProject set to the spec's project is never touched.
const (
	LabelProject = "baton.project"
	LabelApp     = "baton.app"
	LabelReplica = "baton.replica"
	LabelHash    = "baton.spec-hash"
	// LabelSpec records what the container was made from, field by field
	// (spec.App.RecordLabel): a later pass names the fields that changed.
	LabelSpec = "baton.spec"
	// LabelServiceApp marks the containers of a swarm app's tasks, which
	// carry no LabelProject: they are Swarm's, never a local pass's.
	LabelServiceApp = "baton.service-app"
	// LabelPort names the container port the balancer reaches (a
	// container may publish fixed ports besides it).
	LabelPort = "baton.port"
	// LabelVolume and LabelNetwork mark the volumes and networks baton
	// created for a stack, with the spec's key as the value; with
	// LabelProject they say whose they are.
	LabelVolume  = "baton.volume"
	LabelNetwork = "baton.network"
	// LabelSecret and LabelConfig mark the Swarm secrets and configs baton
	// created, with the spec's key as the value.
	LabelSecret = "baton.secret"
	LabelConfig = "baton.config"
)

// Container is one observed container.
type Container struct {
	ID      string
	Name    string
	App     string
	Replica int // -1 when the label is missing or malformed
	Hash    string
	Image   string
	ImageID string
	// Labels are all the container's labels; Volumes the names of the
	// volumes it mounts (for gc's in-use sets); Mounts all its mounts;
	// Networks the names of the networks it is attached to, sorted.
	Labels   map[string]string
	Volumes  []string
	Mounts   []Mount
	Networks []string
	// State is Docker's: created, running, paused, restarting, removing,
	// exited or dead.
	State string
	// Status is Docker's human status, e.g. "Up 3 minutes (healthy)".
	Status string
	// Health is "", "starting", "healthy" or "unhealthy" (from the image's
	// own HEALTHCHECK, when it declares one).
	Health  string
	Created time.Time
	// Addr is where the balancer reaches the container: host:port of the
	// published port, or IP:port on the configured network. Empty when the
	// container has no reachable port.
	Addr string
	// DirectAddr is the container's own IP:port on Docker's default bridge
	// when Addr is a published port: probes try it first (no userland
	// proxy in between).
	DirectAddr string
}

// Running reports whether the container's process is up.
func (c Container) Running() bool { return c.State == "running" }

// RetiringSuffix marks a container that left the balancer and is being
// stopped: baton renames it before the stop, so a pass killed between stop
// and remove leaves a container the next pass knows to remove.
const RetiringSuffix = ".retiring"

// Retiring reports whether the container was on its way out.
func (c Container) Retiring() bool { return strings.HasSuffix(c.Name, RetiringSuffix) }

// Want is a container baton is about to create.
type Want struct {
	Project string
	App     string
	Replica int
	Hash    string
	// Record is the LabelSpec value: the spec fields it is made from.
	Record    string
	Name      string
	Image     string
	Pull      string
	Command   []string
	Args      []string
	Env       []string // KEY=value, sorted, including BATON_APP and BATON_REPLICA
	Labels    map[string]string
	Port      int
	MemoryB   int64
	MilliCPU  int64
	Network   string
	PublishIP string
	StopGrace time.Duration

	// The stack part (spec stack.go): mounts, fixed ports, networks with
	// their aliases, and what must exist before the container is created.
	Mounts       []Mount
	Tmpfs        map[string]string // container path → options
	Ports        []PortBinding
	Networks     []Attach // joined in order; the first is the primary one unless Network is set
	NeedVolumes  []VolumeWant
	NeedNetworks []NetworkWant
	LogDriver    string
	LogOptions   map[string]string
	User         string
	WorkingDir   string
	StopSignal   string
	ReadOnly     bool
	CapAdd       []string
	CapDrop      []string
	ExtraHosts   []string
	// Carry are the anonymous volumes of the container this one follows
	// in its slot, by container path: where the new container would get a
	// fresh anonymous volume (the spec's /path, the image's VOLUME), it
	// mounts that one instead, as compose's recreate does, so the data
	// stays with the slot.
	Carry map[string]string
	// Restart is Docker's restart policy name (empty: none) and
	// RestartRetries its on-failure count.
	Restart        string
	RestartRetries int
}

// Mount is one mount of a container, wanted or observed.
type Mount struct {
	// Type is volume (named, or anonymous with an empty Source when
	// wanted), bind or tmpfs.
	Type string
	// Name is the volume's name (observed: Docker's generated name for an
	// anonymous one); Source the host path of a bind mount.
	Name     string
	Source   string
	Target   string
	ReadOnly bool
}

// PortBinding is a fixed host port.
type PortBinding struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	Proto         string // tcp or udp
}

// Attach is a network a container joins and the names it answers to there.
type Attach struct {
	Network string
	Aliases []string
}

// VolumeWant is a named volume that must exist before a container mounts
// it. An external one is only checked.
type VolumeWant struct {
	Name       string
	Key        string // the spec's key, for the label
	Driver     string
	DriverOpts map[string]string
	Labels     map[string]string
	External   bool
}

// NetworkWant is a network that must exist before a container joins it.
// An external one is only checked.
type NetworkWant struct {
	Name     string
	Key      string
	Driver   string
	Internal bool
	Labels   map[string]string
	External bool
}

// Network is one observed network.
type Network struct {
	ID      string
	Name    string
	Labels  map[string]string
	Created time.Time
}

// Exit is what an inspect tells about a container that is not running (or
// a new one whose readiness is awaited): list results do not carry these.
type Exit struct {
	State      string
	Health     string // the image HEALTHCHECK verdict, when it declares one
	ExitCode   int
	OOMKilled  bool
	Error      string
	FinishedAt time.Time
}

// Running reports whether the inspected container is up.
func (e Exit) Running() bool { return e.State == "running" }

// String says how the container ended, for reasons and events:
// "exited with code 137 (OOM killed)".
func (e Exit) String() string {
	if e.Running() {
		return "running"
	}
	s := e.State
	if e.State == "exited" || e.State == "dead" {
		s = fmt.Sprintf("%s with code %d", e.State, e.ExitCode)
	}
	if e.OOMKilled {
		s += " (OOM killed)"
	}
	if e.Error != "" {
		s += ": " + e.Error
	}
	return s
}

// Image is one local image.
type Image struct {
	ID      string
	Tags    []string // repo:tag; empty for a dangling image
	Digests []string // repo@sha256:...
	Labels  map[string]string
	Created time.Time
	Size    int64
}

// Volume is one volume.
type Volume struct {
	Name    string
	Labels  map[string]string
	Created time.Time
}

// Anonymous reports whether Docker generated the volume's name (64 hex
// digits; dockerd 20.10 has no label for it).
func (v Volume) Anonymous() bool { return anonymousName(v.Name) }

// AnonymousVolumes are the container's anonymous volumes by container
// path (nil: none).
func (c Container) AnonymousVolumes() map[string]string {
	var out map[string]string
	for _, m := range c.Mounts {
		if m.Type == "volume" && anonymousName(m.Name) && m.Target != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[path.Clean(m.Target)] = m.Name
		}
	}
	return out
}

func anonymousName(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, r := range name {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// Usage is a container's resource counters at a moment.
type Usage struct {
	CPUNanos uint64 // cumulative CPU time
	MemBytes uint64 // memory in use, without reclaimable page cache
	MemLimit uint64
	At       time.Time // when the daemon read them; zero when it did not say

}

// Labels baton puts on the Swarm services it owns and on services it
// pinned to a node while moving them.
const (
	// LabelPin names the constraint rebalance added; LabelPinSince when
	// (RFC 3339); LabelPinOrder the update order the service had before
	// the move (a move runs start-first, so the old task serves until the
	// new one runs).
	LabelPin      = "baton.rebalance.pin"
	LabelPinSince = "baton.rebalance.since"
	LabelPinOrder = "baton.rebalance.order"
	// LabelMoved is when rebalance last moved the service (RFC 3339),
	// kept after the pin is gone: every manager's pass reads the
	// cooldowns from the service itself.
	LabelMoved = "baton.rebalance.moved"
)

// Labels labels sync keeps on dependents and nodes, each followed by the
// project (two projects on one swarm never share one):
const (
	// LabelFollows: the anchor constraint baton added to a dependent.
	LabelFollows = "baton.follows."
	// LabelLeaving: the hostnames (comma-separated) a dependent is
	// leaving because its anchor left them; one node.hostname!=<host>
	// constraint each.
	LabelLeaving = "baton.leaving."
	// LabelFollowed: when labels sync last moved the dependent's tasks
	// (RFC 3339), for restart_cooldown.
	LabelFollowed = "baton.followed."
	// LabelOrder: the update order a dependent had before baton made it
	// start-first for a move.
	LabelOrder = "baton.order."
	// LabelOwned, on a node: the static label keys (comma-separated)
	// baton set there.
	LabelOwned = "baton.owned."
)
