package docker

import (
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/swarm"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

func TestApplyEdit(t *testing.T) {
	cases := []struct {
		name string
		in   swarm.ServiceSpec
		edit fleet.ServiceEdit
		want func(s swarm.ServiceSpec) bool
	}{
		{"a spec with no placement, labels or update config does not panic", swarm.ServiceSpec{},
			fleet.ServiceEdit{AddConstraints: []string{"a==1"}, SetLabels: map[string]string{"k": "v"}, StartFirst: true, SaveOrder: "o"},
			func(s swarm.ServiceSpec) bool {
				return reflect.DeepEqual(s.TaskTemplate.Placement.Constraints, []string{"a==1"}) && s.Labels["k"] == "v" &&
					s.UpdateConfig.Order == "start-first" && s.Labels["o"] == ""
			}},
		{"constraints compare without spaces; adding one that is there changes nothing",
			swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{Placement: &swarm.Placement{Constraints: []string{"node.labels.x == true", "b==2"}}}},
			fleet.ServiceEdit{AddConstraints: []string{"node.labels.x==true"}, RemoveConstraints: []string{"b == 2"}},
			func(s swarm.ServiceSpec) bool {
				return reflect.DeepEqual(s.TaskTemplate.Placement.Constraints, []string{"node.labels.x == true"})
			}},
		{"start-first saves the order once; restoring puts it back",
			swarm.ServiceSpec{Annotations: swarm.Annotations{Labels: map[string]string{"o": "stop-first"}}, UpdateConfig: &swarm.UpdateConfig{Order: "start-first"}},
			fleet.ServiceEdit{StartFirst: true, SaveOrder: "o"},
			func(s swarm.ServiceSpec) bool {
				return s.Labels["o"] == "stop-first" && s.UpdateConfig.Order == "start-first"
			}},
		{"restore", swarm.ServiceSpec{Annotations: swarm.Annotations{Labels: map[string]string{"o": "stop-first"}}, UpdateConfig: &swarm.UpdateConfig{Order: "start-first"}},
			fleet.ServiceEdit{RestoreOrder: "o", RemoveLabels: []string{"gone"}},
			func(s swarm.ServiceSpec) bool {
				_, kept := s.Labels["o"]
				return !kept && s.UpdateConfig.Order == "stop-first"
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.in
			ApplyEdit(&s, c.edit)
			if !c.want(s) {
				t.Errorf("got %+v %+v %+v", s.TaskTemplate.Placement, s.Labels, s.UpdateConfig)
			}
		})
	}
}
