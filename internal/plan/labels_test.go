package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

const labelsSpec = `
swarm:
  nodes:
    node1: {labels: {zone: a}}
    node2: {labels: {zone: b, disk: ssd}}
  anchors:
    - {service: app, anchor: db}
  restart_cooldown: 1m
`

func swarmWorld() ([]fleet.Node, []fleet.Service, []fleet.Task) {
	nodes := []fleet.Node{
		{ID: "n1", Hostname: "node1", Ready: true, Labels: map[string]string{"zone": "a", "baton.anchor.db": "true", "owner": "ops"}},
		{ID: "n2", Hostname: "node2", Ready: true, Labels: map[string]string{"zone": "b", "old": "x"}},
		{ID: "n3", Hostname: "node3", Ready: false, Labels: map[string]string{"baton.anchor.db": "true"}},
	}
	services := []fleet.Service{
		{ID: "sdb", Name: "db"},
		{ID: "sapp", Name: "app", Constraints: []string{AnchorConstraint("db")}},
	}
	// db moved to node2; app still runs on node1.
	tasks := []fleet.Task{{ID: "t1", ServiceID: "sdb", NodeID: "n2", State: "running"}, {ID: "t2", ServiceID: "sapp", NodeID: "n1", State: "running"}}
	return nodes, services, tasks
}

func TestSyncLabels(t *testing.T) {
	s := testSpec(t, labelsSpec)
	nodes, services, tasks := swarmWorld()
	owned := map[string][]string{"n2": {"old", "zone"}}
	p := SyncLabels(s, nodes, services, tasks, owned, nil, t0)
	got := map[string]LabelChange{}
	for _, c := range p.Nodes {
		got[c.Node.Hostname] = c
	}
	n1, n2 := got["node1"], got["node2"]
	if strings.Join(n1.Remove, ",") != "baton.anchor.db" || len(n1.Set) != 0 || n1.Labels["owner"] != "ops" {
		t.Errorf("node1: the anchor label goes, the operator's label stays: %+v", n1)
	}
	if n2.Set["baton.anchor.db"] != "true" || n2.Set["disk"] != "ssd" || strings.Join(n2.Remove, ",") != "old" {
		t.Errorf("node2: %+v", n2)
	}
	if _, touched := got["node3"]; touched {
		t.Error("a down node was changed")
	}
	if !strings.Contains(strings.Join(p.Findings, "\n"), "node node3 is down") {
		t.Errorf("down node not reported: %v", p.Findings)
	}
	if len(p.Services) != 1 || !p.Services[0].Restart || p.Services[0].Service.Name != "app" {
		t.Fatalf("app must be restarted to follow db: %+v", p.Services)
	}
	// Within the cooldown, no restart: a finding instead.
	p = SyncLabels(s, nodes, services, tasks, owned, map[string]time.Time{"app": t0.Add(-10 * time.Second)}, t0)
	if len(p.Services) != 0 || !strings.Contains(strings.Join(p.Findings, "\n"), "cooldown") {
		t.Errorf("cooldown not kept: %+v %v", p.Services, p.Findings)
	}
}

func TestSyncLabelsAddsTheConstraintAndIsIdempotent(t *testing.T) {
	s := testSpec(t, labelsSpec)
	nodes, services, tasks := swarmWorld()
	services[1].Constraints = nil
	p := SyncLabels(s, nodes, services, tasks, nil, nil, t0)
	if len(p.Services) != 1 || p.Services[0].AddConstraint != "node.labels.baton.anchor.db==true" {
		t.Fatalf("%+v", p.Services)
	}
	// Apply the plan and run again: nothing to do.
	for i := range nodes {
		for _, c := range p.Nodes {
			if c.Node.ID == nodes[i].ID {
				nodes[i].Labels = c.Labels
			}
		}
	}
	services[1].Constraints = []string{p.Services[0].AddConstraint}
	tasks[1].NodeID = "n2"
	again := SyncLabels(s, nodes, services, tasks, p.Owned, nil, t0)
	if len(again.Nodes) != 0 || len(again.Services) != 0 {
		t.Errorf("second pass: %+v %+v", again.Nodes, again.Services)
	}
}

func TestSyncLabelsPrunesUnknownOnlyWhenAsked(t *testing.T) {
	s := testSpec(t, labelsSpec+"  prune_unknown_labels: true\n")
	nodes, services, tasks := swarmWorld()
	p := SyncLabels(s, nodes, services, tasks, nil, nil, t0)
	for _, c := range p.Nodes {
		if c.Node.Hostname == "node1" && !strings.Contains(strings.Join(c.Remove, ","), "owner") {
			t.Errorf("prune_unknown_labels keeps owner: %+v", c)
		}
	}
}

func TestSyncLabelsKeepsLabelsOfAnAnchorThatRunsNowhere(t *testing.T) {
	s := testSpec(t, labelsSpec)
	nodes, services, _ := swarmWorld()
	p := SyncLabels(s, nodes, services, nil, nil, nil, t0)
	for _, c := range p.Nodes {
		for _, k := range c.Remove {
			if k == "baton.anchor.db" {
				t.Errorf("removed %s from %s while db runs nowhere", k, c.Node.Hostname)
			}
		}
	}
}

func TestOwnedAfter(t *testing.T) {
	prev := map[string][]string{"n1": {"a"}, "n2": {"b"}, "n3": {"c"}}
	decided := map[string][]string{"n1": {"a", "x"}, "n2": {}, "n4": {"d"}}
	got := OwnedAfter(prev, decided, map[string]bool{"n2": true})
	want := map[string][]string{"n1": {"a", "x"}, "n2": {"b"}, "n3": {"c"}, "n4": {"d"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("a failed node keeps its record, the others take the decision, undecided nodes keep theirs: got %v, want %v", got, want)
	}
}
