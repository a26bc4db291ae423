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
