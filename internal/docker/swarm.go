package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

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
	return retryConflicts("update service "+s.Name, func() error {
		ctx, cancel := e.bound(ctx, 1)
		defer cancel()
		cur, _, err := e.cli.ServiceInspectWithRaw(ctx, s.ID, swarm.ServiceInspectOptions{})
		if err != nil {
			return e.wrap(fmt.Sprintf("inspect service %s", s.Name), err)
		}
		spec := cur.Spec
		ApplyEdit(&spec, edit)
		if _, err := e.cli.ServiceUpdate(ctx, s.ID, cur.Version, spec, swarm.ServiceUpdateOptions{}); err != nil {
			return e.wrap(fmt.Sprintf("update service %s", s.Name), err)
		}
		return nil
	})
}

// ApplyEdit applies a fleet.ServiceEdit to a service spec.
func ApplyEdit(spec *swarm.ServiceSpec, edit fleet.ServiceEdit) {
	if spec.TaskTemplate.Placement == nil {
		spec.TaskTemplate.Placement = &swarm.Placement{}
	}
	p := spec.TaskTemplate.Placement
	norm := func(c string) string { return strings.ReplaceAll(c, " ", "") }
	var kept []string
	for _, c := range p.Constraints {
		drop := false
		for _, r := range edit.RemoveConstraints {
			drop = drop || norm(r) == norm(c)
		}
		if !drop {
			kept = append(kept, c)
		}
	}
	for _, a := range edit.AddConstraints {
		have := false
		for _, c := range kept {
			have = have || norm(c) == norm(a)
		}
		if !have {
			kept = append(kept, a)
		}
	}
	p.Constraints = kept
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

// serviceSpec builds the spec of a swarm app's service: host-mode
// published port (the routing mesh needs IPVS, which not every kernel
// has), DNS round robin, start-first rolling updates.
func serviceSpec(w fleet.ServiceWant) swarm.ServiceSpec {
	labels := map[string]string{fleet.LabelProject: w.Project, fleet.LabelApp: w.App, fleet.LabelHash: w.Hash}
	// The tasks' containers carry the app's labels but not baton's
	// project label: local passes on a manager must never take them for
	// containers of their own.
	clabels := map[string]string{fleet.LabelServiceApp: w.App, fleet.LabelHash: w.Hash}
	for k, v := range w.Labels {
		clabels[k] = v
	}
	replicas := w.Replicas
	grace := w.StopGrace
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: w.Name, Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: w.Image, Command: w.Command, Args: w.Args, Env: w.Env,
				Labels: clabels, StopGracePeriod: &grace},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny},
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStartFirst, FailureAction: swarm.UpdateFailureActionRollback},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}
	if p := w.Placement; len(p.Constraints) > 0 || len(p.Preferences) > 0 || p.MaxReplicas > 0 {
		spec.TaskTemplate.Placement = placementOf(p, nil)
	}
	if w.Port != 0 {
		spec.EndpointSpec.Ports = []swarm.PortConfig{{Protocol: swarm.PortConfigProtocolTCP, TargetPort: uint32(w.Port), PublishMode: swarm.PortConfigPublishModeHost}}
	}
	for _, n := range w.Networks {
		spec.TaskTemplate.Networks = append(spec.TaskTemplate.Networks, swarm.NetworkAttachmentConfig{Target: n.Network, Aliases: n.Aliases})
	}
	cs := spec.TaskTemplate.ContainerSpec
	for _, r := range w.Secrets {
		cs.Secrets = append(cs.Secrets, &swarm.SecretReference{SecretID: r.ID, SecretName: r.Name,
			File: &swarm.SecretReferenceFileTarget{Name: r.Target, UID: "0", GID: "0", Mode: 0o444}})
	}
	for _, r := range w.Configs {
		cs.Configs = append(cs.Configs, &swarm.ConfigReference{ConfigID: r.ID, ConfigName: r.Name,
			File: &swarm.ConfigReferenceFileTarget{Name: r.Target, UID: "0", GID: "0", Mode: 0o444}})
	}
	if w.MemoryB != 0 || w.MilliCPU != 0 || w.ReserveB != 0 {
		spec.TaskTemplate.Resources = &swarm.ResourceRequirements{}
		if w.MemoryB != 0 || w.MilliCPU != 0 {
			spec.TaskTemplate.Resources.Limits = &swarm.Limit{MemoryBytes: w.MemoryB, NanoCPUs: w.MilliCPU * 1e6}
		}
		if w.ReserveB != 0 {
			spec.TaskTemplate.Resources.Reservations = &swarm.Resources{MemoryBytes: w.ReserveB}
		}
	}
	return spec
}

