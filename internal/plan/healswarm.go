package plan

// healswarm.go decides heal for swarm apps: a task that fails its check
// past the threshold is replaced through Swarm, start-first, with the same
// per-slot backoff as a local replica.
//
// Why a surge and not a healthcheck on the service: a Docker HEALTHCHECK
// runs a command inside the container (most images have no curl), and
// Swarm replaces an unhealthy task stop-first, with no backoff; and Swarm
// has no "replace this task". So the executor surges: the service gets
// one more task (compare-and-swap on its count), the new one must answer
// and enter the balancer, then the failing task's container is stopped at
// its node's own engine (swarm.nodes.<host>.docker) and the count goes
// back — Swarm removes a task that is not running first, so the stopped
// one is the one that goes. The failing task had left the balancer
// already; nothing that serves ever stops before its replacement runs.

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// ReplaceTask replaces one failing task of a swarm app (Do is a
// TaskReplacement).
const ReplaceTask Kind = "replace task"

// TaskReplacement is what the executor needs to replace a task.
type TaskReplacement struct {
	App     string
	Service fleet.Service
	Task    fleet.Task
	Node    fleet.Node
	// Endpoint is the node's own engine, where the task's container is
	// stopped.
	Endpoint string
	// Replicas is the service's count the surge starts from.
	Replicas uint64
	// Attempt: the task failed within stable_after of starting, an
	// attempt against its slot (else the slot starts afresh).
	Attempt bool
}

// Replaced is a replacement's outcome data: the slot of the task that
// went and of the one that took its place (Swarm numbers a surge's task
// anew), so the slot's backoff history follows the replica.
type Replaced struct {
	App           string
	OldSlot, Slot int
}

// HealTasksInput is what heal observed of swarm apps.
type HealTasksInput struct {
	Spec     *spec.Spec
	Nodes    []fleet.Node
	Services []fleet.Service
	Tasks    []fleet.Task
	// Members are the running tasks of swarm apps at their node's
	// address (SwarmMembers), Probes this pass's verdict of each (nil:
	// passed; missing: not probed).
	Members []fleet.Container
	Probes  map[string]error
	// Counters are the probe counters of the state file, by task ID;
	// Attempts the slots' recent crash-loop attempts.
	Counters map[string]*state.Probe
	Attempts map[Slot][]time.Time
}

