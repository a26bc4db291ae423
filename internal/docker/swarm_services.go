// Swarm services: created, updated, scaled by compare-and-swap, pinned and removed.

package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/docker/docker/api/types/swarm"
)

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
// constraints are still those read by the pass (see updateService).
func (e *Engine) editService(ctx context.Context, s fleet.Service, edit func(*swarm.ServiceSpec)) error {
	return e.updateService(ctx, s, true, edit)
}

// updateService applies edit to a fresh read of the service at that
// read's version; when Swarm refuses the version it reads again. With
// sameConstraints, a service whose constraints changed since the pass
// read them is left alone: the next pass re-decides.
func (e *Engine) updateService(ctx context.Context, s fleet.Service, sameConstraints bool, edit func(*swarm.ServiceSpec)) error {
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
		if sameConstraints && strings.Join(now, "\x00") != strings.Join(s.Constraints, "\x00") {
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
