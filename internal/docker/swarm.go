package docker

import (
	"context"
	"fmt"
	"sort"
	"strings"

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
	return fleet.Node{ID: n.ID, Hostname: n.Description.Hostname, Labels: labels,
		Ready: n.Status.State == swarm.NodeStateReady, Addr: n.Status.Addr}
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
		fs := fleet.Service{ID: s.ID, Name: s.Spec.Name}
		if p := s.Spec.TaskTemplate.Placement; p != nil {
			fs.Constraints = append(fs.Constraints, p.Constraints...)
		}
		if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
			fs.Image = cs.Image
		}
		out = append(out, fs)
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
		out = append(out, fleet.Task{ID: t.ID, ServiceID: t.ServiceID, NodeID: t.NodeID, State: string(t.Status.State)})
	}
	return out, nil
}

// SetNodeLabels replaces a node's labels — only if they are still what the
// pass read (otherwise someone changed them meanwhile, and the next pass
// re-reads and re-decides). The update carries the version of a fresh
// read, so Swarm itself refuses it if anything changes in between.
func (e *Engine) SetNodeLabels(ctx context.Context, n fleet.Node, labels map[string]string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	cur, _, err := e.cli.NodeInspectWithRaw(ctx, n.ID)
	if err != nil {
		return e.wrap(fmt.Sprintf("inspect node %s", n.Hostname), err)
	}
	if !sameLabels(cur.Spec.Labels, n.Labels) {
		return fmt.Errorf("the labels of node %s changed since they were read; the next pass re-decides", n.Hostname)
	}
	spec := cur.Spec
	spec.Labels = labels
	if err := e.cli.NodeUpdate(ctx, n.ID, cur.Version, spec); err != nil {
		return e.wrap(fmt.Sprintf("update node %s", n.Hostname), err)
	}
	return nil
}

// UpdateService adds a placement constraint (when not empty) and/or forces
// a redeploy of the service's tasks — only if its constraints are still
// what the pass read, and at the version of a fresh read (Swarm refuses
// the update if the service changes in between).
func (e *Engine) UpdateService(ctx context.Context, s fleet.Service, addConstraint string, force bool) error {
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
	if addConstraint != "" {
		if spec.TaskTemplate.Placement == nil {
			spec.TaskTemplate.Placement = &swarm.Placement{}
		}
		spec.TaskTemplate.Placement.Constraints = append(spec.TaskTemplate.Placement.Constraints, addConstraint)
	}
	if force {
		spec.TaskTemplate.ForceUpdate++
	}
	if _, err := e.cli.ServiceUpdate(ctx, s.ID, cur.Version, spec, swarm.ServiceUpdateOptions{}); err != nil {
		return e.wrap(fmt.Sprintf("update service %s", s.Name), err)
	}
	return nil
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
