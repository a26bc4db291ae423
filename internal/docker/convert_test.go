package docker

import (
	"reflect"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

var fleetEpoch = time.Unix(0, 0).UTC()

func TestConvert(t *testing.T) {
	labels := map[string]string{fleet.LabelApp: "web", fleet.LabelReplica: "2", fleet.LabelHash: "abc"}
	cases := []struct {
		name    string
		in      container.Summary
		network string
		want    fleet.Container
	}{
		{"an empty summary does not panic", container.Summary{}, "", fleet.Container{Replica: -1, Created: fleetEpoch}},
		{"nil labels and network settings", container.Summary{ID: "x", State: "running", Names: []string{"/a"}}, "net",
			fleet.Container{ID: "x", Name: "a", State: "running", Replica: -1, Created: fleetEpoch}},
		{"published port on loopback", container.Summary{ID: "x", State: "running", Labels: labels,
			Ports: []container.Port{{IP: "::", PrivatePort: 8080, PublicPort: 32768, Type: "tcp"}, {IP: "127.0.0.1", PrivatePort: 8080, PublicPort: 32768, Type: "tcp"}}}, "",
			fleet.Container{ID: "x", App: "web", Replica: 2, Hash: "abc", State: "running", Addr: "127.0.0.1:32768", Created: fleetEpoch}},
		{"a port published on all addresses is reached on loopback", container.Summary{ID: "x", State: "running",
			Ports: []container.Port{{IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8000, Type: "tcp"}}}, "",
			fleet.Container{ID: "x", State: "running", Replica: -1, Addr: "127.0.0.1:8000", Created: fleetEpoch}},
		{"a stopped container has no address", container.Summary{ID: "x", State: "exited", Status: "Exited (1) 2 minutes ago",
			Ports: []container.Port{{IP: "127.0.0.1", PrivatePort: 80, PublicPort: 8000, Type: "tcp"}}}, "",
			fleet.Container{ID: "x", State: "exited", Status: "Exited (1) 2 minutes ago", Replica: -1, Created: fleetEpoch}},
		{"user network address", container.Summary{ID: "x", State: "running",
			Ports:           []container.Port{{PrivatePort: 8080, Type: "tcp"}},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"net": {IPAddress: "172.20.0.5"}, "other": nil}}}, "net",
			fleet.Container{ID: "x", State: "running", Replica: -1, Addr: "172.20.0.5:8080", Networks: []string{"net", "other"}, Created: fleetEpoch}},
		{"a nil endpoint for the network", container.Summary{ID: "x", State: "running",
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"net": nil}}}, "net",
			fleet.Container{ID: "x", State: "running", Replica: -1, Networks: []string{"net"}, Created: fleetEpoch}},
		{"a fixed port listed first is not the balancer's", container.Summary{ID: "x", State: "running", Labels: map[string]string{fleet.LabelPort: "8080"},
			Ports: []container.Port{{IP: "127.0.0.1", PrivatePort: 5432, PublicPort: 5432, Type: "tcp"}, {IP: "127.0.0.1", PrivatePort: 8080, PublicPort: 32770, Type: "tcp"}}}, "",
			fleet.Container{ID: "x", State: "running", Replica: -1, Addr: "127.0.0.1:32770", Created: fleetEpoch}},
		{"on a user network the labelled port is the address's", container.Summary{ID: "x", State: "running", Labels: map[string]string{fleet.LabelPort: "8080"},
			Ports:           []container.Port{{PrivatePort: 5432, Type: "tcp"}, {PrivatePort: 8080, Type: "tcp"}},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"net": {IPAddress: "172.20.0.5"}, "p_default": {IPAddress: "172.21.0.2"}}}}, "net",
			fleet.Container{ID: "x", State: "running", Replica: -1, Addr: "172.20.0.5:8080", Networks: []string{"net", "p_default"}, Created: fleetEpoch}},
		{"mounts of every kind, stopped", container.Summary{ID: "x", State: "exited", Mounts: []container.MountPoint{
			{Type: "volume", Name: "p_pgdata", Source: "/var/lib/docker/volumes/p_pgdata/_data", Destination: "/data", RW: true},
			{Type: "bind", Source: "/srv/conf", Destination: "/etc/x"},
			{Type: "tmpfs", Destination: "/tmp", RW: true},
			{}}}, "",
			fleet.Container{ID: "x", State: "exited", Replica: -1, Volumes: []string{"p_pgdata"}, Created: fleetEpoch, Mounts: []fleet.Mount{
				{Type: "volume", Name: "p_pgdata", Source: "/var/lib/docker/volumes/p_pgdata/_data", Target: "/data"},
				{Type: "bind", Source: "/srv/conf", Target: "/etc/x", ReadOnly: true},
				{Type: "tmpfs", Target: "/tmp"},
				{ReadOnly: true}}}},
		{"a network settings summary without networks", container.Summary{ID: "x", State: "running", NetworkSettings: &container.NetworkSettingsSummary{}}, "",
			fleet.Container{ID: "x", State: "running", Replica: -1, Created: fleetEpoch}},
		{"a malformed replica label", container.Summary{ID: "x", Labels: map[string]string{fleet.LabelReplica: "two"}}, "",
			fleet.Container{ID: "x", Replica: -1, Created: fleetEpoch}},
		{"health from the status", container.Summary{ID: "x", State: "running", Status: "Up 3 minutes (unhealthy)"}, "",
			fleet.Container{ID: "x", State: "running", Status: "Up 3 minutes (unhealthy)", Health: "unhealthy", Replica: -1, Created: fleetEpoch}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.want.Labels = c.in.Labels
			if got := Convert(c.in, c.network); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestConvertInspectWithNilParts(t *testing.T) {
	// Must not panic on an inspect result with nothing filled in.
	_ = convertInspect(container.InspectResponse{}, "")
	_ = convertInspect(container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{}}, "net")
}

