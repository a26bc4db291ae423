// A swarm app's members: the tasks the balancer routes to while Swarm rolls.

package plan

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// SwarmMembers turns the running tasks of swarm apps into balancer
// members: one per task on a ready node that publishes the app's port,
// at the node's address and the task's host port.
func SwarmMembers(s *spec.Spec, nodes []fleet.Node, services []fleet.Service, tasks []fleet.Task) []fleet.Container {
	nodeOf := map[string]fleet.Node{}
	for _, n := range nodes {
		nodeOf[n.ID] = n
	}
	appOf := map[string]fleet.Service{}
	for _, svc := range services {
		if svc.Labels[fleet.LabelProject] == s.Project && svc.Labels[fleet.LabelApp] != "" {
			appOf[svc.ID] = svc
		}
	}
	var out []fleet.Container
	for _, t := range tasks {
		svc, ok := appOf[t.ServiceID]
		if !ok || !t.Running() {
			continue
		}
		a := s.App(svc.Labels[fleet.LabelApp])
		n, ok := nodeOf[t.NodeID]
		if a == nil || !a.OnSwarm() || !ok || !n.Ready || n.Addr == "" {
			continue
		}
		port := t.HostPorts[a.Port]
		if port == 0 {
			continue
		}
		out = append(out, fleet.Container{ID: t.ID, Name: svc.Name + "@" + n.Hostname, App: a.Name, Replica: -1, Created: t.Started,
			Hash: t.Hash, Image: svc.Image, State: "running",
			Addr: net.JoinHostPort(n.Addr, strconv.Itoa(port))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// Lag is a swarm app whose service does not run what the spec wants yet.
type Lag struct {
	App, Service, Reason string
}

// SwarmLagging lists the swarm apps not converged: a service missing or at
// another count or spec; more or fewer running tasks than wanted, or fewer
// at the current spec (during a rolling update the old tasks still run);
// or, for an app behind the balancer, fewer ready tasks (ready: the
// members that answered their check) at the current spec; or an update
// Swarm has not finished (its monitor period).
func SwarmLagging(s *spec.Spec, counts Wanted, services []fleet.Service, tasks []fleet.Task, ready []fleet.Container) []Lag {
	var out []Lag
	pending := map[string]bool{}
	for _, a := range ScaleServices(s, counts, services) {
		if !pending[a.App] {
			pending[a.App] = true
			out = append(out, Lag{a.App, a.Want.Name, "the service does not match the spec yet: " + a.Reason})
		}
	}
	current := map[string]int{}
	for _, m := range ready {
		if a := s.App(m.App); a != nil && m.Hash == s.HashOf(a) {
			current[m.App]++
		}
	}
	appOf := map[string]string{} // service ID → app
	updating := map[string]string{}
	for _, svc := range services {
		if svc.Labels[fleet.LabelProject] == s.Project {
			appOf[svc.ID] = svc.Labels[fleet.LabelApp]
			if svc.Updating() {
				updating[svc.Labels[fleet.LabelApp]] = svc.UpdateState
			}
		}
	}
	running, atSpec := map[string]int{}, map[string]int{} // by app
	for _, t := range tasks {
		if app, ok := appOf[t.ServiceID]; ok && t.Running() {
			running[app]++
			if a := s.App(app); a != nil && t.Hash == s.HashOf(a) {
				atSpec[app]++
			}
		}
	}
	for _, a := range s.Apps {
		if !a.OnSwarm() || pending[a.Name] {
			continue
		}
		want := counts.Of(a.Name)
		switch {
		case running[a.Name] != want:
			out = append(out, Lag{a.Name, ServiceName(s, a), fmt.Sprintf("%d task(s) run, %d wanted", running[a.Name], want)})
		case atSpec[a.Name] < want:
			// During a start-first roll the old tasks still run.
			out = append(out, Lag{a.Name, ServiceName(s, a), fmt.Sprintf("%d of %d task(s) run the current spec", atSpec[a.Name], want)})
		case a.LB != nil && current[a.Name] != want:
			out = append(out, Lag{a.Name, ServiceName(s, a), fmt.Sprintf("%d of %d task(s) answer their readiness check at the current spec", current[a.Name], want)})
		case updating[a.Name] != "":
			out = append(out, Lag{a.Name, ServiceName(s, a), fmt.Sprintf("Swarm is still updating the service (%s: it watches the new tasks for the update's monitor period)",
				strings.ReplaceAll(updating[a.Name], "_", " "))})
		}
	}
	return out
}

// StickySwarmMembers are the swarm members to route to while a pass waits
// for Swarm: every task that answers now (ready), and every task routed
// before that still runs on a ready node (running) even if it missed this
// probe — a task leaves when Swarm stops it, not on one slow answer.
// Sorted by address, as SwarmMembers.
func StickySwarmMembers(routed, ready, running []fleet.Container) []fleet.Container {
	up := map[string]bool{}
	for _, c := range running {
		up[c.ID] = true
	}
	seen := map[string]bool{}
	out := []fleet.Container{}
	for _, c := range ready {
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, c)
		}
	}
	for _, c := range routed {
		if up[c.ID] && !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// EverySwarmAppRouted reports whether every swarm app behind the balancer
// that wants tasks has at least one among the members.
func EverySwarmAppRouted(s *spec.Spec, members []fleet.Container) bool {
	has := map[string]bool{}
	for _, m := range members {
		has[m.App] = true
	}
	for _, a := range s.Apps {
		if a.OnSwarm() && a.LB != nil && !has[a.Name] {
			return false
		}
	}
	return true
}
