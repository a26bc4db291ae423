package testenv

// fakeengine.go is an in-memory Docker engine with the methods of
// commands.Engine, for in-process tests of whole passes without a daemon
// (gitea's runTestApp style): it keeps containers, images, volumes and a
// Swarm's nodes, services and tasks, records every call, and fails the
// calls a test asks it to.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// FakeEngine is an in-memory engine. Its zero value is not usable; use
// NewFakeEngine.
type FakeEngine struct {
	mu    sync.Mutex
	now   func() time.Time
	addr  func() string
	next  int
	calls []string

	Containers map[string]*fleet.Container
	ImageSet   []fleet.Image
	VolumeSet  []fleet.Volume
	NetworkSet []fleet.Network
	NodeSet    []fleet.Node
	ServiceSet map[string]*fleet.Service
	TaskSet    []fleet.Task
	// SwarmFileSet are the swarm's secrets and configs.
	SwarmFileSet []fleet.SwarmFile
	// Rejected counts the tasks a label change stopped (Swarm's
	// constraint enforcer).
	Rejected int
	// Hook, when set, is called with each call's name before it is
	// answered, with the engine locked: a test changes the fake's fields
	// there (a node going down in the middle of a pass).
	Hook func(call string)
	// Member is what Membership answers (zero: active in the fake swarm);
	// OnJoin runs, locked, when JoinSwarm joins (a test adds the node).
	Member fleet.Membership
	OnJoin func()
	// ports are the target ports of the services CreateService made.
	ports map[string]int
	// Fail makes calls fail: keys are "start <app>", "image <ref>",
	// "stop <id>", "remove image <ref>", "nodes", "list", "info", ...
	Fail map[string]error
	// LogLines are what each container printed, by container ID.
	LogLines map[string][]fleet.LogLine
	// Daemon is what Info answers.
	Daemon fleet.Daemon
}

// NewFakeEngine returns an empty engine; addr gives each started container
// with a port its address (e.g. a new httptest server on 127.0.0.1), now
// stamps creation times.
func NewFakeEngine(addr func() string, now func() time.Time) *FakeEngine {
	return &FakeEngine{now: now, addr: addr, Containers: map[string]*fleet.Container{}, ServiceSet: map[string]*fleet.Service{}, Fail: map[string]error{},
		LogLines: map[string][]fleet.LogLine{}, Daemon: fleet.Daemon{Name: "fake", ServerVersion: "20.10.24", APIVersion: "1.41"}}
}

// Calls returns the calls made so far ("list", "start web-0-…", ...).
func (f *FakeEngine) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Count counts the calls that start with prefix.
func (f *FakeEngine) Count(prefix string) int {
	n := 0
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *FakeEngine) call(name string) error {
	f.calls = append(f.calls, name)
	if f.Hook != nil {
		f.Hook(name)
	}
	return f.Fail[name]
}

// Add puts a container in, as if something had started it.
func (f *FakeEngine) Add(c fleet.Container) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.ID == "" {
		f.next++
		c.ID = fmt.Sprintf("c%04d", f.next)
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	f.Containers[c.ID] = &c
}

// Host names the fake daemon.
func (f *FakeEngine) Host() string { return "fake://engine" }

// Close does nothing.
func (f *FakeEngine) Close() error { return nil }

// List returns the project's containers.
func (f *FakeEngine) List(_ context.Context, project, _ string) ([]fleet.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("list"); err != nil {
		return nil, err
	}
	var out []fleet.Container
	for _, c := range f.sorted() {
		if c.Labels[fleet.LabelProject] == project {
			out = append(out, c)
		}
	}
	return out, nil
}

// ListAll returns every container.
func (f *FakeEngine) ListAll(context.Context) ([]fleet.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("list all"); err != nil {
		return nil, err
	}
	return f.sorted(), nil
}

