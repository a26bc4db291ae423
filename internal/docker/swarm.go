package docker

import (
	"context"
	"fmt"
	"sort"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// Nodes lists the Swarm's nodes in one call.
func (e *Engine) Nodes(ctx context.Context) ([]fleet.Node, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	ns, err := e.cli.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, e.wrap("list nodes", err)
	}
	out := make([]fleet.Node, 0, len(ns))
	for _, n := range ns {
		out = append(out, ConvertNode(n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hostname < out[j].Hostname })
	return out, nil
}

// ConvertNode turns a node into a fleet.Node.
func ConvertNode(n swarm.Node) fleet.Node {
	labels := map[string]string{}
	for k, v := range n.Spec.Labels {
		labels[k] = v
	}
	fn := fleet.Node{ID: n.ID, Hostname: n.Description.Hostname, Labels: labels,
		Ready: n.Status.State == swarm.NodeStateReady, Addr: n.Status.Addr,
		MemoryBytes: n.Description.Resources.MemoryBytes, Active: n.Spec.Availability == swarm.NodeAvailabilityActive,
		Availability: string(n.Spec.Availability), Role: string(n.Spec.Role)}
	if m := n.ManagerStatus; m != nil {
		fn.Reachable, fn.Leader = m.Reachability == swarm.ReachabilityReachable, m.Leader
	}
	return fn
}

// Services lists the Swarm's services in one call.
func (e *Engine) Services(ctx context.Context) ([]fleet.Service, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	ss, err := e.cli.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, e.wrap("list services", err)
	}
	out := make([]fleet.Service, 0, len(ss))
	for _, s := range ss {
		out = append(out, ConvertService(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Tasks lists the tasks Swarm wants running, in one call.
func (e *Engine) Tasks(ctx context.Context) ([]fleet.Task, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	ts, err := e.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, e.wrap("list tasks", err)
	}
	out := make([]fleet.Task, 0, len(ts))
	for _, t := range ts {
		out = append(out, ConvertTask(t))
	}
	return out, nil
}

// conflictAttempts bounds how often an update Swarm refused for a stale
// version is re-read and re-applied.
const conflictAttempts = 5

// retryConflicts runs update until Swarm stops refusing it for a stale
// version ("update out of sequence": someone else updated the object
// between the read and the write), at most conflictAttempts times; update
// reads the object afresh each time.
func retryConflicts(what string, update func() error) error {
	var err error
	for i := 0; i < conflictAttempts; i++ {
		if err = update(); err == nil || !isOutOfSequence(err) {
			return err
		}
	}
	return fmt.Errorf("%s: %w (%d attempts, each re-read)", what, ErrConflict, conflictAttempts)
}

// EditNode sets and removes labels of a node and sets its role and
// availability (when given), on a fresh read of it and at that read's
// version: labels others changed meanwhile are kept. When Swarm refuses
// the version (the node changed in between) it reads again and applies the
// change again.
func (e *Engine) EditNode(ctx context.Context, n fleet.Node, edit fleet.NodeEdit) error {
	set, remove := edit.Set, edit.Remove
	return retryConflicts("update node "+n.Hostname, func() error {
		ctx, cancel := e.bound(ctx, 1)
		defer cancel()
		cur, _, err := e.cli.NodeInspectWithRaw(ctx, n.ID)
		if err != nil {
			return e.wrap(fmt.Sprintf("inspect node %s", n.Hostname), err)
		}
		spec := cur.Spec
		labels := map[string]string{}
		for k, v := range spec.Labels {
			labels[k] = v
		}
		for _, k := range remove {
			delete(labels, k)
		}
		for k, v := range set {
			labels[k] = v
		}
		same := sameLabels(labels, spec.Labels)
		if edit.Role != "" && string(spec.Role) != edit.Role {
			spec.Role, same = swarm.NodeRole(edit.Role), false
		}
		if edit.Availability != "" && string(spec.Availability) != edit.Availability {
			spec.Availability, same = swarm.NodeAvailability(edit.Availability), false
		}
		if same {
			return nil
		}
		spec.Labels = labels
		if err := e.cli.NodeUpdate(ctx, n.ID, cur.Version, spec); err != nil {
			return e.wrap(fmt.Sprintf("update node %s", n.Hostname), err)
		}
		return nil
	})
}

// EditService applies an edit (constraints, labels, update order) to a
// fresh read of the service at that read's version, re-read and
// re-applied when Swarm refuses the version.
func (e *Engine) EditService(ctx context.Context, s fleet.Service, edit fleet.ServiceEdit) error {
	return e.updateService(ctx, s, false, func(spec *swarm.ServiceSpec) { ApplyEdit(spec, edit) })
}

// ApplyEdit applies a fleet.ServiceEdit to a service spec.
func ApplyEdit(spec *swarm.ServiceSpec, edit fleet.ServiceEdit) {
	if spec.TaskTemplate.Placement == nil {
		spec.TaskTemplate.Placement = &swarm.Placement{}
	}
	p := spec.TaskTemplate.Placement
	p.Constraints = edit.Constraints(p.Constraints)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	if spec.UpdateConfig == nil {
		spec.UpdateConfig = &swarm.UpdateConfig{Parallelism: 1}
	}
	if edit.StartFirst {
		if _, saved := spec.Labels[edit.SaveOrder]; edit.SaveOrder != "" && !saved {
			spec.Labels[edit.SaveOrder] = spec.UpdateConfig.Order
		}
		spec.UpdateConfig.Order = swarm.UpdateOrderStartFirst
	}
	if edit.RestoreOrder != "" {
		if order, ok := spec.Labels[edit.RestoreOrder]; ok {
			spec.UpdateConfig.Order = order
			delete(spec.Labels, edit.RestoreOrder)
		}
	}
	for _, k := range edit.RemoveLabels {
		delete(spec.Labels, k)
	}
	for k, v := range edit.SetLabels {
		spec.Labels[k] = v
	}
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// SwarmTaskLabel is on every container Swarm runs for a task.
const SwarmTaskLabel = "com.docker.swarm.task.id"

// ConvertService turns a service into a fleet.Service.
func ConvertService(s swarm.Service) fleet.Service {
	fs := fleet.Service{ID: s.ID, Name: s.Spec.Name, Labels: map[string]string{}}
	for k, v := range s.Spec.Labels {
		fs.Labels[k] = v
	}
	if p := s.Spec.TaskTemplate.Placement; p != nil {
		fs.Constraints = append(fs.Constraints, p.Constraints...)
	}
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
		fs.Image = cs.Image
	}
	if m := s.Spec.Mode.Replicated; m != nil && m.Replicas != nil {
		fs.Replicas = *m.Replicas
	}
	fs.Global = s.Spec.Mode.Global != nil
	if r := s.Spec.TaskTemplate.Resources; r != nil && r.Reservations != nil {
		fs.ReserveMemory = r.Reservations.MemoryBytes
	}
	if u := s.UpdateStatus; u != nil {
		fs.UpdateState, fs.UpdateMessage = string(u.State), u.Message
	}
	if u := s.Spec.UpdateConfig; u != nil {
		fs.UpdateOrder = u.Order
	}
	if p := s.Spec.TaskTemplate.Placement; p != nil {
		fs.MaxReplicas = p.MaxReplicas
		for _, pr := range p.Preferences {
			if pr.Spread != nil {
				fs.Preferences = append(fs.Preferences, pr.Spread.SpreadDescriptor)
			}
		}
	}
	return fs
}

// ConvertTask turns a task into a fleet.Task.
func ConvertTask(t swarm.Task) fleet.Task {
	ft := fleet.Task{ID: t.ID, ServiceID: t.ServiceID, NodeID: t.NodeID, State: string(t.Status.State),
		Slot: t.Slot, Err: t.Status.Err, Message: t.Status.Message, Started: t.CreatedAt.UTC()}
	if cs := t.Status.ContainerStatus; cs != nil {
		ft.ContainerID = cs.ContainerID
	}
	if cs := t.Spec.ContainerSpec; cs != nil {
		ft.Hash = cs.Labels[fleet.LabelHash]
	}
	for _, p := range t.Status.PortStatus.Ports {
		if p.PublishMode == swarm.PortConfigPublishModeHost && p.PublishedPort != 0 {
			if ft.HostPorts == nil {
				ft.HostPorts = map[int]int{}
			}
			ft.HostPorts[int(p.TargetPort)] = int(p.PublishedPort)
		}
	}
	return ft
}
