package spec

// swarm.go holds the swarm section: node labels and anchors (labels sync)
// and rebalancing, their defaults and their validation.

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// Swarm describes what `baton labels sync` keeps true on a Docker Swarm.
type Swarm struct {
	// Nodes gives static labels by node hostname.
	Nodes map[string]SwarmNode `yaml:"nodes"`
	// Anchors make a dependent service run where its anchor's tasks run.
	Anchors []Anchor `yaml:"anchors"`
	// PruneUnknownLabels removes every node label the spec does not name;
	// by default only labels baton set are ever removed.
	PruneUnknownLabels bool `yaml:"prune_unknown_labels"`
	// RestartCooldown is the least time between two restarts of a
	// dependent whose tasks sit on the wrong node. Default 1m.
	RestartCooldown Duration `yaml:"restart_cooldown"`
	// Wait bounds how long labels sync waits for a dependent's tasks to
	// leave a node its anchor left before it removes the anchor's label
	// there (default 60s); a later pass finishes what is left.
	Wait Duration `yaml:"wait"`
	// Rebalance configures `baton rebalance`; without it rebalance only
	// reports the nodes' memory pressure.
	Rebalance *Rebalance `yaml:"rebalance"`
}

// AnchorOf is the anchors entry whose anchor is the service, or nil.
func (sw *Swarm) AnchorOf(anchor string) *Anchor {
	if sw == nil {
		return nil
	}
	for i := range sw.Anchors {
		if sw.Anchors[i].Anchor == anchor {
			return &sw.Anchors[i]
		}
	}
	return nil
}

// SwarmNode is one node as the spec wants it: its static labels, its role
// and availability, and where its own engine answers.
type SwarmNode struct {
	// Labels are the node's static labels; keys starting with baton. are
	// reserved.
	Labels map[string]string `yaml:"labels"`
	// Docker is the node's own engine (unix:// or tcp://); with
	// rebalance.usage: docker its containers' memory is read there, and
	// `baton swarm join` joins the node through it.
	Docker string `yaml:"docker"`
	// Role is manager or worker (empty: as it is); labels sync promotes
	// and demotes, never below a quorum of reachable managers.
	Role string `yaml:"role"`
	// Availability is active, pause or drain (empty: as it is).
	Availability string `yaml:"availability"`
	// AdvertiseAddr is the address the node advertises when `baton swarm
	// join` joins it (empty: Docker picks one; a host with several
	// addresses and no default route needs it).
	AdvertiseAddr string `yaml:"advertise_addr"`
}

// Placement is where Swarm may run a swarm app's tasks, in compose's
// deploy.placement words.
type Placement struct {
	// Constraints are Swarm placement constraints
	// ("node.labels.zone==b", "node.role!=manager").
	Constraints []string `yaml:"constraints"`
	// Preferences spread the tasks evenly over the values of a node
	// label, in order.
	Preferences []Preference `yaml:"preferences"`
	// MaxReplicasPerNode caps the tasks on one node (0: no cap).
	MaxReplicasPerNode int `yaml:"max_replicas_per_node"`
}

// Preference is one placement preference.
type Preference struct {
	// Spread is a node label (node.labels.<key>) Swarm spreads the tasks over,
	// as compose's placement.preferences.spread.
	Spread string `yaml:"spread"`
}

// The node roles and availabilities.
var (
	nodeRoles          = []string{"manager", "worker"}
	nodeAvailabilities = []string{"active", "pause", "drain"}
	constraintKeyRe    = regexp.MustCompile(`^(node\.(id|hostname|role|platform\.os|platform\.arch)|(node|engine)\.labels\.[A-Za-z0-9_.-]+)$`)
	constraintValueRe  = regexp.MustCompile(`^[A-Za-z0-9:_\s.*()?+\[\]\\^$|/-]+$`)
	spreadRe           = regexp.MustCompile(`^(node|engine)\.labels\.[A-Za-z0-9_.-]+$`)
)

