package plan

// why.go says why an app is not as wanted, and what each of its replicas
// is doing, for `baton status`: pure functions of the spec, what status
// observed, the state, the event log and the time.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/imageref"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// StatusInput is what status saw.
type StatusInput struct {
	Spec       *spec.Spec
	Apps       []AppStatus
	Containers []fleet.Container // the apps' replicas (containers and swarm tasks)
	Ready      map[string]bool
	ProbeErr   map[string]error
	// Images are the references of the images on this host; nil: not
	// known (status could not list them).
	Images []string
	State  *state.State
	Events []state.Event // oldest first
}

// ReplicaStatus is one replica (a container, or a swarm task) as status
// shows it with `baton status APP` and -o wide.
type ReplicaStatus struct {
	App       string `json:"app"`
	Replica   int    `json:"replica"`
	Container string `json:"container"`
	Image     string `json:"image"`
	State     string `json:"state"`
	Ready     bool   `json:"ready"`
	// ProbeFailures are heal's consecutive failed probes of it.
	ProbeFailures int `json:"probe_failures"`
	// Restarts is how often its replica slot was started anew by heal
	// (in the event log).
	Restarts int `json:"restarts"`
	// Age is since the container was created (AgeSeconds in JSON).
	Age        time.Duration `json:"-"`
	AgeSeconds int64         `json:"age_seconds"`
	Addr       string        `json:"addr"`
	// Probe is the last probe's error; LastEvent the reason of the last
	// event about it.
	Probe     string `json:"probe,omitempty"`
	LastEvent string `json:"last_event,omitempty"`
}

// Why says, for each app of in.Apps, why it is not as wanted ("" when it
// is): a crash loop first, then a missing image, a hold, a failed last
// action, replicas not ready, outdated or missing.
func Why(in StatusInput, now time.Time) map[string]string {
	out := map[string]string{}
	for _, as := range in.Apps {
		a := in.Spec.App(as.App)
		if a == nil {
			continue
		}
		out[as.App] = whyApp(in, a, as, now)
	}
	return out
}

func whyApp(in StatusInput, a *spec.App, as AppStatus, now time.Time) string {
	hold, held := worstHold(a, in.State.App(a.Name), now)
	if held && as.Ready >= as.Want {
		held = false // every wanted replica is ready: a hold of the past is not why anything is wrong now
	}
	if held && hold.Crashloop {
		return fmt.Sprintf("%s (replica %d)", hold.Reason, hold.Replica) // "crash-looping: ..."
	}
	if rec := in.State.App(a.Name); rec != nil && rec.Paused != nil && rec.Paused.Hash == in.Spec.HashOf(a) {
		return "rollout paused: " + rec.Paused.Reason + " (`baton scale --retry` resumes it)"
	}
	if as.Running < as.Want && in.Images != nil && !a.OnSwarm() && !hasImage(in.Images, a.Image) {
		if a.Pull == "never" {
			return fmt.Sprintf("image %s is not on this host and pull is never", a.Image)
		}
		if failed := lastFailure(in.Events, a.Name); failed != "" {
			return fmt.Sprintf("image %s is not on this host; %s", a.Image, failed)
		}
		return fmt.Sprintf("image %s is not on this host yet (the next start pulls it)", a.Image)
	}
	if held && as.Running < as.Want {
		if failed := lastFailure(in.Events, a.Name); failed != "" {
			return fmt.Sprintf("%s (replica %d); %s", hold.Reason, hold.Replica, failed) // "backing off: ...; the last start failed: ..."
		}
		return fmt.Sprintf("%s (replica %d)", hold.Reason, hold.Replica)
	}
	if as.Running < as.Want {
		if failed := lastFailure(in.Events, a.Name); failed != "" {
			return fmt.Sprintf("%d of %d running; %s", as.Running, as.Want, failed)
		}
		return fmt.Sprintf("%d of %d running (scale starts the rest)", as.Running, as.Want)
	}
	if as.Ready < as.Running {
		for _, c := range in.Containers {
			if c.App == a.Name && c.Running() && !in.Ready[c.ID] {
				msg := "not ready"
				if err := in.ProbeErr[c.ID]; err != nil {
					msg = err.Error()
				}
				return fmt.Sprintf("%d of %d not ready: %s: %s", as.Running-as.Ready, as.Running, displayName(c), msg)
			}
		}
	}
	if as.Current < as.Running {
		return fmt.Sprintf("%d of %d run an outdated spec (scale rolls them)", as.Running-as.Current, as.Running)
	}
	if as.Running > as.Want {
		return fmt.Sprintf("%d running, want %d (scale removes the rest)", as.Running, as.Want)
	}
	return ""
}

