package plan

// stack.go builds the stack part of a container (mounts, fixed ports,
// networks with aliases, logs, options) and decides the stack's own
// steps: which networks baton removes, and which starts wait for a
// dependency (depends_on).

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// wantStack fills the stack fields of w from the app.
func wantStack(s *spec.Spec, a *spec.App, w *fleet.Want) {
	seenVol := map[string]bool{}
	for _, m := range s.MountsOf(a) {
		fm := fleet.Mount{Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case "volume":
			fm.Type, fm.Name = "volume", m.Source
			if !seenVol[m.Volume] {
				seenVol[m.Volume] = true
				w.NeedVolumes = append(w.NeedVolumes, VolumeWant(s, m.Volume))
			}
		case "anonymous":
			fm.Type = "volume"
		case "bind":
			fm.Type, fm.Source = "bind", m.Source
		}
		w.Mounts = append(w.Mounts, fm)
	}
	for _, t := range a.Tmpfs {
		if w.Tmpfs == nil {
			w.Tmpfs = map[string]string{}
		}
		path, opts, _ := strings.Cut(t, ":")
		w.Tmpfs[path] = opts
	}
	for _, p := range s.PortsOf(a) {
		w.Ports = append(w.Ports, fleet.PortBinding{HostIP: p.IP, HostPort: p.Host, ContainerPort: p.Container, Proto: p.Proto})
	}
	// A network that is not internal comes first: the first one is the
	// container's primary network, and Docker publishes no port on an
	// internal one.
	keys := append([]string{}, s.NetworksOf(a)...)
	sort.SliceStable(keys, func(i, j int) bool { return !internal(s, keys[i]) && internal(s, keys[j]) })
	for _, key := range keys {
		w.Networks = append(w.Networks, fleet.Attach{Network: s.NetworkName(key), Aliases: []string{a.Name}})
		w.NeedNetworks = append(w.NeedNetworks, NetworkWant(s, key))
	}
	w.LogDriver, w.LogOptions = a.LogConfig()
	w.User, w.WorkingDir, w.StopSignal, w.ReadOnly = a.User, a.WorkingDir, a.StopSignal, a.ReadOnly
	w.CapAdd, w.CapDrop = a.CapAdd, a.CapDrop
	for _, h := range a.ExtraHosts {
		// Docker wants HOST:IP; compose also writes HOST=IP.
		if k := strings.IndexAny(h, ":="); k > 0 {
			h = h[:k] + ":" + strings.Trim(h[k+1:], "[]")
		}
		w.ExtraHosts = append(w.ExtraHosts, h)
	}
	if a.Restart != "" && a.Restart != "no" {
		policy, n, _ := strings.Cut(a.Restart, ":")
		w.Restart = policy
		w.RestartRetries, _ = strconv.Atoi(n)
	}
}

func internal(s *spec.Spec, key string) bool {
	n := s.Networks[key]
	return n != nil && n.Internal
}

// VolumeWant is the volume the spec declares under key.
func VolumeWant(s *spec.Spec, key string) fleet.VolumeWant {
	v := s.Volumes[key]
	if v == nil {
		v = &spec.Volume{}
	}
	return fleet.VolumeWant{Name: s.VolumeName(key), Key: key, Driver: v.Driver, DriverOpts: v.DriverOpts,
		Labels: v.Labels, External: v.External}
}

// NetworkWant is the network the spec declares under key.
func NetworkWant(s *spec.Spec, key string) fleet.NetworkWant {
	n := s.Networks[key]
	if n == nil {
		n = &spec.Network{}
	}
	return fleet.NetworkWant{Name: s.NetworkName(key), Key: key, Driver: n.Driver, Internal: n.Internal,
		Labels: n.Labels, External: n.External}
}

// wantedNetworks are the Docker names of the networks the spec's docker
// apps join.
func wantedNetworks(s *spec.Spec) map[string]string {
	out := map[string]string{}
	for _, a := range s.Apps {
		for _, key := range s.NetworksOf(a) {
			if _, ok := out[s.NetworkName(key)]; !ok {
				out[s.NetworkName(key)] = a.Name
			}
		}
	}
	return out
}

// Counts are an app's running and ready replicas (containers, or a swarm
// app's tasks), for depends_on.
type Counts struct{ Running, Ready int }