// validateSwarmApp checks a swarm app's swarm-only fields.
func (d *decoder) validateSwarmApp(a *App, p string) {
	pl := a.Placement
	if pl == nil {
		return
	}
	for i, c := range pl.Constraints {
		f := fmt.Sprintf("%s.placement.constraints[%d]", p, i)
		key, _, value, ok := fleet.ParseConstraint(c)
		switch {
		case !ok:
			d.problem(f, "invalid constraint %q: want KEY==VALUE or KEY!=VALUE", c)
		case !constraintKeyRe.MatchString(key):
			d.problem(f, "unknown constraint key %q: node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.K or engine.labels.K", key)
		case value == "" || !constraintValueRe.MatchString(value):
			d.problem(f, "invalid constraint value %q", value)
		}
	}
	for i, pr := range pl.Preferences {
		if !spreadRe.MatchString(pr.Spread) {
			d.problem(fmt.Sprintf("%s.placement.preferences[%d].spread", p, i), "must be node.labels.K or engine.labels.K, got %q", pr.Spread)
		}
	}
	if pl.MaxReplicasPerNode < 0 {
		d.problem(p+".placement.max_replicas_per_node", "must not be negative")
	}
}

// refuseSwarmFields refuses the swarm-only fields on an app of the local
// engine.
func (d *decoder) refuseSwarmFields(a *App, p string) {
	if a.Placement != nil {
		d.problem(p+".placement", "only for an app with engine: swarm")
	}
}

// Rebalance moves services off nodes under memory pressure, the way the
// Kubernetes descheduler's LowNodeUtilization does, with Swarm's own
// mechanism: a placement constraint pins the service to the chosen node,
// Swarm moves its tasks, and the constraint is removed again once they
// run there (a placement-only change Swarm applies without a restart).
type Rebalance struct {
	// Threshold: a node whose memory use is above this share of its
	// memory is under pressure. Default 80%.
	Threshold Percent `yaml:"threshold"`
	// Target: a move never brings the receiving node above this share.
	// Default: the threshold. Below it, a receiver keeps headroom, so
	// what moved does not make it the next pass's source.
	Target Percent `yaml:"target"`
	// Usage is where a node's memory use comes from: reservations (the
	// default: the memory reservations of the Swarm tasks on it) or
	// docker (the containers' real usage, from each node's swarm.nodes
	// docker endpoint).
	Usage string `yaml:"usage"`
	// MaxMoves caps the services moved in one pass (default 5);
	// MaxMovesPerNode the services moved off one node (default 2).
	MaxMoves        int `yaml:"max_moves"`
	MaxMovesPerNode int `yaml:"max_moves_per_node"`
	// Cooldown: no move within this long after the last one (default
	// 10m). ServiceCooldown: a service is not moved again within this
	// long (default 1h), so nothing ping-pongs.
	Cooldown        Duration `yaml:"cooldown"`
	ServiceCooldown Duration `yaml:"service_cooldown"`
	// Wait bounds how long a pass waits for moved tasks to run on their
	// new node before it removes the pin (default 60s); a later pass
	// removes a pin left behind.
	Wait Duration `yaml:"wait"`
}

// Anchor: Service follows Anchor (e.g. an app follows its database).
type Anchor struct {
	// Service is the dependent service that runs where its anchor runs.
	Service string `yaml:"service"`
	// Anchor is the service whose nodes the dependent follows.
	Anchor string `yaml:"anchor"`
}

// HasNodeEndpoints reports whether any node of swarm.nodes names its own
// engine (where its tasks' containers are read). A nil Swarm has none.
func (sw *Swarm) HasNodeEndpoints() bool {
	if sw == nil {
		return false
	}
	for _, n := range sw.Nodes {
		if n.Docker != "" {
			return true
		}
	}
	return false
}

// applyDefaults fills what swarm.rebalance leaves out; written says
// whether a field was given (an explicit max_moves: 0 moves nothing). It
// is nil for the report-only defaults.
func (r *Rebalance) applyDefaults(written func(string) bool) {
	if written == nil {
		written = func(string) bool { return false }
	}
	if r.Threshold.Fraction == 0 {
		r.Threshold.Fraction = 0.8
	}
	if r.Target.Fraction == 0 {
		r.Target.Fraction = r.Threshold.Fraction
	}
	if r.Usage == "" {
		r.Usage = "reservations"
	}
	if r.MaxMoves == 0 && !written("swarm.rebalance.max_moves") {
		r.MaxMoves = 5
	}
	if r.MaxMovesPerNode == 0 && !written("swarm.rebalance.max_moves_per_node") {
		r.MaxMovesPerNode = 2
	}
	if !r.Cooldown.Set {
		r.Cooldown.D = 10 * time.Minute
	}
	if !r.ServiceCooldown.Set {
		r.ServiceCooldown.D = time.Hour
	}
	if !r.Wait.Set {
		r.Wait.D = time.Minute
	}
}