// HealTasks decides heal for swarm apps.
//
// Rules:
//   - every running task of a swarm app gets its probe counters, as a
//     local replica does (UpdateProbes): failures in a row, successes,
//     unhealthy and recovered findings;
//   - a task with failure_threshold failures in a row is replaced, one
//     task per app per pass, never while Swarm updates the service, only
//     on a ready node whose engine swarm.nodes names (else a finding says
//     what to add);
//   - a task that failed within stable_after of starting is an attempt
//     against its slot (task slot), whose replacement waits while the slot
//     backs off (HoldFor); one that served longer resets its slot.
func HealTasks(in HealTasksInput, now time.Time) ([]Step, map[string]*state.Probe) {
	s := in.Spec
	pr := UpdateProbes(s, in.Members, in.Probes, in.Counters, now)
	var steps []Step
	for _, f := range pr.Findings {
		steps = append(steps, NewFinding(f.Type, f.App, f.Container, f.Reason))
	}
	svcOf := map[string]fleet.Service{}
	for _, svc := range in.Services {
		if svc.Labels[fleet.LabelProject] == s.Project && svc.Labels[fleet.LabelApp] != "" {
			svcOf[svc.ID] = svc
		}
	}
	taskOf := map[string]fleet.Task{}
	for _, t := range in.Tasks {
		taskOf[t.ID] = t
	}
	nodeOf := map[string]fleet.Node{}
	for _, n := range in.Nodes {
		nodeOf[n.ID] = n
	}
	members := append([]fleet.Container(nil), in.Members...)
	sort.Slice(members, func(i, j int) bool {
		ti, tj := taskOf[members[i].ID], taskOf[members[j].ID]
		if members[i].App != members[j].App {
			return members[i].App < members[j].App
		}
		return ti.Slot < tj.Slot
	})
	done := map[string]bool{} // app
	for _, m := range members {
		a := s.App(m.App)
		cnt := pr.Counters[m.ID]
		if a == nil || cnt == nil || cnt.Failures < a.Health.FailureThreshold || done[a.Name] {
			continue
		}
		t := taskOf[m.ID]
		svc, ok := svcOf[t.ServiceID]
		node := nodeOf[t.NodeID]
		target := fmt.Sprintf("%s.%d@%s", ServiceName(s, a), t.Slot, node.Hostname)
		why := fmt.Sprintf("task %s failed its health check %d times in a row: %s", target, cnt.Failures, cnt.LastError)
		endpoint := ""
		if s.Swarm != nil {
			endpoint = s.Swarm.Nodes[node.Hostname].Docker
		}
		switch {
		case !ok:
			continue
		case svc.Updating():
			f := NewFinding("hold", a.Name, target, why+"; Swarm is updating the service: it is replaced when the update is done")
			f.Key = "hold " + target
			steps = append(steps, f)
			continue
		case endpoint == "":
			f := NewFinding("unhealthy", a.Name, target, why+fmt.Sprintf("; it cannot be replaced: its node's engine is unknown (give swarm.nodes.%s.docker)", node.Hostname))
			f.Partial = fmt.Sprintf("swarm app %q: task %s fails its check and cannot be replaced without swarm.nodes.%s.docker", a.Name, target, node.Hostname)
			f.Key = "unhealthy " + target
			steps = append(steps, f)
			continue
		case !node.Ready:
			continue
		}
		slot := Slot{a.Name, t.Slot}
		attempt := cnt.FailingSince.IsZero() || m.Created.IsZero() || cnt.FailingSince.Sub(m.Created) < a.Health.StableAfter.D
		if attempt {
			if h, held := HoldFor(a, in.Attempts[slot], now); held {
				h.Replica = t.Slot
				steps = append(steps, HoldSteps([]Hold{h})...)
				continue
			}
		} else {
			why += fmt.Sprintf("; it served %s, so its slot starts afresh", cnt.FailingSince.Sub(m.Created).Round(time.Second))
		}
		done[a.Name] = true
		steps = append(steps, Step{Kind: ReplaceTask, Type: "replace", App: a.Name, Target: target,
			Reason: why + "; Swarm starts another task first, then the failing one stops",
			Do:     TaskReplacement{App: a.Name, Service: svc, Task: t, Node: node, Endpoint: endpoint, Replicas: svc.Replicas, Attempt: attempt}})
	}
	return steps, pr.Counters
}

// HealTasksCommit remembers the tasks' probe counters beside the
// containers' and moves each replaced slot's backoff to the slot of the
// task that took its place: an attempt more, or afresh.
func HealTasksCommit(s *spec.Spec, counters map[string]*state.Probe, now time.Time) func(*state.State, []Outcome) {
	return func(st *state.State, outs []Outcome) {
		if len(counters) > 0 && st.Probes == nil {
			st.Probes = map[string]*state.Probe{}
		}
		for id, c := range counters {
			st.Probes[id] = c
		}
		for _, o := range outs {
			r, ok := o.Step.Do.(TaskReplacement)
			if !ok {
				continue
			}
			a := s.App(r.App)
			if o.Err != nil {
				if r.Attempt {
					st.AddSlotAttempt(r.App, r.Task.Slot, now, a.Health.CrashloopWindow.D, s.HashOf(a))
				}
				continue
			}
			rep, _ := o.Data.(Replaced)
			rec := st.AppState(r.App)
			old := rec.Slots[strconv.Itoa(rep.OldSlot)]
			delete(rec.Slots, strconv.Itoa(rep.OldSlot))
			if !r.Attempt {
				st.ResetSlot(r.App, rep.Slot)
				continue
			}
			if rec.Slots == nil {
				rec.Slots = map[string][]time.Time{}
			}
			rec.Slots[strconv.Itoa(rep.Slot)] = old
			st.AddSlotAttempt(r.App, rep.Slot, now, a.Health.CrashloopWindow.D, s.HashOf(a))
		}
	}
}