// placementOf is a swarm placement: the app's constraints after the ones
// baton's passes added (kept), its spread preferences, its cap per node.
func placementOf(p fleet.Placement, kept []string) *swarm.Placement {
	out := &swarm.Placement{Constraints: append(append([]string(nil), kept...), p.Constraints...), MaxReplicas: p.MaxReplicas}
	for _, pr := range p.Preferences {
		out.Preferences = append(out.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: pr}})
	}
	return out
}

// PlaceService sets a swarm app's placement: its constraints replace the
// app's previous ones, and the constraints in keep (those labels sync and
// rebalance added) stay; on a fresh read, at its version, re-read on a
// conflict. Swarm moves only the tasks whose node no longer matches.
func (e *Engine) PlaceService(ctx context.Context, s fleet.Service, p fleet.Placement, keep []string) error {
	return retryConflicts("place service "+s.Name, func() error {
		ctx, cancel := e.bound(ctx, 1)
		defer cancel()
		cur, _, err := e.cli.ServiceInspectWithRaw(ctx, s.ID, swarm.ServiceInspectOptions{})
		if err != nil {
			return e.wrap("inspect service "+s.Name, err)
		}
		spec := cur.Spec
		var kept []string
		if old := spec.TaskTemplate.Placement; old != nil {
			for _, c := range old.Constraints {
				for _, k := range keep {
					if strings.ReplaceAll(c, " ", "") == strings.ReplaceAll(k, " ", "") {
						kept = append(kept, c)
						break
					}
				}
			}
		}
		pl := placementOf(p, kept)
		if old := spec.TaskTemplate.Placement; old != nil {
			pl.Platforms = old.Platforms
		}
		spec.TaskTemplate.Placement = pl
		if _, err := e.cli.ServiceUpdate(ctx, s.ID, cur.Version, spec, swarm.ServiceUpdateOptions{}); err != nil {
			return e.wrap("update service "+s.Name, err)
		}
		return nil
	})
}

// CreateService creates a swarm app's service.
func (e *Engine) CreateService(ctx context.Context, w fleet.ServiceWant) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	// The image is taken as named: each node resolves it itself (no
	// registry lookup from the manager).
	if _, err := e.cli.ServiceCreate(ctx, serviceSpec(w), swarm.ServiceCreateOptions{QueryRegistry: false}); err != nil {
		return e.wrap("create service "+w.Name, err)
	}
	return nil
}

// ErrConflict says a compare-and-swap found the service changed since it
// was read; the caller re-reads and re-decides.
var ErrConflict = errors.New("the service changed since it was read")

// UpdateServiceSpec rolls a swarm app's service to a new spec (Swarm's
// start-first rolling update), keeping the replica count it has now —
// replica changes go through ScaleService. Constraints and labels others
// set (labels sync, rebalance pins) are kept.
func (e *Engine) UpdateServiceSpec(ctx context.Context, id string, w fleet.ServiceWant) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	cur, _, err := e.cli.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
	if err != nil {
		return e.wrap("inspect service "+w.Name, err)
	}
	spec := serviceSpec(w)
	spec.Mode = cur.Spec.Mode
	spec.TaskTemplate.Placement = cur.Spec.TaskTemplate.Placement
	spec.TaskTemplate.ForceUpdate = cur.Spec.TaskTemplate.ForceUpdate
	for k, v := range cur.Spec.Labels {
		if _, ours := spec.Labels[k]; !ours {
			spec.Labels[k] = v
		}
	}
	if _, err := e.cli.ServiceUpdate(ctx, id, cur.Version, spec, swarm.ServiceUpdateOptions{}); err != nil {
		return e.wrap("update service "+w.Name, err)
	}
	return nil
}