// RebalanceOrReport is swarm.rebalance, or — without one — the defaults,
// with report true: rebalance then only reports pressure.
// A nil Swarm (a spec without the section) reports too.
func (sw *Swarm) RebalanceOrReport() (r *Rebalance, report bool) {
	if sw != nil && sw.Rebalance != nil {
		return sw.Rebalance, false
	}
	r = &Rebalance{}
	r.applyDefaults(nil)
	return r, true
}

var serviceRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

func (d *decoder) validateSwarm(sw *Swarm) {
	for host, n := range sw.Nodes {
		p := "swarm.nodes." + host
		if !hostRe.MatchString(strings.ToLower(host)) {
			d.problem(p, "invalid hostname %q", host)
		}
		d.validateLabels(p+".labels", n.Labels)
	}
	for host, n := range sw.Nodes {
		if n.Docker != "" && !strings.HasPrefix(n.Docker, "unix://") && !strings.HasPrefix(n.Docker, "tcp://") {
			d.problem("swarm.nodes."+host+".docker", "must be a unix:// or tcp:// address, got %q", n.Docker)
		}
		if n.Role != "" && !oneOf(n.Role, nodeRoles) {
			d.problem("swarm.nodes."+host+".role", "must be one of manager, worker, got %q", n.Role)
		}
		if n.AdvertiseAddr != "" && net.ParseIP(n.AdvertiseAddr) == nil {
			d.problem("swarm.nodes."+host+".advertise_addr", "must be an IP address, got %q", n.AdvertiseAddr)
		}
		if n.Availability != "" && !oneOf(n.Availability, nodeAvailabilities) {
			d.problem("swarm.nodes."+host+".availability", "must be one of active, pause, drain, got %q", n.Availability)
		}
	}
	if r := sw.Rebalance; r != nil {
		if r.Threshold.Fraction > 1 {
			d.problem("swarm.rebalance.threshold", "must be at most 100%%")
		}
		if r.Target.Fraction > 1 {
			d.problem("swarm.rebalance.target", "must be at most 100%%")
		}
		if r.Target.Fraction != 0 && r.Threshold.Fraction != 0 && r.Target.Fraction > r.Threshold.Fraction {
			d.problem("swarm.rebalance.target", "must not be above the threshold: a receiver would end up under pressure")
		}
		if r.Usage != "" && !oneOf(r.Usage, []string{"reservations", "docker"}) {
			d.problem("swarm.rebalance.usage", "must be one of reservations, docker, got %q", r.Usage)
		}
		if r.Usage == "docker" {
			for host, n := range sw.Nodes {
				if n.Docker == "" {
					d.problem("swarm.nodes."+host+".docker", "missing: rebalance.usage docker reads each node's containers at its own endpoint")
				}
			}
			if len(sw.Nodes) == 0 {
				d.problem("swarm.rebalance.usage", "usage docker needs swarm.nodes with a docker endpoint per node")
			}
		}
		if r.MaxMoves < 0 {
			d.problem("swarm.rebalance.max_moves", "must not be negative")
		}
		if r.MaxMovesPerNode < 0 {
			d.problem("swarm.rebalance.max_moves_per_node", "must not be negative")
		}
	}
	seen := map[string]bool{}
	for i, a := range sw.Anchors {
		p := fmt.Sprintf("swarm.anchors[%d]", i)
		switch {
		case !serviceRe.MatchString(a.Service):
			d.problem(p+".service", "invalid service name %q", a.Service)
		case !serviceRe.MatchString(a.Anchor):
			d.problem(p+".anchor", "invalid service name %q", a.Anchor)
		case a.Service == a.Anchor:
			d.problem(p, "a service cannot follow itself")
		case seen[a.Service]:
			d.problem(p+".service", "service %q already follows an anchor", a.Service)
		}
		seen[a.Service] = true
	}
}

// swarmHash is the swarm part of an app's hash: what makes a swarm app's
// tasks differ besides the container (nil when the app has none of it, so
// the hash of an app without it is as it always was).
type swarmHash struct {
	Networks []string `json:",omitempty"`
	Secrets  []string `json:",omitempty"`
	Configs  []string `json:",omitempty"`
}

// swarmPart is the swarm part of the app's hash; the spec is needed for
// the networks' and files' names, so an App hashed without its spec has
// the keys only.
func (a *App) swarmPart() *swarmHash {
	if !a.OnSwarm() || a.swarm == nil {
		return nil
	}
	return a.swarm
}
