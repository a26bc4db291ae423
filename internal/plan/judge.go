package plan

import (
	"slices"
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// Sight is what a pass saw, as far as judging known incidents goes: an
// incident is over only for a pass that could have found it again, so
// none flaps (an end and a new beginning, an alert each) between passes
// that see different things.
type Sight struct {
	Pass        string   // the subcommand path: "scale", "labels sync"
	NodesListed bool     // it listed the Swarm's nodes
	Down        []string // the hostnames of those that were down
	Spec        *spec.Spec
	Containers  []fleet.Container // the project's containers it listed
}

// judgedBy are the incident types each pass judges, besides a node down,
// which every pass that listed the nodes does. A new incident type is
// added here, and to spec.EventTypes and docs/commands/events.md.
var judgedBy = map[string][]string{
	"scale":       {"hold", "crashloop", "paused", "panic", "network-in-use", "waiting"},
	"heal":        {"hold", "crashloop", "paused", "panic", "waiting", "unhealthy"},
	"lb render":   {"panic"},
	"labels sync": {"quorum", "anchor", "dependent", "label-kept"},
	"rebalance":   {"pressure", "moving", "usage"},
	"swarm join":  {"join"},
}

// finderJudges are the types more than one pass finds, each its own: a
// wait heal's replacement hit is not scale's to end, nor scale's heal's.
var finderJudges = []string{"waiting"}

// Judges reports whether a pass that saw s judges inc: when it does not
// find inc again, inc is over.
func Judges(s Sight, inc *state.Incident) bool {
	switch {
	case inc.Type == "down":
		return s.NodesListed // a pass that could not list the nodes saw none come back
	case !slices.Contains(judgedBy[s.Pass], inc.Type):
		return false
	case slices.Contains(finderJudges, inc.Type) && inc.By != "" && inc.By != s.Pass:
		return false
	case inc.Type == "quorum":
		return len(s.Down) == 0 // with a node down no demotion is decided: a refusal stands until every node answers
	case slices.Contains(s.Down, nodeOf(inc.Target)):
		return false // a pass skips a down node: what it found there (pressure, a kept label) stands
	case s.Pass == "scale" && (inc.Type == "hold" || inc.Type == "crashloop"):
		return !healJudges(s, inc)
	case s.Pass == "heal" && (inc.Type == "hold" || inc.Type == "crashloop"):
		return !scaleJudges(s, inc)
	}
	return true
}

// scaleJudges: the hold or crash loop is of a slot with no container at
// all (its starts fail before one exists: a missing image), which only
// scale starts; heal acts on slots that have a container.
func scaleJudges(s Sight, inc *state.Incident) bool {
	slot, ok := SlotOfTarget(inc.Target)
	if !ok {
		return false
	}
	if a := s.Spec.App(inc.App); a != nil && a.OnSwarm() {
		return false
	}
	for _, c := range s.Containers {
		if c.App == slot.App && c.Replica == slot.Replica && !c.Retiring() {
			return false
		}
	}
	return true
}

// healJudges: the hold or crash loop is one only heal can judge (a slot
// whose replica runs and may be unhealthy, a swarm task, an app's panic
// hold); scale judges a slot with no replica running, which it would
// start.
func healJudges(s Sight, inc *state.Incident) bool {
	if a := s.Spec.App(inc.App); a != nil && a.OnSwarm() {
		return true
	}
	slot, ok := SlotOfTarget(inc.Target)
	if !ok {
		return true
	}
	for _, c := range s.Containers {
		if c.App == slot.App && c.Replica == slot.Replica && c.Running() && !c.Retiring() {
			return true
		}
	}
	return false
}

// nodeOf is the hostname an incident's target names ("node HOST", "node
// HOST LABEL"), or "".
func nodeOf(target string) string {
	rest, ok := strings.CutPrefix(target, "node ")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, " ")
	return host
}
