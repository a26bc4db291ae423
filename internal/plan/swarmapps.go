package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// ServiceActionKind is what scale does to a swarm app's service.
type ServiceActionKind string

// The service actions.
const (
	CreateService ServiceActionKind = "create service"
	RollService   ServiceActionKind = "roll service"
	ScaleReplicas ServiceActionKind = "scale service"
	RemoveService ServiceActionKind = "remove service"
	// PlaceService sets the service's placement (constraints,
	// preferences, cap per node): Swarm moves only the tasks whose node
	// no longer matches.
	PlaceService ServiceActionKind = "place service"
)

// ServiceAction is one decided change to a swarm app's service.
type ServiceAction struct {
	Kind    ServiceActionKind
	App     string
	Service fleet.Service // the observed service; empty for create
	Want    fleet.ServiceWant
	Reason  string
	// Keep are the constraints labels sync and rebalance added, which a
	// placement change keeps.
	Keep []string
}

// ServiceName is the Swarm service of a swarm app.
func ServiceName(s *spec.Spec, a *spec.App) string { return s.Project + "-" + a.Name }

// ServiceWantOf is the service a swarm app wants.
func ServiceWantOf(s *spec.Spec, a *spec.App, replicas int) fleet.ServiceWant {
	env := make([]string, 0, len(a.Env)+1)
	for k, v := range a.Env {
		env = append(env, k+"="+v)
	}
	// Swarm expands the template per task: BATON_REPLICA is the task's
	// slot (1, 2, ...).
	env = append(env, "BATON_APP="+a.Name, "BATON_REPLICA={{.Task.Slot}}")
	sort.Strings(env)
	return fleet.ServiceWant{
		Project: s.Project, App: a.Name, Name: ServiceName(s, a), Hash: s.HashOf(a),
		Image: a.Image, Command: a.Command, Args: a.Args, Env: env, Labels: a.Labels, Port: a.Port,
		MemoryB: a.Resources.Memory.Bytes, MilliCPU: a.Resources.CPU.Milli, ReserveB: a.Resources.ReserveMemory.Bytes,
		Replicas: uint64(replicas), StopGrace: a.StopGrace.D, Placement: PlacementOf(a),
		Networks: swarmNetworks(s, a), NeedNetworks: swarmNetworkWants(s, a),
		Secrets: fileRefs(s.SecretsOf(a)), Configs: fileRefs(s.ConfigsOf(a)),
	}
}

// swarmNetworks are the overlay networks a swarm app's tasks join, each
// with the alias <app> (with DNS round robin, the name resolves to every
// task).
func swarmNetworks(s *spec.Spec, a *spec.App) []fleet.Attach {
	var out []fleet.Attach
	for _, key := range s.NetworksOf(a) {
		out = append(out, fleet.Attach{Network: s.NetworkName(key), Aliases: []string{a.Name}})
	}
	return out
}

// swarmNetworkWants are the networks to make present before the service:
// the stack's, as an overlay network of the swarm unless a driver is
// given.
func swarmNetworkWants(s *spec.Spec, a *spec.App) []fleet.NetworkWant {
	var out []fleet.NetworkWant
	for _, key := range s.NetworksOf(a) {
		w := NetworkWant(s, key)
		if w.Driver == "" && !w.External {
			w.Driver = "overlay"
		}
		out = append(out, w)
	}
	return out
}

func fileRefs(in []spec.FileRef) []fleet.FileRef {
	var out []fleet.FileRef
	for _, r := range in {
		out = append(out, fleet.FileRef{Key: r.Key, Name: r.Name, Target: r.Target, External: r.External, Data: r.Data})
	}
	return out
}

// SwarmFileRemoval is a secret or config baton made that no app of the
// spec mounts any more (an old version, or one no longer declared).
type SwarmFileRemoval struct {
	File   fleet.SwarmFile
	Reason string
}

