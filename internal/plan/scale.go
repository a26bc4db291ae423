// Package plan holds baton's deciders: pure functions from the spec, what
// was observed and the time to actions, each with a human reason. They do
// no I/O; commands apply their results (Nomad scheduler/reconcile.go, restic
// ApplyPolicy).
package plan

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/imageref"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// Kind is what an action does.
type Kind string

// The kinds of scale action.
const (
	// Start starts a new replica; it enters the balancer once ready.
	Start Kind = "start"
	// Replace starts a replica from the current spec, swaps it into the
	// balancer once ready, drains and stops the old one.
	Replace Kind = "replace"
	// Remove takes a replica out of the balancer, drains, stops and removes it.
	Remove Kind = "remove"
)

// Action is one step of a scale pass.
type Action struct {
	Kind    Kind
	App     string
	Replica int
	// Old is the container replaced or removed; nil for Start.
	Old    *fleet.Container
	Reason string
	// Carry are the anonymous volumes (by container path) the new
	// container mounts: those of the container it follows in its slot (the
	// one replaced, or the slot's exited one). A replacement that carries
	// volumes is made stop-first: two containers never share one.
	Carry map[string]string
}

// carrying makes a start or replacement of app carry the anonymous
// volumes of from, the container it follows in its slot, and says so in
// its reason. A path the app's spec now mounts otherwise (a named volume,
// a bind, a tmpfs) carries nothing: the engine mounts the spec's there.
func carrying(s *spec.Spec, app *spec.App, a Action, from *fleet.Container) Action {
	if from == nil || app == nil || (a.Kind == Start && !exited(*from)) {
		return a // a start never shares a volume with a container that may run again (paused, created)
	}
	cover := covered(s, app)
	for p, name := range from.AnonymousVolumes() {
		if !cover[p] {
			if a.Carry == nil {
				a.Carry = map[string]string{}
			}
			a.Carry[p] = name
		}
	}
	if len(a.Carry) == 0 {
		return a
	}
	paths := make([]string, 0, len(a.Carry))
	for p := range a.Carry {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	how := "its anonymous volume " + strings.Join(paths, ", ") + " carries over"
	if a.Kind == Replace {
		how = "stop-first, so " + how
	}
	a.Reason += "; " + how
	return a
}

// CountsAsAttempt reports whether a failure of the action counts as a
// restart attempt of its app (backoff, crash-loop detection): a failed
// start or replacement does, so a bad image is not retried every pass; a
// failed removal does not.
func (a Action) CountsAsAttempt() bool { return a.Kind != Remove }

// Target names what the action touches, for tables.
func (a Action) Target() string {
	switch a.Kind {
	case Start:
		return fmt.Sprintf("%s replica %d", a.App, a.Replica)
	default:
		if a.Old.Name != "" {
			return a.Old.Name
		}
		return a.Old.ID
	}
}

// Scale decides how to converge every app to its replica count (want) and
// its current spec. ready holds the IDs of running containers that answer their
// readiness check.
//
// Rules:
//   - only running containers count; exited or dead ones are left for gc
//     (and their logs for the operator) and their replica is started anew,
//     with the newest one's anonymous volumes (carrying);
//   - a replacement carries the replaced container's anonymous volumes,
//     stop-first;
//   - leftovers of an interrupted pass are removed: containers marked
//     retiring (already out of the balancer) and containers created but
//     never started;
//   - replica indexes 0..want-1 are kept filled; for each, one running
//     container is kept (current spec and ready first) and extra ones are
//     removed;
//   - an index whose kept container runs an outdated spec is replaced;
//   - indexes >= want are removed, highest first (scale-in);
//   - running containers of apps that left the spec are removed.
func Scale(s *spec.Spec, want Wanted, observed []fleet.Container, ready map[string]bool) []Action {
	var actions []Action
	byApp := map[string][]fleet.Container{}
	stopped := map[Slot]*fleet.Container{} // the newest exited container of each slot
	held := map[Slot]bool{}                // slots nothing starts in
	var retiring []fleet.Container
	for _, c := range observed {
		switch {
		case c.Retiring():
			retiring = append(retiring, c)
		case c.State == "created":
			c := c
			actions = append(actions, Action{Kind: Remove, App: c.App, Replica: c.Replica, Old: &c,
				Reason: "created but never started (an interrupted pass)"})
		case c.Running():
			byApp[c.App] = append(byApp[c.App], c)
		case occupies(c):
			held[Slot{c.App, c.Replica}] = true
		case exited(c):
			c := c
			if k := (Slot{c.App, c.Replica}); stopped[k] == nil || c.Created.After(stopped[k].Created) {
				stopped[k] = &c
			}
		}
	}
	actions = append(actions, leftRetiring(s, want, retiring, byApp, stopped, held)...)
	for _, a := range s.Apps {
		if a.OnSwarm() {
			// A swarm app's replicas are Swarm tasks; local containers
			// of it are leftovers of its docker days.
			for _, c := range byApp[a.Name] {
				c := c
				actions = append(actions, Action{Kind: Remove, App: a.Name, Replica: c.Replica, Old: &c,
					Reason: fmt.Sprintf("app %q runs as a Swarm service now (engine: swarm)", a.Name)})
			}
		} else {
			actions = append(actions, scaleApp(s, a, want.Of(a.Name), byApp[a.Name], ready, stopped, held)...)
		}
		delete(byApp, a.Name)
	}
	orphans := make([]string, 0, len(byApp))
	for app := range byApp {
		orphans = append(orphans, app)
	}
	sort.Strings(orphans)
	for _, app := range orphans {
		for _, c := range byApp[app] {
			c := c
			actions = append(actions, Action{Kind: Remove, App: app, Replica: c.Replica, Old: &c,
				Reason: fmt.Sprintf("app %q is no longer in the spec", app)})
		}
	}
	return actions
}

func scaleApp(s *spec.Spec, a *spec.App, want int, running []fleet.Container, ready map[string]bool, stopped map[Slot]*fleet.Container, held map[Slot]bool) []Action {
	network := s.Docker.Network
	hash := a.Hash(network)
	have := len(running)
	byReplica := map[int][]fleet.Container{}
	var extra []fleet.Container
	for _, c := range running {
		if c.Replica < 0 || c.Replica >= want {
			extra = append(extra, c)
			continue
		}
		byReplica[c.Replica] = append(byReplica[c.Replica], c)
	}
	var actions []Action
	var starts []Action
	for i := 0; i < want; i++ {
		group := byReplica[i]
		if len(group) == 0 {
			if !held[Slot{a.Name, i}] {
				starts = append(starts, Action{Kind: Start, App: a.Name, Replica: i})
			}
			continue
		}
		keep := best(group, hash, ready)
		for _, c := range group {
			if c.ID == keep.ID {
				continue
			}
			c := c
			actions = append(actions, Action{Kind: Remove, App: a.Name, Replica: i, Old: &c,
				Reason: fmt.Sprintf("duplicate of replica %d (keeping %s)", i, keep.Name)})
		}
		if keep.Hash != hash {
			k := keep
			actions = append(actions, carrying(s, a, Action{Kind: Replace, App: a.Name, Replica: i, Old: &k,
				Reason: changeReason(a, k, network, hash)}, &k))
		}
	}
	for i := range starts {
		starts[i].Reason = fmt.Sprintf("have %d running replicas, want %d", have, want)
		starts[i] = carrying(s, a, starts[i], stopped[Slot{a.Name, starts[i].Replica}])
	}
	// Scale-in removes the highest replica indexes first.
	sort.SliceStable(extra, func(i, j int) bool { return extra[i].Replica > extra[j].Replica })
	for _, c := range extra {
		c := c
		reason := fmt.Sprintf("have %d running replicas, want %d", have, want)
		if c.Replica < 0 {
			reason = "replica label missing or malformed"
		}
		actions = append(actions, Action{Kind: Remove, App: a.Name, Replica: c.Replica, Old: &c, Reason: reason})
	}
	return append(starts, actions...)
}

// best picks the container to keep for one replica index: a ready one over
// one that is not (a pass killed mid-rollout leaves a new container that
// may never answer; the old one still serves), then the current spec over
// an outdated one, then the newest.
func best(group []fleet.Container, hash string, ready map[string]bool) fleet.Container {
	score := func(c fleet.Container) int {
		s := 0
		if ready[c.ID] {
			s += 2 // what serves is kept: a new one that never answered is the leftover
		}
		if c.Hash == hash {
			s++
		}
		return s
	}
	b := group[0]
	for _, c := range group[1:] {
		if sc, sb := score(c), score(b); sc > sb || (sc == sb && c.Created.After(b.Created)) {
			b = c
		}
	}
	return b
}

// changeReason says what changed between the old container and the
// app's spec now: the fields that differ, from the record the container
// carries (fleet.LabelSpec): "image web:1 → web:2, env.GREETING: hello →
// hi, resources.memory: 32m → 64m". A container made before records (or
// by another baton) shows what its list entry tells: its image, its
// labels, its port; else only the hashes.
func changeReason(a *spec.App, old fleet.Container, network, hash string) string {
	now := a.Record(network)
	if rec, ok := spec.ParseRecord(old.Labels[fleet.LabelSpec]); ok {
		if imageref.Same(rec["image"], now["image"]) {
			rec["image"] = now["image"] // a spelling is no change
		}
		if d := spec.RecordDiff(rec, now); d != "" {
			return d
		}
		return fmt.Sprintf("container spec changed (%s → %s; the recorded fields are the same)", orNone(old.Hash), hash)
	}
	var seen []string
	if old.Image != "" && !imageref.Same(old.Image, a.Image) {
		seen = append(seen, fmt.Sprintf("image %s → %s", old.Image, a.Image))
	}
	userLabels := map[string]string{}
	for k, v := range old.Labels {
		if !strings.HasPrefix(k, "baton.") {
			userLabels["labels."+k] = v
		}
	}
	wantLabels := map[string]string{}
	for k, v := range now {
		if strings.HasPrefix(k, "labels.") {
			wantLabels[k] = v
		}
	}
	if d := spec.RecordDiff(userLabels, wantLabels); d != "" {
		seen = append(seen, d)
	}
	if p := old.Labels[fleet.LabelPort]; p != "" && p != now["port"] {
		seen = append(seen, fmt.Sprintf("port %s → %s", p, orNone(now["port"])))
	}
	if len(seen) > 0 {
		return strings.Join(seen, ", ")
	}
	return fmt.Sprintf("container spec changed (%s → %s; the container predates field records)", orNone(old.Hash), hash)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Want builds the container to create for replica of app. suffix makes the
// name unique (a replacement coexists with the container it replaces).
func Want(s *spec.Spec, a *spec.App, replica int, suffix string) fleet.Want {
	appEnv := a.Environment()
	env := make([]string, 0, len(appEnv)+2)
	for k, v := range appEnv {
		env = append(env, k+"="+v)
	}
	env = append(env, "BATON_APP="+a.Name, "BATON_REPLICA="+strconv.Itoa(replica))
	sort.Strings(env)
	name := strings.Join([]string{s.Project, a.Name, strconv.Itoa(replica), suffix}, "-")
	w := fleet.Want{
		Project:   s.Project,
		App:       a.Name,
		Replica:   replica,
		Hash:      a.Hash(s.Docker.Network),
		Record:    a.RecordLabel(s.Docker.Network),
		Name:      name,
		Image:     a.Image,
		Pull:      a.Pull,
		Command:   a.Command,
		Args:      a.Args,
		Env:       env,
		Labels:    a.Labels,
		Port:      a.Port,
		MemoryB:   a.Resources.Memory.Bytes,
		MilliCPU:  a.Resources.CPU.Milli,
		Network:   s.Docker.Network,
		PublishIP: s.Docker.PublishIP,
		StopGrace: a.StopGrace.D,
	}
	wantStack(s, a, &w)
	return w
}

// exited reports whether c stopped for good (exited or dead), not paused,
// restarting or only created.
func exited(c fleet.Container) bool { return c.State == "exited" || c.State == "dead" }

// occupies reports whether c holds its slot although it does not run:
// paused (an operator's backup), or being restarted by Docker's restart
// policy. Nothing starts a twin beside it.
func occupies(c fleet.Container) bool { return c.State == "paused" || c.State == "restarting" }

// covered are the container paths the app's spec mounts with something
// that is not an anonymous volume (a named volume, a bind, a tmpfs).
func covered(s *spec.Spec, a *spec.App) map[string]bool {
	out := map[string]bool{}
	for _, m := range s.MountsOf(a) {
		if m.Type != "anonymous" {
			out[path.Clean(m.Target)] = true
		}
	}
	for _, t := range a.Tmpfs {
		p, _, _ := strings.Cut(t, ":")
		out[path.Clean(p)] = true
	}
	return out
}

// leftRetiring decides the containers an interrupted pass left marked
// retiring (out of the balancer): each is removed, but one that holds
// the data of a slot still wanted, with no running replica, is not lost
// with it: a stopped one is the slot's volumes to carry (the start
// carries them), a running one is replaced stop-first, its volumes
// carried (a pass killed between the rename and the stop).
func leftRetiring(s *spec.Spec, want Wanted, retiring []fleet.Container, byApp map[string][]fleet.Container, stopped map[Slot]*fleet.Container, held map[Slot]bool) []Action {
	var out []Action
	for _, c := range retiring {
		c := c
		k := Slot{c.App, c.Replica}
		a := s.App(c.App)
		runs := false
		for _, o := range byApp[c.App] {
			runs = runs || o.Replica == c.Replica
		}
		wanted := a != nil && !a.OnSwarm() && c.Replica >= 0 && c.Replica < want.Of(a.Name) && !runs && !held[k]
		switch {
		case wanted && c.Running() && len(c.AnonymousVolumes()) > 0:
			held[k] = true // this replacement is the slot's start
			out = append(out, carrying(s, a, Action{Kind: Replace, App: c.App, Replica: c.Replica, Old: &c,
				Reason: "left running by an interrupted pass after it was taken out of the balancer"}, &c))
			continue
		case wanted && exited(c) && (stopped[k] == nil || c.Created.After(stopped[k].Created)):
			stopped[k] = &c
		}
		out = append(out, Action{Kind: Remove, App: c.App, Replica: c.Replica, Old: &c,
			Reason: "left by an interrupted pass after it was taken out of the balancer"})
	}
	return out
}