// ScaleService sets a replicated service's count by compare-and-swap: it
// reads the service, asks decide for the count given the count read, and
// updates at the version of that read. When Swarm refuses the update
// because the service changed in between (another baton, an operator), it
// reads again and asks decide again — at most attempts times. It returns
// the count it replaced, the count it set, and how many reads lost a race.
func (e *Engine) ScaleService(ctx context.Context, id string, attempts int, decide func(current uint64) uint64) (from, to uint64, conflicts int, err error) {
	for i := 0; i < attempts; i++ {
		from, to, err = e.scaleOnce(ctx, id, decide)
		if err == nil || !isOutOfSequence(err) {
			return from, to, conflicts, err
		}
		conflicts++
	}
	return from, to, conflicts, fmt.Errorf("scale service %s: %w (%d attempts)", id, ErrConflict, attempts)
}

func (e *Engine) scaleOnce(ctx context.Context, id string, decide func(uint64) uint64) (uint64, uint64, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	cur, _, err := e.cli.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
	if err != nil {
		return 0, 0, e.wrap("inspect service "+id, err)
	}
	m := cur.Spec.Mode.Replicated
	if m == nil || m.Replicas == nil {
		return 0, 0, fmt.Errorf("service %s is not replicated", cur.Spec.Name)
	}
	from := *m.Replicas
	to := decide(from)
	if to == from {
		return from, to, nil
	}
	spec := cur.Spec
	spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &to}
	if _, err := e.cli.ServiceUpdate(ctx, id, cur.Version, spec, swarm.ServiceUpdateOptions{}); err != nil {
		return from, to, e.wrap("update service "+cur.Spec.Name, err)
	}
	return from, to, nil
}

// isOutOfSequence reports Swarm's refusal of an update carrying an old
// version.
func isOutOfSequence(err error) bool {
	return err != nil && strings.Contains(err.Error(), "update out of sequence")
}

// RemoveService removes a service.
func (e *Engine) RemoveService(ctx context.Context, id string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	if err := e.cli.ServiceRemove(ctx, id); err != nil {
		return e.wrap("remove service "+id, err)
	}
	return nil
}

// PinService adds the placement constraint node.hostname==<host> and the
// labels naming it, so Swarm moves the service's tasks to that node — only
// if its constraints are still what the pass read. The move runs
// start-first: the old task serves until the new one runs, and keeps
// serving if the new one cannot start.
func (e *Engine) PinService(ctx context.Context, s fleet.Service, host string, now time.Time) error {
	return e.editService(ctx, s, func(spec *swarm.ServiceSpec) {
		c := PinConstraint(host)
		if spec.TaskTemplate.Placement == nil {
			spec.TaskTemplate.Placement = &swarm.Placement{}
		}
		spec.TaskTemplate.Placement.Constraints = append(spec.TaskTemplate.Placement.Constraints, c)
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		spec.Labels[fleet.LabelPin] = c
		spec.Labels[fleet.LabelPinSince] = now.UTC().Format(time.RFC3339)
		spec.Labels[fleet.LabelMoved] = now.UTC().Format(time.RFC3339)
		if spec.UpdateConfig == nil {
			spec.UpdateConfig = &swarm.UpdateConfig{Parallelism: 1}
		}
		spec.Labels[fleet.LabelPinOrder] = spec.UpdateConfig.Order
		spec.UpdateConfig.Order = swarm.UpdateOrderStartFirst
	})
}

// UnpinService removes the constraint and labels PinService added (but
// baton.rebalance.moved, the move's time, which every manager's cooldowns
// read) and restores the update order. Swarm leaves tasks that run on a
// node matching the looser constraints where they are: this change
// restarts nothing.
func (e *Engine) UnpinService(ctx context.Context, s fleet.Service) error {
	pin := s.Labels[fleet.LabelPin]
	return e.editService(ctx, s, func(spec *swarm.ServiceSpec) {
		if p := spec.TaskTemplate.Placement; p != nil {
			var kept []string
			for _, c := range p.Constraints {
				if c != pin {
					kept = append(kept, c)
				}
			}
			p.Constraints = kept
		}
		if order, ok := spec.Labels[fleet.LabelPinOrder]; ok && spec.UpdateConfig != nil {
			spec.UpdateConfig.Order = order
		}
		delete(spec.Labels, fleet.LabelPin)
		delete(spec.Labels, fleet.LabelPinSince)
		delete(spec.Labels, fleet.LabelPinOrder)
	})
}