// CountReplicas counts the running and ready replicas per app. Retiring
// containers do not count: they are on their way out.
func CountReplicas(observed []fleet.Container, ready map[string]bool) map[string]Counts {
	out := map[string]Counts{}
	for _, c := range observed {
		if !c.Running() || c.Retiring() || c.App == "" {
			continue
		}
		n := out[c.App]
		n.Running++
		if ready[c.ID] {
			n.Ready++
		}
		out[c.App] = n
	}
	return out
}

// AddStarted counts replicas a pass started: each answered its readiness
// check before the runner returned it, so it is running and ready.
func AddStarted(counts map[string]Counts, started []fleet.Container) map[string]Counts {
	out := make(map[string]Counts, len(counts))
	for k, v := range counts {
		out[k] = v
	}
	for _, c := range started {
		n := out[c.App]
		n.Running++
		n.Ready++
		out[c.App] = n
	}
	return out
}

// unmet says which of the app's dependencies is not met, or "". A
// dependency in skip (one that starts in this pass) is named only when no
// other is unmet.
func unmet(a *spec.App, counts map[string]Counts, skip ...map[string]bool) string {
	if len(skip) > 0 {
		if why := unmet(&spec.App{DependsOn: without(a.DependsOn, skip[0])}, counts); why != "" {
			return why
		}
	}
	for _, d := range a.Dependencies() {
		n := counts[d.App]
		switch {
		case d.Condition == spec.ConditionStarted && n.Running == 0:
			return fmt.Sprintf("waits for %s: no running replica (depends_on condition started)", d.App)
		case d.Condition == spec.ConditionReady && n.Ready == 0:
			if n.Running > 0 {
				return fmt.Sprintf("waits for %s: %d running, none ready (depends_on condition ready)", d.App, n.Running)
			}
			return fmt.Sprintf("waits for %s: no ready replica (depends_on condition ready)", d.App)
		}
	}
	return ""
}

// HoldForDependencies splits actions by depends_on: the starts and
// replacements of an app whose dependencies are not met are held (a
// replacement would stop or restart a replica that cannot work without
// them); removals always run. Each app with held actions gets one finding
// of type "waiting" that names the dependency.
//
// A pass runs what it may, adds the replicas it started (AddStarted) and
// calls this again on what it held, so a stack comes up in one pass,
// dependencies first.
func HoldForDependencies(s *spec.Spec, actions []Action, counts map[string]Counts) (run, held []Action, findings []Finding) {
	reasons := map[string]string{}
	for _, a := range actions {
		app := s.App(a.App)
		if a.Kind == Remove || app == nil || len(app.DependsOn) == 0 {
			run = append(run, a)
			continue
		}
		why, seen := reasons[a.App]
		if !seen {
			why = unmet(app, counts)
			reasons[a.App] = why
			if why != "" {
				findings = append(findings, Finding{App: a.App, Container: a.App, Type: "waiting", Reason: why})
			}
		}
		if why != "" {
			held = append(held, a)
		} else {
			run = append(run, a)
		}
	}
	return run, held, findings
}

// NetworkRemoval is a network baton created that a pass removes.
type NetworkRemoval struct {
	Network string
	Reason  string
}

// NeedsNetworks reports whether a pass must list the project's networks:
// the spec declares networks, or a container of the project is attached to
// a network named like baton's (<project>_...). Otherwise the pass stays
// at one list call.
func NeedsNetworks(s *spec.Spec, observed []fleet.Container) bool {
	if len(s.Networks) > 0 {
		return true
	}
	for _, c := range observed {
		for _, n := range c.Networks {
			if strings.HasPrefix(n, s.Project+"_") {
				return true
			}
		}
	}
	return false
}

// PruneNetworks decides which of the project's networks (as listed: baton
// created them) go: those no app of the spec joins. Run it after the
// pass's containers are gone; the executor still refuses a network with a
// container attached (docker.ErrInUse), which is then reported, not
// removed.
func PruneNetworks(s *spec.Spec, networks []fleet.Network) []NetworkRemoval {
	wanted := wantedNetworks(s)
	var out []NetworkRemoval
	for _, n := range networks {
		if n.Labels[fleet.LabelProject] != s.Project || n.Labels[fleet.LabelNetwork] == "" {
			continue // not baton's network of this project
		}
		if _, ok := wanted[n.Name]; ok {
			continue
		}
		key := n.Labels[fleet.LabelNetwork]
		reason := fmt.Sprintf("no app of the spec joins it (network %q is no longer declared)", key)
		if _, declared := s.Networks[key]; declared && s.NetworkName(key) == n.Name {
			reason = fmt.Sprintf("no app of the spec joins it (network %q is declared, unused)", key)
		}
		out = append(out, NetworkRemoval{Network: n.Name, Reason: reason})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Network < out[j].Network })
	return out
}