// PruneSwarmFiles decides which of the project's secrets and configs go:
// those no swarm app of the spec mounts. The engine refuses one a service
// still mounts (a rollout in progress); that is reported, not forced.
func PruneSwarmFiles(s *spec.Spec, files []fleet.SwarmFile) []Step {
	wanted := map[string]bool{}
	for _, a := range s.Apps {
		if !a.OnSwarm() {
			continue
		}
		for _, r := range append(s.SecretsOf(a), s.ConfigsOf(a)...) {
			wanted[r.Name] = true
		}
	}
	var out []Step
	for _, f := range files {
		key := f.Labels[fleet.LabelSecret] + f.Labels[fleet.LabelConfig]
		if f.Labels[fleet.LabelProject] != s.Project || key == "" || wanted[f.Name] {
			continue
		}
		reason := fmt.Sprintf("no swarm app mounts it: %s %q is no longer declared", f.Kind, key)
		declared := s.Secrets
		if f.Kind == "config" {
			declared = s.Configs
		}
		if d, ok := declared[key]; ok && s.SwarmFileName(d, key) != f.Name {
			reason = fmt.Sprintf("an old version of %s %q: the apps mount %s now", f.Kind, key, s.SwarmFileName(d, key))
		}
		out = append(out, Step{Kind: PruneSwarmFile, Type: "remove-" + f.Kind, Target: f.Kind + " " + f.Name, Reason: reason,
			Do: SwarmFileRemoval{File: f, Reason: reason}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// PlacementOf is a swarm app's placement from its spec.
func PlacementOf(a *spec.App) fleet.Placement {
	var p fleet.Placement
	if a.Placement == nil {
		return p
	}
	p.Constraints = append(p.Constraints, a.Placement.Constraints...)
	for _, pr := range a.Placement.Preferences {
		p.Preferences = append(p.Preferences, pr.Spread)
	}
	p.MaxReplicas = uint64(a.Placement.MaxReplicasPerNode)
	return p
}

// OwnConstraints are the constraints baton's passes added to a service
// (rebalance's pin, labels sync's anchor and leave constraints of any
// project): a swarm app's placement is the rest.
func OwnConstraints(s fleet.Service) []string {
	ours := map[string]bool{}
	if pin := s.Labels[fleet.LabelPin]; pin != "" {
		ours[norm(pin)] = true
	}
	for k, v := range s.Labels {
		switch {
		case strings.HasPrefix(k, fleet.LabelFollows):
			ours[norm(v)] = true
		case strings.HasPrefix(k, fleet.LabelLeaving):
			for _, h := range splitList(v) {
				ours[norm(LeaveConstraint(h))] = true
			}
		}
	}
	var out []string
	for _, c := range s.Constraints {
		if ours[norm(c)] {
			out = append(out, c)
		}
	}
	return out
}

func norm(c string) string { return strings.ReplaceAll(c, " ", "") }

// placementDiffers says how a service's placement differs from the app's
// (empty: it does not).
func placementDiffers(svc fleet.Service, want fleet.Placement) string {
	own := map[string]bool{}
	for _, c := range OwnConstraints(svc) {
		own[norm(c)] = true
	}
	var have []string
	for _, c := range svc.Constraints {
		if !own[norm(c)] {
			have = append(have, norm(c))
		}
	}
	var wanted []string
	for _, c := range want.Constraints {
		wanted = append(wanted, norm(c))
	}
	sort.Strings(have)
	sort.Strings(wanted)
	var why []string
	if strings.Join(have, "\x00") != strings.Join(wanted, "\x00") {
		why = append(why, fmt.Sprintf("constraints %s → %s", listOrNone(have), listOrNone(wanted)))
	}
	if strings.Join(svc.Preferences, "\x00") != strings.Join(want.Preferences, "\x00") {
		why = append(why, fmt.Sprintf("spread %s → %s", listOrNone(svc.Preferences), listOrNone(want.Preferences)))
	}
	if svc.MaxReplicas != want.MaxReplicas {
		why = append(why, fmt.Sprintf("max_replicas_per_node %d → %d", svc.MaxReplicas, want.MaxReplicas))
	}
	return strings.Join(why, ", ")
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, " ")
}

// ScaleServices decides scale's changes to swarm apps' services, given
// every service of the swarm:
//   - a swarm app without its service gets it created at its count;
//   - a service whose spec hash differs is rolled by Swarm (start-first);
//   - a service whose replica count differs is scaled (the engine does
//     it as a compare-and-swap and re-decides on a conflict);
//   - a service of the project whose app is not a swarm app in the spec
//     is removed.
func ScaleServices(s *spec.Spec, want Wanted, services []fleet.Service) []ServiceAction {
	var out []ServiceAction
	ours := map[string]fleet.Service{}
	for _, svc := range services {
		if svc.Labels[fleet.LabelProject] == s.Project && svc.Labels[fleet.LabelApp] != "" {
			ours[svc.Labels[fleet.LabelApp]] = svc
		}
	}
	for _, a := range s.Apps {
		if !a.OnSwarm() {
			continue
		}
		w := ServiceWantOf(s, a, want.Of(a.Name))
		svc, ok := ours[a.Name]
		delete(ours, a.Name)
		if !ok {
			out = append(out, ServiceAction{Kind: CreateService, App: a.Name, Want: w,
				Reason: fmt.Sprintf("swarm app has no service yet: create %s with %d replica(s)", w.Name, w.Replicas)})
			continue
		}
		if h := svc.Labels[fleet.LabelHash]; h != w.Hash {
			out = append(out, ServiceAction{Kind: RollService, App: a.Name, Service: svc, Want: w,
				Reason: fmt.Sprintf("spec changed (hash %s → %s): Swarm rolls the tasks start-first", orNone(h), w.Hash)})
		}
		if why := placementDiffers(svc, w.Placement); why != "" {
			out = append(out, ServiceAction{Kind: PlaceService, App: a.Name, Service: svc, Want: w, Keep: OwnConstraints(svc),
				Reason: "placement: " + why + " (Swarm moves only the tasks whose node no longer matches)"})
		}
		if !svc.Global && svc.Replicas != w.Replicas {
			out = append(out, ServiceAction{Kind: ScaleReplicas, App: a.Name, Service: svc, Want: w,
				Reason: fmt.Sprintf("%d replica(s) wanted, the service has %d", w.Replicas, svc.Replicas)})
		}
	}
	left := make([]string, 0, len(ours))
	for app := range ours {
		left = append(left, app)
	}
	sort.Strings(left)
	for _, app := range left {
		out = append(out, ServiceAction{Kind: RemoveService, App: app, Service: ours[app],
			Reason: fmt.Sprintf("app %q is no longer a swarm app in the spec", app)})
	}
	return out
}

// ScaledReason says what a compare-and-swap scale of a service did: the
// counts it went from and to, and how often the service changed under the
// pass (each time it was re-read and the count decided again).
func ScaledReason(from, to uint64, conflicts int) string {
	if from == to {
		return fmt.Sprintf("already at %d replica(s) when re-read: nothing to do", to)
	}
	r := fmt.Sprintf("%d → %d replica(s)", from, to)
	if conflicts > 0 {
		r += fmt.Sprintf("; the service changed under this pass %d time(s): re-read and re-decided", conflicts)
	}
	return r
}