// PinConstraint is the constraint rebalance pins a service with.
func PinConstraint(host string) string { return "node.hostname==" + host }

// editService applies edit to a fresh read of the service, if its
// constraints are still those read by the pass, at that read's version;
// when Swarm refuses the version it reads again (the check included).
func (e *Engine) editService(ctx context.Context, s fleet.Service, edit func(*swarm.ServiceSpec)) error {
	return retryConflicts("update service "+s.Name, func() error {
		ctx, cancel := e.bound(ctx, 1)
		defer cancel()
		cur, _, err := e.cli.ServiceInspectWithRaw(ctx, s.ID, swarm.ServiceInspectOptions{})
		if err != nil {
			return e.wrap(fmt.Sprintf("inspect service %s", s.Name), err)
		}
		var now []string
		if p := cur.Spec.TaskTemplate.Placement; p != nil {
			now = p.Constraints
		}
		if strings.Join(now, "\x00") != strings.Join(s.Constraints, "\x00") {
			return fmt.Errorf("the constraints of service %s changed since they were read; the next pass re-decides", s.Name)
		}
		spec := cur.Spec
		edit(&spec)
		if _, err := e.cli.ServiceUpdate(ctx, s.ID, cur.Version, spec, swarm.ServiceUpdateOptions{}); err != nil {
			return e.wrap(fmt.Sprintf("update service %s", s.Name), err)
		}
		return nil
	})
}

// EnsureSwarmFile makes a Swarm secret or config (kind "secret" or
// "config") present and returns its ID: an external one must exist; one of
// baton's is created from its data, labelled with the project and its key,
// unless one of its name (its content's) exists already. A same-named one
// that is not the project's is refused.
func (e *Engine) EnsureSwarmFile(ctx context.Context, project, kind string, f fleet.FileRef) (string, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	label := fleet.LabelSecret
	if kind == "config" {
		label = fleet.LabelConfig
	}
	var id string
	var labels map[string]string
	switch kind {
	case "secret":
		list, err := e.cli.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("name", f.Name))})
		if err != nil {
			return "", e.wrap("list secrets", err)
		}
		for _, x := range list {
			if x.Spec.Name == f.Name {
				id, labels = x.ID, x.Spec.Labels
			}
		}
	default:
		list, err := e.cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: filters.NewArgs(filters.Arg("name", f.Name))})
		if err != nil {
			return "", e.wrap("list configs", err)
		}
		for _, x := range list {
			if x.Spec.Name == f.Name {
				id, labels = x.ID, x.Spec.Labels
			}
		}
	}
	switch {
	case id != "" && (f.External || labels[fleet.LabelProject] == project):
		return id, nil
	case id != "":
		return "", fmt.Errorf("%s %q exists but is %w (no label %s=%s)", kind, f.Name, ErrNotOurs, fleet.LabelProject, project)
	case f.External:
		return "", fmt.Errorf("external %s %q does not exist in the swarm: create it (docker %s create), or give a file", kind, f.Name, kind)
	}
	ann := swarm.Annotations{Name: f.Name, Labels: map[string]string{fleet.LabelProject: project, label: f.Key}}
	if kind == "secret" {
		r, err := e.cli.SecretCreate(ctx, swarm.SecretSpec{Annotations: ann, Data: f.Data})
		if err != nil {
			return "", e.wrap("create secret "+f.Name, err)
		}
		return r.ID, nil
	}
	r, err := e.cli.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: ann, Data: f.Data})
	if err != nil {
		return "", e.wrap("create config "+f.Name, err)
	}
	return r.ID, nil
}