// TestConvertSwarmWithNilParts: services, tasks and nodes as the API may
// return them, with the optional parts missing.
func TestConvertSwarmWithNilParts(t *testing.T) {
	if s := ConvertService(swarm.Service{ID: "s1"}); s.ID != "s1" || s.Replicas != 0 || s.Global || s.Image != "" || s.Constraints != nil || s.ReserveMemory != 0 {
		t.Errorf("empty service: %+v", s)
	}
	three := uint64(3)
	full := swarm.Service{ID: "s2", Spec: swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "web", Labels: map[string]string{"a": "b"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "web:1"},
			Placement:     &swarm.Placement{Constraints: []string{"node.role==worker"}},
			Resources:     &swarm.ResourceRequirements{Reservations: &swarm.Resources{MemoryBytes: 64 << 20}},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &three}},
	}}
	s := ConvertService(full)
	if s.Name != "web" || s.Image != "web:1" || s.Replicas != 3 || s.ReserveMemory != 64<<20 || s.Labels["a"] != "b" || len(s.Constraints) != 1 {
		t.Errorf("full service: %+v", s)
	}
	if g := ConvertService(swarm.Service{Spec: swarm.ServiceSpec{Mode: swarm.ServiceMode{Global: &swarm.GlobalService{}}}}); !g.Global {
		t.Error("a global service is not marked global")
	}
	if tk := ConvertTask(swarm.Task{ID: "t1", Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}); tk.ID != "t1" || !tk.Running() || tk.HostPorts != nil || tk.Hash != "" || tk.ContainerID != "" {
		t.Errorf("bare task: %+v", tk)
	}
	tk := ConvertTask(swarm.Task{
		Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Labels: map[string]string{"baton.spec-hash": "abc"}}},
		Status: swarm.TaskStatus{ContainerStatus: &swarm.ContainerStatus{ContainerID: "c1"}, PortStatus: swarm.PortStatus{Ports: []swarm.PortConfig{
			{TargetPort: 8080, PublishedPort: 30001, PublishMode: swarm.PortConfigPublishModeHost},
			{TargetPort: 9090, PublishedPort: 30002, PublishMode: swarm.PortConfigPublishModeIngress}, // not reachable per node
			{TargetPort: 7070, PublishMode: swarm.PortConfigPublishModeHost},                          // not published yet
		}}},
	})
	if tk.Hash != "abc" || tk.ContainerID != "c1" || len(tk.HostPorts) != 1 || tk.HostPorts[8080] != 30001 {
		t.Errorf("task: %+v", tk)
	}
	n := ConvertNode(swarm.Node{ID: "n1"})
	if n.ID != "n1" || n.Ready || n.Active || n.MemoryBytes != 0 || n.Labels == nil {
		t.Errorf("empty node: %+v", n)
	}
}
