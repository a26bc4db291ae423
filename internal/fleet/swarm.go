package fleet

import (
	"strings"
	"time"
)

// Membership is what a node's own engine says of its place in a swarm.
type Membership struct {
	// State is Docker's local node state: inactive (in no swarm),
	// pending, active, error or locked.
	State     string
	NodeID    string
	ClusterID string
	// Managers are the managers' addresses the node knows (host:port).
	Managers []string
}

// JoinRequest joins an engine to a swarm.
type JoinRequest struct {
	Token string
	// Managers are the managers to contact (host:port).
	Managers []string
	// AdvertiseAddr is the address the node tells the others (empty:
	// Docker picks one); ListenAddr the one it listens on for the swarm.
	AdvertiseAddr, ListenAddr string
}

// JoinInfo is what a manager gives for joining its swarm.
type JoinInfo struct {
	ClusterID                 string
	WorkerToken, ManagerToken string
	Managers                  []string
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

// Empty reports whether the edit changes nothing.
// Constraints are the constraints cur becomes under the edit: the removed
// ones dropped, the added ones appended unless present (compared without
// spaces, as Swarm writes "node.labels.a == b" and "node.labels.a==b").
func (e ServiceEdit) Constraints(cur []string) []string {
	norm := func(c string) string { return strings.ReplaceAll(c, " ", "") }
	var kept []string
	for _, c := range cur {
		drop := false
		for _, r := range e.RemoveConstraints {
			drop = drop || norm(r) == norm(c)
		}
		if !drop {
			kept = append(kept, c)
		}
	}
	for _, a := range e.AddConstraints {
		have := false
		for _, c := range kept {
			have = have || norm(c) == norm(a)
		}
		if !have {
			kept = append(kept, a)
		}
	}
	return kept
}

func (e ServiceEdit) Empty() bool {
	return len(e.AddConstraints) == 0 && len(e.RemoveConstraints) == 0 && len(e.SetLabels) == 0 &&
		len(e.RemoveLabels) == 0 && !e.StartFirst && e.RestoreOrder == ""
}
