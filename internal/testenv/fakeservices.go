// The fake engine's Swarm services: created, updated, scaled, pinned and removed; its secrets, configs and membership.

package testenv

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// PlaceService sets the app's placement, keeping keep.
func (f *FakeEngine) PlaceService(_ context.Context, s fleet.Service, p fleet.Placement, keep []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("place service " + s.Name); err != nil {
		return err
	}
	cur := f.ServiceSet[s.ID]
	if cur == nil {
		return fmt.Errorf("no such service %s", s.Name)
	}
	cur.Constraints = append(append([]string(nil), keep...), p.Constraints...)
	cur.Preferences, cur.MaxReplicas = p.Preferences, p.MaxReplicas
	for i, t := range f.TaskSet {
		if t.ServiceID == s.ID && (t.NodeID == "" || !f.nodeLocked(t.NodeID).Satisfies(cur.Constraints)) {
			f.TaskSet[i] = f.placeTaskLocked(t, cur)
		}
	}
	return nil
}

// CreateService creates a service with its tasks on the first node.
func (f *FakeEngine) CreateService(_ context.Context, w fleet.ServiceWant) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("create service " + w.Name); err != nil {
		return err
	}
	f.next++
	labels := copyLabels(w.Labels)
	labels[fleet.LabelProject], labels[fleet.LabelApp], labels[fleet.LabelHash] = w.Project, w.App, w.Hash
	s := &fleet.Service{ID: fmt.Sprintf("s%04d", f.next), Name: w.Name, Image: w.Image, Labels: labels, Replicas: w.Replicas, ReserveMemory: w.ReserveB,
		Constraints: append([]string(nil), w.Placement.Constraints...), Preferences: w.Placement.Preferences, MaxReplicas: w.Placement.MaxReplicas}
	f.ServiceSet[s.ID] = s
	if f.ports == nil {
		f.ports = map[string]int{}
	}
	f.ports[s.ID] = w.Port
	f.placeLocked(s, f.fitLocked(s))
	return nil
}

// UpdateServiceSpec rolls a service to w.
func (f *FakeEngine) UpdateServiceSpec(_ context.Context, id string, w fleet.ServiceWant) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("roll service " + w.Name); err != nil {
		return err
	}
	if s := f.ServiceSet[id]; s != nil {
		s.Labels[fleet.LabelHash] = w.Hash
		for i := range f.TaskSet {
			if f.TaskSet[i].ServiceID == id {
				f.TaskSet[i].Hash = w.Hash
			}
		}
	}
	return nil
}

// ScaleService sets the count decide gives.
func (f *FakeEngine) ScaleService(_ context.Context, id string, _ int, decide func(uint64) uint64) (uint64, uint64, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.ServiceSet[id]
	if s == nil {
		return 0, 0, 0, fmt.Errorf("no such service %s", id)
	}
	if err := f.call("scale service " + s.Name); err != nil {
		return 0, 0, 0, err
	}
	from := s.Replicas
	s.Replicas = decide(from)
	f.placeLocked(s, f.fitLocked(s))
	return from, s.Replicas, 0, nil
}

// RemoveService removes a service and its tasks.
func (f *FakeEngine) RemoveService(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove service " + id); err != nil {
		return err
	}
	delete(f.ServiceSet, id)
	kept := f.TaskSet[:0]
	for _, t := range f.TaskSet {
		if t.ServiceID != id {
			kept = append(kept, t)
		}
	}
	f.TaskSet = kept
	return nil
}

// PinService pins a service to host; its tasks move there at once.
func (f *FakeEngine) PinService(_ context.Context, s fleet.Service, host string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("pin service " + s.Name + " " + host); err != nil {
		return err
	}
	cur := f.ServiceSet[s.ID]
	if cur == nil {
		return fmt.Errorf("no such service %s", s.Name)
	}
	pin := "node.hostname==" + host
	cur.Constraints = append(cur.Constraints, pin)
	cur.Labels[fleet.LabelPin], cur.Labels[fleet.LabelPinSince] = pin, now.UTC().Format(time.RFC3339)
	cur.Labels[fleet.LabelMoved] = now.UTC().Format(time.RFC3339)
	f.placeLocked(cur, f.nodeID(host))
	return nil
}

