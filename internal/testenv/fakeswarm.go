package testenv

// fakeswarm.go is the Swarm half of FakeEngine: nodes, services and tasks
// kept in memory, where a pin moves a service's tasks at once and a
// service's tasks follow its replica count.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// AddService puts a service in with replicas tasks on node.
func (f *FakeEngine) AddService(s fleet.Service, node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	f.ServiceSet[s.ID] = &s
	f.placeLocked(&s, node)
}

// placeLocked gives the service exactly its replica count of running
// tasks, new ones on node.
func (f *FakeEngine) placeLocked(s *fleet.Service, node string) {
	var kept []fleet.Task
	n := uint64(0)
	// As Swarm does on a scale-down, tasks that do not run go first.
	ordered := append([]fleet.Task(nil), f.TaskSet...)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].Running() && !ordered[j].Running() })
	for _, t := range ordered {
		if t.ServiceID != s.ID {
			kept = append(kept, t)
			continue
		}
		if n < s.Replicas {
			if node != "" {
				t.NodeID = node
			}
			kept = append(kept, t)
			n++
		}
	}
	for ; n < s.Replicas; n++ {
		f.next++
		t := fleet.Task{ID: fmt.Sprintf("t%04d", f.next), ServiceID: s.ID, NodeID: node, State: "running", Hash: s.Labels[fleet.LabelHash],
			Slot: f.next, ContainerID: fmt.Sprintf("tc%04d", f.next), Started: f.now()}
		f.publishLocked(&t)
		kept = append(kept, t)
	}
	f.TaskSet = kept
}

// publishLocked gives a task of a service with a port its own server
// (f.addr: on 127.0.0.1, the address a test gives the nodes), published
// in host mode.
func (f *FakeEngine) publishLocked(t *fleet.Task) {
	port := f.ports[t.ServiceID]
	if port == 0 || f.addr == nil {
		return
	}
	addr := f.addr()
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		if hp, err := strconv.Atoi(addr[i+1:]); err == nil {
			t.HostPorts = map[int]int{port: hp}
		}
	}
}

func (f *FakeEngine) nodeID(host string) string {
	for _, n := range f.NodeSet {
		if n.Hostname == host {
			return n.ID
		}
	}
	return ""
}

// Nodes lists the nodes.
func (f *FakeEngine) Nodes(context.Context) ([]fleet.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("nodes"); err != nil {
		return nil, err
	}
	out := make([]fleet.Node, len(f.NodeSet))
	for i, n := range f.NodeSet {
		n.Labels = copyLabels(n.Labels)
		out[i] = n
	}
	return out, nil
}

// Services lists the services by name.
func (f *FakeEngine) Services(context.Context) ([]fleet.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("services"); err != nil {
		return nil, err
	}
	var out []fleet.Service
	for _, s := range f.ServiceSet {
		c := *s
		c.Labels = copyLabels(s.Labels)
		c.Constraints = append([]string(nil), s.Constraints...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Tasks lists the tasks.
func (f *FakeEngine) Tasks(context.Context) ([]fleet.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fleet.Task(nil), f.TaskSet...), f.call("tasks")
}

// SetNodeLabels sets and removes labels of a node. As Swarm's constraint
// enforcer does, tasks on it whose service's constraints it no longer
// meets are stopped at once and placed again (Rejected counts them).
func (f *FakeEngine) EditNode(_ context.Context, n fleet.Node, edit fleet.NodeEdit) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("label node " + n.Hostname); err != nil {
		return err
	}
	for i := range f.NodeSet {
		if f.NodeSet[i].ID != n.ID {
			continue
		}
		l := copyLabels(f.NodeSet[i].Labels)
		for _, k := range edit.Remove {
			delete(l, k)
		}
		for k, v := range edit.Set {
			l[k] = v
		}
		f.NodeSet[i].Labels = l
		if edit.Role != "" {
			f.NodeSet[i].Role = edit.Role
			f.NodeSet[i].Reachable = edit.Role == "manager" && f.NodeSet[i].Ready
		}
		if edit.Availability != "" {
			f.NodeSet[i].Availability, f.NodeSet[i].Active = edit.Availability, edit.Availability == "active"
		}
	}
	for i, t := range f.TaskSet {
		if t.NodeID == n.ID {
			if s := f.ServiceSet[t.ServiceID]; s != nil && !f.nodeLocked(n.ID).Satisfies(s.Constraints) {
				f.Rejected++
				f.TaskSet[i] = f.placeTaskLocked(t, s)
			}
		}
	}
	return nil
}

// EditService applies an edit; as Swarm's updater does, tasks on nodes
// that no longer meet the constraints move to one that does (start-first
// or not, at once), the others stay.
func (f *FakeEngine) EditService(_ context.Context, s fleet.Service, edit fleet.ServiceEdit) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("edit service " + s.Name); err != nil {
		return err
	}
	cur := f.ServiceSet[s.ID]
	if cur == nil {
		return fmt.Errorf("no such service %s", s.Name)
	}
	cur.Constraints = edit.Constraints(cur.Constraints)
	if edit.StartFirst {
		if _, saved := cur.Labels[edit.SaveOrder]; edit.SaveOrder != "" && !saved {
			cur.Labels[edit.SaveOrder] = cur.UpdateOrder
		}
		cur.UpdateOrder = "start-first"
	}
	if edit.RestoreOrder != "" {
		if o, ok := cur.Labels[edit.RestoreOrder]; ok {
			cur.UpdateOrder = o
			delete(cur.Labels, edit.RestoreOrder)
		}
	}
	for _, k := range edit.RemoveLabels {
		delete(cur.Labels, k)
	}
	for k, v := range edit.SetLabels {
		cur.Labels[k] = v
	}
	for i, t := range f.TaskSet {
		if t.ServiceID == s.ID && (t.NodeID == "" || !f.nodeLocked(t.NodeID).Satisfies(cur.Constraints)) {
			f.TaskSet[i] = f.placeTaskLocked(t, cur)
		}
	}
	return nil
}

// placeTaskLocked puts a task on the first ready, active node that meets
// the service's constraints, or leaves it pending with no node.
func (f *FakeEngine) placeTaskLocked(t fleet.Task, s *fleet.Service) fleet.Task {
	f.next++
	t.ID = fmt.Sprintf("t%04d", f.next)
	for _, n := range f.NodeSet {
		if n.Ready && n.Active && n.Satisfies(s.Constraints) {
			t.NodeID, t.State = n.ID, "running"
			f.publishLocked(&t)
			return t
		}
	}
	t.NodeID, t.State = "", "pending"
	return t
}

// fitLocked is the first ready, active node that meets the service's
// constraints ("" if none).
func (f *FakeEngine) fitLocked(s *fleet.Service) string {
	for _, n := range f.NodeSet {
		if n.Ready && n.Active && n.Satisfies(s.Constraints) {
			return n.ID
		}
	}
	return ""
}

func (f *FakeEngine) nodeLocked(id string) fleet.Node {
	for _, n := range f.NodeSet {
		if n.ID == id {
			return n
		}
	}
	return fleet.Node{}
}