func (f *FakeEngine) sorted() []fleet.Container {
	out := make([]fleet.Container, 0, len(f.Containers))
	for _, c := range f.Containers {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Inspect tells how a container stands.
func (f *FakeEngine) Inspect(_ context.Context, id string) (fleet.Exit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("inspect " + id); err != nil {
		return fleet.Exit{}, err
	}
	c := f.Containers[id]
	if c == nil {
		return fleet.Exit{}, fmt.Errorf("no such container %s", id)
	}
	x := fleet.Exit{State: c.State, Health: c.Health}
	if c.State == "exited" {
		x.ExitCode, x.FinishedAt = 1, c.Created
	}
	return x, nil
}

// Info answers Daemon, with its clock at now when it has none.
func (f *FakeEngine) Info(context.Context) (fleet.Daemon, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.Daemon
	if d.SystemTime.IsZero() {
		d.SystemTime = f.now()
	}
	return d, f.call("info")
}

// Logs replays LogLines[id]: those at or after o.Since, the last o.Tail
// (Follow changes nothing: the fake's containers print no more).
func (f *FakeEngine) Logs(_ context.Context, id string, o fleet.LogOptions, each func(fleet.LogLine)) error {
	f.mu.Lock()
	if err := f.call("logs " + id); err != nil {
		f.mu.Unlock()
		return err
	}
	var lines []fleet.LogLine
	for _, l := range f.LogLines[id] {
		if o.Since.IsZero() || !l.Time.Before(o.Since) {
			lines = append(lines, l)
		}
	}
	f.mu.Unlock()
	if o.Tail >= 0 && len(lines) > o.Tail {
		lines = lines[len(lines)-o.Tail:]
	}
	for _, l := range lines {
		each(l)
	}
	return nil
}

// Exec passes.
func (f *FakeEngine) Exec(_ context.Context, id string, _ []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.call("exec " + id)
}

// Stats reports nothing used.
func (f *FakeEngine) Stats(_ context.Context, id string) (fleet.Usage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fleet.Usage{}, f.call("stats " + id)
}

// EnsureImage fails for "image <ref>" in Fail.
func (f *FakeEngine) EnsureImage(_ context.Context, ref, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.call("image " + ref)
}

// Start creates a running container at the fake's address.
func (f *FakeEngine) Start(_ context.Context, w fleet.Want) (fleet.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "start "+w.Name)
	if err := f.Fail["start "+w.App]; err != nil {
		return fleet.Container{}, err
	}
	f.next++
	labels := map[string]string{}
	for k, v := range w.Labels {
		labels[k] = v
	}
	labels[fleet.LabelProject], labels[fleet.LabelApp] = w.Project, w.App
	labels[fleet.LabelReplica], labels[fleet.LabelHash] = strconv.Itoa(w.Replica), w.Hash
	if w.Record != "" {
		labels[fleet.LabelSpec] = w.Record
	}
	c := fleet.Container{ID: fmt.Sprintf("c%04d", f.next), Name: w.Name, App: w.App, Replica: w.Replica, Hash: w.Hash,
		Image: w.Image, ImageID: "sha256:" + w.Image, Labels: labels, State: "running", Created: f.now()}
	if w.Port > 0 {
		c.Addr = f.addr()
	}
	f.Containers[c.ID] = &c
	return c, nil
}

// Stop marks a container exited.
func (f *FakeEngine) Stop(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("stop " + id); err != nil {
		return err
	}
	if c := f.Containers[id]; c != nil {
		c.State = "exited"
	}
	for i := range f.TaskSet { // a swarm task's container (fakeswarm.go)
		if f.TaskSet[i].ContainerID == id && id != "" {
			f.TaskSet[i].State = "complete"
		}
	}
	return nil
}

// Remove removes a container.
func (f *FakeEngine) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove " + id); err != nil {
		return err
	}
	delete(f.Containers, id)
	return nil
}

// Rename renames a container.
func (f *FakeEngine) Rename(_ context.Context, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("rename " + id); err != nil {
		return err
	}
	if c := f.Containers[id]; c != nil {
		c.Name = name
	}
	return nil
}

