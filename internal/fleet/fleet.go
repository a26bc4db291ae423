// Package fleet holds baton's own view of what runs: the containers it
// observed and the containers it wants started. Engine adapters convert
// their SDK types into these, so deciders never see an SDK type.
package fleet

import (
	"fmt"
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

// ServiceWant is the Swarm service baton wants for a swarm app.
type ServiceWant struct {
	Project  string
	App      string
	Name     string // <project>-<app>
	Hash     string
	Image    string
	Command  []string
	Args     []string
	Env      []string // KEY=value, sorted, including BATON_APP
	Labels   map[string]string
	Port     int // published in host mode on a port Swarm picks, per task
	MemoryB  int64
	MilliCPU int64
	ReserveB int64
	Replicas uint64
	// StopGrace is the time between SIGTERM and SIGKILL for a task.
	StopGrace time.Duration
	// Placement is where Swarm may run the tasks.
	Placement Placement
	// Networks are the overlay networks the tasks join (with the alias
	// <app>), created first from NeedNetworks; Secrets and Configs the
	// Swarm secrets and configs they mount (created first when missing).
	Networks     []Attach
	NeedNetworks []NetworkWant
	Secrets      []FileRef
	Configs      []FileRef
}

// FileRef is a Swarm secret or config a service mounts: Name is its Docker
// name, Target where the tasks see it, Data its content (to create it);
// the executor fills ID once it exists.
type FileRef struct {
	Key, Name, Target string
	External          bool
	Data              []byte
	ID                string
}

// SwarmFile is an observed Swarm secret or config baton created (kind
// "secret" or "config").
type SwarmFile struct {
	Kind, ID, Name string
	Labels         map[string]string
}

// Placement is a service's placement: constraints, spread preferences
// (node.labels.K) and the most tasks on one node (0: no cap).
type Placement struct {
	Constraints []string
	Preferences []string
	MaxReplicas uint64
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
func (v Volume) Anonymous() bool {
	if len(v.Name) != 64 {
		return false
	}
	for _, r := range v.Name {
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

// Node is a Swarm node.
type Node struct {
	ID       string
	Hostname string
	Labels   map[string]string
	Ready    bool   // status ready (false: down or unknown)
	Addr     string // the node's address as Swarm reports it
	// MemoryBytes is the memory the node reports (what Swarm schedules
	// reservations against).
	MemoryBytes int64
	// Active is false for a node drained or paused by its operator;
	// Availability is Swarm's word: active, pause or drain.
	Active       bool
	Availability string
	Role         string // manager or worker
	// Reachable: a manager whose Raft member the leader reaches (a
	// worker: false). Leader: the manager that leads.
	Reachable bool
	Leader    bool
}

// NodeEdit is a change to a node that the engine applies to a fresh read
// of it: labels set and removed, and (when not empty) its role and
// availability.
type NodeEdit struct {
	Set          map[string]string
	Remove       []string
	Role         string
	Availability string
}

// Service is a Swarm service.
type Service struct {
	ID          string
	Name        string
	Constraints []string
	Image       string
	Labels      map[string]string
	// Replicas is the replicated count; Global services have none.
	Replicas uint64
	Global   bool
	// ReserveMemory is the memory reservation of each task.
	ReserveMemory int64
	// UpdateState is Swarm's state of the service's last update:
	// updating, paused, completed, rollback_started, rollback_paused,
	// rollback_completed; empty when the service was never updated.
	// UpdateMessage is Swarm's word on it ("update paused due to failure
	// or early termination of task ...").
	UpdateState   string
	UpdateMessage string
	// UpdateOrder is the service's update order (start-first or
	// stop-first; empty: Swarm's default, stop-first).
	UpdateOrder string
	// Preferences are the spread preferences ("node.labels.zone") and
	// MaxReplicas the most tasks on one node (0: no limit).
	Preferences []string
	MaxReplicas uint64
}

// Updating reports whether Swarm is rolling the service (an update or its
// rollback in progress): its tasks are moving already.
func (s Service) Updating() bool {
	return s.UpdateState == "updating" || s.UpdateState == "rollback_started"
}

// UpdateStuck reports whether Swarm gave the service's last update up: it
// paused (the new tasks failed) or rolled it back.
func (s Service) UpdateStuck() bool {
	switch s.UpdateState {
	case "paused", "rollback_started", "rollback_paused", "rollback_completed":
		return true
	}
	return false
}

// Task is one task of a Swarm service that Swarm wants running.
type Task struct {
	ID          string
	ServiceID   string
	NodeID      string
	State       string // Swarm's task state: running, pending, ...
	ContainerID string
	// Hash is the spec hash of the swarm app the task was started for:
	// during a rolling update old and new tasks differ.
	Hash string
	// HostPorts are the ports the task publishes in host mode on its
	// node, by target port.
	HostPorts map[int]int
	// Slot is the task's replica slot (1-based; 0 for a global service's
	// task).
	Slot int
	// Err is Swarm's error for a task that failed or was rejected ("No
	// such image: ..."), Message its last status message.
	Err     string
	Message string
	// Started is when Swarm made the task (it runs soon after; Swarm's
	// status timestamp moves with every report, so it is no start time).
	Started time.Time
}

// Running reports whether Swarm says the task runs.
func (t Task) Running() bool { return t.State == "running" }

// Placed reports whether the task sits on a node and is not over: assigned
// there, starting or running. A pending task with no node yet is not.
func (t Task) Placed() bool {
	if t.NodeID == "" {
		return false
	}
	switch t.State {
	case "new", "pending", "complete", "shutdown", "failed", "rejected", "remove", "orphaned":
		return false
	}
	return true
}

// ServiceEdit is a change to a service that the engine applies to a fresh
// read of it, at that read's version (re-read and re-applied when Swarm
// refuses a stale version): constraints and labels added or removed, the
// update order set, saved or restored. Every part is idempotent, so
// applying it to a service that already has it changes nothing.
type ServiceEdit struct {
	AddConstraints    []string
	RemoveConstraints []string
	SetLabels         map[string]string
	RemoveLabels      []string
	// StartFirst makes the service's update order start-first, saving
	// the order it had in the label SaveOrder (unless that label is
	// already there).
	StartFirst bool
	SaveOrder  string
	// RestoreOrder, a label name, sets the update order to that label's
	// value and removes the label.
	RestoreOrder string
}

// Empty reports whether the edit changes nothing.
func (e ServiceEdit) Empty() bool {
	return len(e.AddConstraints) == 0 && len(e.RemoveConstraints) == 0 && len(e.SetLabels) == 0 &&
		len(e.RemoveLabels) == 0 && !e.StartFirst && e.RestoreOrder == ""
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

// Satisfies evaluates Swarm placement constraints against the node: the
// forms node.id, node.hostname, node.role and node.labels.K with == or
// !=. Any other form (engine labels, platform) counts as not satisfied,
// so baton never sends a service somewhere Swarm would refuse.
func (n Node) Satisfies(constraints []string) bool {
	for _, c := range constraints {
		key, op, want, ok := ParseConstraint(c)
		if !ok {
			return false
		}
		var have string
		var present bool
		switch {
		case key == "node.id":
			have, present = n.ID, true
		case key == "node.hostname":
			have, present = n.Hostname, true
		case key == "node.role":
			have, present = n.Role, true
		case strings.HasPrefix(key, "node.labels."):
			have, present = n.Labels[strings.TrimPrefix(key, "node.labels.")]
		default:
			return false
		}
		// Swarm compares case-insensitively.
		if (op == "==") != (present && strings.EqualFold(have, want)) {
			return false
		}
	}
	return true
}

// ParseConstraint splits "key==value" or "key!=value" (whichever operator
// comes first), trimming spaces.
func ParseConstraint(c string) (key, op, value string, ok bool) {
	op = "=="
	i := strings.Index(c, "==")
	if j := strings.Index(c, "!="); j >= 0 && (i < 0 || j < i) {
		i, op = j, "!="
	}
	if i < 0 {
		return "", "", "", false
	}
	return strings.TrimSpace(c[:i]), op, strings.TrimSpace(c[i+2:]), true
}
