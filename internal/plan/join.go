package plan

// join.go decides `baton swarm join`: the nodes of the spec whose own
// engine is in no swarm are joined to the manager's (Orcastra's bootstrap).

import (
	"fmt"
	"slices"
	"sort"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// JoinNode joins a node's engine to the swarm (Do is a Join).
const JoinNode Kind = "join"

// Join is one node to join: at its engine, with the token of its role;
// Stale are the manager's entries of that hostname that are down (the
// node's earlier life), removed once it is back.
type Join struct {
	Host, Endpoint, Role string
	Request              fleet.JoinRequest
	Stale                []fleet.Node
}

// JoinInput is what swarm join observed: the manager's nodes and join
// information, and each spec node's own word on its membership (or why
// its engine did not answer).
type JoinInput struct {
	Spec    *spec.Spec
	Nodes   []fleet.Node
	Info    fleet.JoinInfo
	Members map[string]fleet.Membership
	Errs    map[string]error
}

// JoinNodes decides a swarm join pass.
//
// Rules:
//   - a node of swarm.nodes with a docker endpoint whose engine is in no
//     swarm (inactive) is joined, as a manager when its role says so, else
//     as a worker, advertising swarm.nodes.<host>.advertise_addr when given;
//     down entries of its hostname are removed once it is back;
//   - one already in this swarm needs nothing;
//   - one in another swarm is never taken out of it: a finding (exit 3);
//   - an engine that does not answer is a finding (exit 3);
//   - a node of the spec without an endpoint that the swarm does not list
//     is reported: baton cannot reach it.
func JoinNodes(in JoinInput) Plan {
	sw := in.Spec.Swarm
	var steps []Step
	hosts := make([]string, 0, len(sw.Nodes))
	for h := range sw.Nodes {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	listed := map[string][]fleet.Node{}
	for _, n := range in.Nodes {
		listed[n.Hostname] = append(listed[n.Hostname], n)
	}
	partial := func(host, why string) {
		f := NewFinding("join", "", "node "+host, why)
		f.Key = "join node " + host
		f.Partial = fmt.Sprintf("node %s: %s", host, why)
		steps = append(steps, f)
	}
	for _, h := range hosts {
		n := sw.Nodes[h]
		if n.Docker == "" {
			if len(listed[h]) == 0 {
				f := NewFinding("join", "", "node "+h, fmt.Sprintf("not in the swarm, and without swarm.nodes.%s.docker baton cannot join it", h))
				f.Key = "join node " + h
				steps = append(steps, f)
			}
			continue
		}
		if err := in.Errs[h]; err != nil {
			partial(h, fmt.Sprintf("its engine at %s does not answer: %v", n.Docker, err))
			continue
		}
		m := in.Members[h]
		switch {
		case m.State == "inactive":
			role, token := "worker", in.Info.WorkerToken
			if n.Role == "manager" {
				role, token = "manager", in.Info.ManagerToken
			}
			j := Join{Host: h, Endpoint: n.Docker, Role: role,
				Request: fleet.JoinRequest{Token: token, Managers: slices.Clone(in.Info.Managers), AdvertiseAddr: n.AdvertiseAddr}}
			if n.AdvertiseAddr != "" {
				j.Request.ListenAddr = n.AdvertiseAddr + ":2377"
			}
			reason := fmt.Sprintf("its engine is in no swarm: join it as a %s", role)
			for _, old := range listed[h] {
				if !old.Ready {
					j.Stale = append(j.Stale, old)
				}
			}
			if len(j.Stale) > 0 {
				reason += fmt.Sprintf(", then remove the %d down entr(ies) of its earlier life", len(j.Stale))
			}
			steps = append(steps, Step{Kind: JoinNode, Type: "join", Target: "node " + h, Reason: reason, Do: j})
		case m.ClusterID != "" && m.ClusterID != in.Info.ClusterID:
			partial(h, fmt.Sprintf("its engine is in another swarm (cluster %s): baton never takes a node out of a swarm; run `docker swarm leave` there first", m.ClusterID))
		case m.State != "active":
			partial(h, fmt.Sprintf("its engine's swarm state is %s", m.State))
		}
	}
	return Plan{Steps: steps}
}