// UnpinService removes a pin.
func (f *FakeEngine) UnpinService(_ context.Context, s fleet.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("unpin service " + s.Name); err != nil {
		return err
	}
	cur := f.ServiceSet[s.ID]
	if cur == nil {
		return nil
	}
	pin := cur.Labels[fleet.LabelPin]
	var cs []string
	for _, c := range cur.Constraints {
		if c != pin {
			cs = append(cs, c)
		}
	}
	cur.Constraints = cs
	for k := range cur.Labels {
		if strings.HasPrefix(k, "baton.rebalance.") && k != fleet.LabelMoved {
			delete(cur.Labels, k)
		}
	}
	return nil
}

func copyLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// EnsureSwarmFile creates a secret or config unless it exists.
func (f *FakeEngine) EnsureSwarmFile(_ context.Context, project, kind string, r fleet.FileRef) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("ensure " + kind + " " + r.Name); err != nil {
		return "", err
	}
	for _, x := range f.SwarmFileSet {
		if x.Kind == kind && x.Name == r.Name {
			return x.ID, nil
		}
	}
	if r.External {
		return "", fmt.Errorf("external %s %q does not exist", kind, r.Name)
	}
	f.next++
	label := fleet.LabelSecret
	if kind == "config" {
		label = fleet.LabelConfig
	}
	x := fleet.SwarmFile{Kind: kind, ID: fmt.Sprintf("f%04d", f.next), Name: r.Name, Labels: map[string]string{fleet.LabelProject: project, label: r.Key}}
	f.SwarmFileSet = append(f.SwarmFileSet, x)
	return x.ID, nil
}

// SwarmFiles lists the project's secrets and configs.
func (f *FakeEngine) SwarmFiles(_ context.Context, project string) ([]fleet.SwarmFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("swarm files"); err != nil {
		return nil, err
	}
	var out []fleet.SwarmFile
	for _, x := range f.SwarmFileSet {
		if x.Labels[fleet.LabelProject] == project {
			out = append(out, x)
		}
	}
	return out, nil
}

// RemoveSwarmFile removes a secret or config.
func (f *FakeEngine) RemoveSwarmFile(_ context.Context, x fleet.SwarmFile) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove " + x.Kind + " " + x.Name); err != nil {
		return err
	}
	kept := f.SwarmFileSet[:0]
	for _, y := range f.SwarmFileSet {
		if y.ID != x.ID {
			kept = append(kept, y)
		}
	}
	f.SwarmFileSet = kept
	return nil
}

// Membership is a node engine's swarm state: the fake's Member, else
// active in its swarm.
func (f *FakeEngine) Membership(context.Context) (fleet.Membership, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("membership"); err != nil {
		return fleet.Membership{}, err
	}
	if f.Member.State != "" {
		return f.Member, nil
	}
	return fleet.Membership{State: "active", ClusterID: "fake-cluster"}, nil
}

// JoinInfo gives the fake swarm's tokens.
func (f *FakeEngine) JoinInfo(context.Context) (fleet.JoinInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fleet.JoinInfo{ClusterID: "fake-cluster", WorkerToken: "SWMTKN-worker", ManagerToken: "SWMTKN-manager", Managers: []string{"10.0.0.1:2377"}}, f.call("join info")
}

// JoinSwarm records the join and makes Member active.
func (f *FakeEngine) JoinSwarm(_ context.Context, r fleet.JoinRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("join " + r.Token + " " + r.AdvertiseAddr); err != nil {
		return err
	}
	f.Member = fleet.Membership{State: "active", ClusterID: "fake-cluster"}
	if f.OnJoin != nil {
		f.OnJoin()
	}
	return nil
}

// RemoveNode removes a node from the list.
func (f *FakeEngine) RemoveNode(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove node " + id); err != nil {
		return err
	}
	var kept []fleet.Node
	for _, n := range f.NodeSet {
		if n.ID != id {
			kept = append(kept, n)
		}
	}
	f.NodeSet = kept
	return nil
}