// worstHold is the hold of the app's slots that matters most: a crash loop
// over a backoff, the lowest replica first.
func worstHold(a *spec.App, rec *state.App, now time.Time) (Hold, bool) {
	if rec == nil {
		return Hold{}, false
	}
	var best Hold
	found := false
	keys := make([]int, 0, len(rec.Slots))
	for k := range rec.Slots {
		if r, err := strconv.Atoi(k); err == nil {
			keys = append(keys, r)
		}
	}
	sort.Ints(keys)
	for _, r := range keys {
		h, held := HoldFor(a, rec.Slots[strconv.Itoa(r)], now)
		if held && (!found || (h.Crashloop && !best.Crashloop)) {
			h.Replica = r
			best, found = h, true
		}
	}
	return best, found
}

// lastFailure is the app's most recent failed action, if it is more
// recent than its last successful one.
func lastFailure(evs []state.Event, app string) string {
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if e.App != app {
			continue
		}
		if e.Error != "" {
			return fmt.Sprintf("the last %s failed: %s", e.Type, firstLine(e.Error))
		}
		if e.Type == "start" || e.Type == "replace" {
			return ""
		}
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func hasImage(refs []string, ref string) bool {
	for _, r := range refs {
		if imageref.Same(r, ref) {
			return true
		}
	}
	return false
}

func displayName(c fleet.Container) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// Replicas lists the replicas of the apps (every app when apps is empty),
// by app, replica and age, each with its last event.
func Replicas(in StatusInput, apps []string, now time.Time) []ReplicaStatus {
	want := map[string]bool{}
	for _, a := range apps {
		want[a] = true
	}
	restarts := map[string]int{} // app/replica → heal's starts
	lastByName := map[string]string{}
	lastBySlot := map[string]string{}
	for _, e := range in.Events {
		slot := ""
		if r, ok := replicaOf(in.Spec.Project, e.App, e.Container); ok {
			slot = e.App + "/" + strconv.Itoa(r)
		} else if r, ok := replicaOf(in.Spec.Project, e.App, e.Target); ok {
			slot = e.App + "/" + strconv.Itoa(r)
		} else if r, ok := strings.CutPrefix(e.Target, e.App+" replica "); ok {
			slot = e.App + "/" + r
		}
		reason := e.Reason
		if e.Error != "" {
			reason += " (failed: " + firstLine(e.Error) + ")"
		}
		if e.Command == "heal" && (e.Type == "start" || e.Type == "replace") && e.Error == "" && slot != "" {
			restarts[slot]++
		}
		for _, n := range []string{e.Target, e.Container} {
			if n != "" {
				lastByName[n] = e.Type + ": " + reason
			}
		}
		if slot != "" {
			lastBySlot[slot] = e.Type + ": " + reason
		}
	}
	var out []ReplicaStatus
	for _, c := range in.Containers {
		if c.App == "" || (len(want) > 0 && !want[c.App]) || in.Spec.App(c.App) == nil {
			continue
		}
		slot := c.App + "/" + strconv.Itoa(c.Replica)
		r := ReplicaStatus{App: c.App, Replica: c.Replica, Container: displayName(c), Image: c.Image, State: c.State,
			Ready: in.Ready[c.ID], Restarts: restarts[slot], Addr: c.Addr}
		if !c.Created.IsZero() {
			r.Age = now.Sub(c.Created)
			r.AgeSeconds = int64(r.Age / time.Second)
		}
		if in.State != nil {
			if p := in.State.Probes[c.ID]; p != nil {
				r.ProbeFailures = p.Failures
			}
		}
		if err := in.ProbeErr[c.ID]; err != nil {
			r.Probe = err.Error()
		}
		if l, ok := lastByName[c.Name]; ok {
			r.LastEvent = l
		} else {
			r.LastEvent = lastBySlot[slot]
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.App != b.App {
			return a.App < b.App
		}
		if a.Replica != b.Replica {
			return a.Replica < b.Replica
		}
		return a.Age > b.Age
	})
	return out
}

// replicaOf reads the replica index from a container name baton gave:
// <project>-<app>-<replica>-<suffix>.
func replicaOf(project, app, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, project+"-"+app+"-")
	if !ok {
		return 0, false
	}
	idx, _, _ := strings.Cut(rest, "-")
	r, err := strconv.Atoi(idx)
	return r, err == nil && r >= 0
}