// SwarmFiles lists the secrets and configs baton created for project (two
// calls).
func (e *Engine) SwarmFiles(ctx context.Context, project string) ([]fleet.SwarmFile, error) {
	ctx, cancel := e.bound(ctx, 2)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", fleet.LabelProject+"="+project))
	secrets, err := e.cli.SecretList(ctx, swarm.SecretListOptions{Filters: f})
	if err != nil {
		return nil, e.wrap("list secrets", err)
	}
	configs, err := e.cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: f})
	if err != nil {
		return nil, e.wrap("list configs", err)
	}
	var out []fleet.SwarmFile
	for _, x := range secrets {
		out = append(out, fleet.SwarmFile{Kind: "secret", ID: x.ID, Name: x.Spec.Name, Labels: x.Spec.Labels})
	}
	for _, x := range configs {
		out = append(out, fleet.SwarmFile{Kind: "config", ID: x.ID, Name: x.Spec.Name, Labels: x.Spec.Labels})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind+out[i].Name < out[j].Kind+out[j].Name })
	return out, nil
}

// ErrInUseByService says Swarm refused to remove a secret or config a
// service still mounts.
var ErrInUseByService = errors.New("still mounted by a service")

// RemoveSwarmFile removes a secret or config baton created.
func (e *Engine) RemoveSwarmFile(ctx context.Context, f fleet.SwarmFile) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	var err error
	if f.Kind == "secret" {
		err = e.cli.SecretRemove(ctx, f.ID)
	} else {
		err = e.cli.ConfigRemove(ctx, f.ID)
	}
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "in use"):
		return fmt.Errorf("%s %s: %w", f.Kind, f.Name, ErrInUseByService)
	}
	return e.wrap(fmt.Sprintf("remove %s %s", f.Kind, f.Name), err)
}

// Membership says what this engine knows of its swarm (one info call).
func (e *Engine) Membership(ctx context.Context) (fleet.Membership, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	info, err := e.cli.Info(ctx)
	if err != nil {
		return fleet.Membership{}, e.wrap("info", err)
	}
	m := fleet.Membership{State: string(info.Swarm.LocalNodeState), NodeID: info.Swarm.NodeID}
	if c := info.Swarm.Cluster; c != nil {
		m.ClusterID = c.ID
	}
	for _, p := range info.Swarm.RemoteManagers {
		m.Managers = append(m.Managers, p.Addr)
	}
	return m, nil
}

// JoinInfo reads the swarm's join tokens and managers from a manager.
func (e *Engine) JoinInfo(ctx context.Context) (fleet.JoinInfo, error) {
	ctx, cancel := e.bound(ctx, 2)
	defer cancel()
	sw, err := e.cli.SwarmInspect(ctx)
	if err != nil {
		return fleet.JoinInfo{}, e.wrap("inspect swarm", err)
	}
	info, err := e.cli.Info(ctx)
	if err != nil {
		return fleet.JoinInfo{}, e.wrap("info", err)
	}
	j := fleet.JoinInfo{ClusterID: sw.ID, WorkerToken: sw.JoinTokens.Worker, ManagerToken: sw.JoinTokens.Manager}
	for _, p := range info.Swarm.RemoteManagers {
		j.Managers = append(j.Managers, p.Addr)
	}
	sort.Strings(j.Managers)
	return j, nil
}

// JoinSwarm joins this engine to a swarm.
func (e *Engine) JoinSwarm(ctx context.Context, r fleet.JoinRequest) error {
	ctx, cancel := e.bound(ctx, 4)
	defer cancel()
	listen := r.ListenAddr
	if listen == "" {
		listen = "0.0.0.0:2377"
	}
	if err := e.cli.SwarmJoin(ctx, swarm.JoinRequest{ListenAddr: listen, AdvertiseAddr: r.AdvertiseAddr,
		RemoteAddrs: r.Managers, JoinToken: r.Token}); err != nil {
		return e.wrap("join the swarm", err)
	}
	return nil
}

// RemoveNode removes a node that is down from the swarm's list.
func (e *Engine) RemoveNode(ctx context.Context, id string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	if err := e.cli.NodeRemove(ctx, id, swarm.NodeRemoveOptions{}); err != nil {
		return e.wrap("remove node "+id, err)
	}
	return nil
}