// RemoveStopped removes a stopped container.
func (f *FakeEngine) RemoveStopped(ctx context.Context, id string) error { return f.Remove(ctx, id) }

// StartExisting starts a stopped container again.
func (f *FakeEngine) StartExisting(_ context.Context, id, _ string) (fleet.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("start existing " + id); err != nil {
		return fleet.Container{}, err
	}
	c := f.Containers[id]
	if c == nil {
		return fleet.Container{}, fmt.Errorf("no such container %s", id)
	}
	c.State = "running"
	return *c, nil
}

// EnsureVolume creates a volume unless it exists.
func (f *FakeEngine) EnsureVolume(_ context.Context, project string, w fleet.VolumeWant) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ensure volume " + w.Name); err != nil {
		return err
	}
	for _, v := range f.VolumeSet {
		if v.Name == w.Name {
			return nil
		}
	}
	f.VolumeSet = append(f.VolumeSet, fleet.Volume{Name: w.Name, Labels: map[string]string{fleet.LabelProject: project, fleet.LabelVolume: w.Key}, Created: f.now()})
	return nil
}

// EnsureNetwork creates a network unless it exists.
func (f *FakeEngine) EnsureNetwork(_ context.Context, project string, w fleet.NetworkWant) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ensure network " + w.Name); err != nil {
		return err
	}
	for _, n := range f.NetworkSet {
		if n.Name == w.Name {
			return nil
		}
	}
	f.next++
	f.NetworkSet = append(f.NetworkSet, fleet.Network{ID: fmt.Sprintf("net%04d", f.next), Name: w.Name,
		Labels: map[string]string{fleet.LabelProject: project, fleet.LabelNetwork: w.Key}, Created: f.now()})
	return nil
}

// Networks lists the project's networks.
func (f *FakeEngine) Networks(_ context.Context, project string) ([]fleet.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fleet.Network
	for _, n := range f.NetworkSet {
		if n.Labels[fleet.LabelProject] == project {
			out = append(out, n)
		}
	}
	return out, f.call("networks")
}

// RemoveNetwork removes a network.
func (f *FakeEngine) RemoveNetwork(_ context.Context, _, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove network " + name); err != nil {
		return err
	}
	kept := f.NetworkSet[:0]
	for _, n := range f.NetworkSet {
		if n.Name != name {
			kept = append(kept, n)
		}
	}
	f.NetworkSet = kept
	return nil
}

// Images, Volumes and ServiceImages list what the fake holds.
func (f *FakeEngine) Images(context.Context) ([]fleet.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fleet.Image(nil), f.ImageSet...), f.call("images")
}

func (f *FakeEngine) Volumes(context.Context) ([]fleet.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fleet.Volume(nil), f.VolumeSet...), f.call("volumes")
}

func (f *FakeEngine) ServiceImages(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.ServiceSet {
		out = append(out, s.Image)
	}
	return out, f.call("service images")
}

// RemoveImage removes the image tagged ref (or with ID ref).
func (f *FakeEngine) RemoveImage(_ context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove image " + ref); err != nil {
		return err
	}
	kept := f.ImageSet[:0]
	for _, img := range f.ImageSet {
		var tags []string
		for _, t := range img.Tags {
			if t != ref {
				tags = append(tags, t)
			}
		}
		img.Tags = tags
		if img.ID != ref && (len(tags) > 0 || len(img.Digests) > 0) {
			kept = append(kept, img)
		}
	}
	f.ImageSet = kept
	return nil
}

// RemoveVolume removes a volume.
func (f *FakeEngine) RemoveVolume(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove volume " + name); err != nil {
		return err
	}
	kept := f.VolumeSet[:0]
	for _, v := range f.VolumeSet {
		if v.Name != name {
			kept = append(kept, v)
		}
	}
	f.VolumeSet = kept
	return nil
}

// LayersSize is the images' total size.
func (f *FakeEngine) LayersSize(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, img := range f.ImageSet {
		n += img.Size
	}
	return n, f.call("disk usage")
}