// stackVolumeGoes says why gc removes an orphan volume baton created for a
// stack, or "" when it stays: it stays unless gc.project_volumes is set,
// it belongs to this project and the spec no longer declares it.
func stackVolumeGoes(s *spec.Spec, v fleet.Volume) string {
	key := v.Labels[fleet.LabelVolume]
	if !s.GC.ProjectVolumes || v.Labels[fleet.LabelProject] != s.Project {
		return ""
	}
	for k := range s.Volumes {
		if s.VolumeName(k) == v.Name {
			return ""
		}
	}
	return fmt.Sprintf("orphan volume %q of this project: the spec no longer declares it and gc.project_volumes is set", key)
}

// GateDependencies decides depends_on for a pass's actions, counting the
// dependencies' replicas as observed. An action whose app's dependencies
// are met is kept. One whose unmet dependencies all get a start or a
// replacement in this pass is kept too, to run once they answer (the
// executor runs the actions in waves with HoldForDependencies and
// AddStarted), its reason saying so. The others are dropped, with one
// "waiting" finding per app that names the dependency.
func GateDependencies(s *spec.Spec, actions []Action, counts map[string]Counts) ([]Action, []Step) {
	run, held, findings := HoldForDependencies(s, actions, counts)
	coming := map[string]bool{}
	for _, a := range run {
		if a.Kind != Remove {
			coming[a.App] = true
		}
	}
	deferred := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, a := range held {
			if deferred[a.App] || !comesUp(s.App(a.App), counts, coming) {
				continue
			}
			deferred[a.App], coming[a.App], changed = true, true, true
		}
	}
	keep := run
	for _, a := range held {
		if deferred[a.App] {
			a.Reason += "; after " + strings.Join(unmetDeps(s.App(a.App), counts), ", ") + " (depends_on)"
			keep = append(keep, a)
		}
	}
	var steps []Step
	for _, f := range findings {
		if !deferred[f.App] {
			steps = append(steps, WaitingFinding(f, unmet(s.App(f.App), counts, coming)))
		}
	}
	return keep, steps
}

// WaitingFinding is the incident of an app that waits for its
// dependencies, with the reason to print: one event when the wait begins,
// one when it ends.
func WaitingFinding(f Finding, reason string) Step {
	s := NewFinding(f.Type, f.App, f.Container, reason)
	s.Key = "waiting " + f.App
	return s
}

// without returns deps less the apps in skip.
func without(deps map[string]*spec.Dependency, skip map[string]bool) map[string]*spec.Dependency {
	out := map[string]*spec.Dependency{}
	for k, v := range deps {
		if !skip[k] {
			out[k] = v
		}
	}
	return out
}

// unmetDeps names the app's dependencies whose condition is not met.
func unmetDeps(a *spec.App, counts map[string]Counts) []string {
	var out []string
	for _, d := range a.Dependencies() {
		n := counts[d.App]
		if (d.Condition == spec.ConditionStarted && n.Running == 0) || (d.Condition == spec.ConditionReady && n.Ready == 0) {
			out = append(out, d.App)
		}
	}
	return out
}

// comesUp reports whether every unmet dependency of a gets a start or a
// replacement in this pass.
func comesUp(a *spec.App, counts map[string]Counts, coming map[string]bool) bool {
	for _, d := range unmetDeps(a, counts) {
		if !coming[d] {
			return false
		}
	}
	return true
}

// PruneNetwork removes a network baton created that no app joins any more
// (Do is a NetworkRemoval).
const PruneNetwork Kind = "remove network"

// NetworkSteps are the network removals of a scale pass (PruneNetworks).
func NetworkSteps(s *spec.Spec, networks []fleet.Network) []Step {
	var out []Step
	for _, r := range PruneNetworks(s, networks) {
		out = append(out, Step{Kind: PruneNetwork, Target: r.Network, Reason: r.Reason, Do: r})
	}
	return out
}
