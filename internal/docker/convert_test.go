package docker

import (
	"reflect"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

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
			fleet.Container{ID: "x", State: "running", Replica: -1, Addr: "172.20.0.5:8080", Created: fleetEpoch}},
		{"a nil endpoint for the network", container.Summary{ID: "x", State: "running",
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"net": nil}}}, "net",
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
