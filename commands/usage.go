package commands

// usage.go reads container stats for the passes that need real usage:
// the autoscaler (CPU and memory of local replicas and of swarm apps'
// tasks) and rebalance (memory of every Swarm task). A Swarm task's
// container runs on its node, so it is read at that node's own engine
// (swarm.nodes.<hostname>.docker).

import (
	"context"
	"fmt"

	"github.com/baton-orchestrator/baton/internal/bounded"
	"github.com/baton-orchestrator/baton/internal/docker"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
)

// readUsage reads the memory of every Swarm task's container at each
// node's own engine (taskStats). A node without an endpoint or that does
// not answer counts reservations, and is reported.
func (p *pass) readUsage(ctx context.Context) (map[string]int64, []plan.NodeNote) {
	got, problems := p.taskStats(ctx, p.nodes, nil)
	usage := make(map[string]int64, len(got))
	for id, u := range got {
		usage[id] = int64(u.MemBytes)
	}
	var out []plan.NodeNote
	for _, np := range problems {
		out = append(out, plan.NodeNote{Node: np.node, Text: np.String("its reservations count")})
	}
	return usage, out
}

// nodeProblem says why no task of a node was read.
type nodeProblem struct {
	node       string
	noEndpoint bool  // swarm.nodes names no engine for it
	err        error // its engine did not answer
}

func (n nodeProblem) String(what string) string {
	if n.noEndpoint {
		return fmt.Sprintf("node %s has no docker endpoint in swarm.nodes: %s", n.node, what)
	}
	return fmt.Sprintf("node %s: usage unreadable, %s: %v", n.node, what, n.err)
}

// taskStats reads, at each ready node's own engine, the stats of the
// running Swarm task containers there that want selects (nil: every
// task), nodes 8 at a time. It returns the readings by task ID and, in
// nodes' order, the nodes none was read on: no endpoint, or no answer.
func (p *pass) taskStats(ctx context.Context, nodes []fleet.Node, want func(taskID string) bool) (map[string]fleet.Usage, []nodeProblem) {
	problems := make([]*nodeProblem, len(nodes)) // one slot per node keeps their order
	got := make([]map[string]fleet.Usage, len(nodes))
	bounded.Each(len(nodes), 8, func(i int) {
		n := nodes[i]
		addr := ""
		if p.spec.Swarm != nil {
			addr = p.spec.Swarm.Nodes[n.Hostname].Docker
		}
		switch {
		case !n.Ready:
		case addr == "":
			problems[i] = &nodeProblem{node: n.Hostname, noEndpoint: true}
		default:
			var err error
			if got[i], err = p.nodeStats(ctx, addr, want); err != nil {
				problems[i] = &nodeProblem{node: n.Hostname, err: err}
			}
		}
	})
	usage := map[string]fleet.Usage{}
	var out []nodeProblem
	for i := range nodes {
		for k, v := range got[i] {
			usage[k] = v
		}
		if problems[i] != nil {
			out = append(out, *problems[i])
		}
	}
	return usage, out
}

// nodeStats lists a node's containers in one call and reads the stats of
// its running Swarm tasks' containers that want selects, 8 at a time. It
// fails only when none could be read.
func (p *pass) nodeStats(ctx context.Context, addr string, want func(taskID string) bool) (map[string]fleet.Usage, error) {
	e, err := p.env.connect(addr)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	cs, err := e.ListAll(ctx)
	if err != nil {
		return nil, err
	}
	var tasks []fleet.Container
	for _, c := range cs {
		if id := c.Labels[docker.SwarmTaskLabel]; id != "" && c.Running() && (want == nil || want(id)) {
			tasks = append(tasks, c)
		}
	}
	us := make([]fleet.Usage, len(tasks))
	errs := make([]error, len(tasks))
	bounded.Each(len(tasks), 8, func(i int) {
		us[i], errs[i] = e.Stats(ctx, tasks[i].ID)
	})
	out := map[string]fleet.Usage{}
	for i, c := range tasks {
		if errs[i] == nil {
			out[c.Labels[docker.SwarmTaskLabel]] = us[i]
		}
	}
	if len(out) == 0 && len(tasks) > 0 {
		return nil, errs[0]
	}
	return out, nil
}
