package plan

// step.go is the one shape every pass decides in: a Plan of Steps, each
// with a kind (which executor applies it), a target and a reason; the
// findings a pass reports are steps too. The runner in commands/ prints
// plans, applies them, records them and turns their outcomes into the
// exit status, the same way for every pass.

import (
	"strings"

	"github.com/baton-orchestrator/baton/state"
)

// The kinds of step besides scale's Start, Replace and Remove.
const (
	// Report is a finding: a condition the pass reports; nothing is
	// executed for it.
	Report Kind = "finding"
	// Sync makes the balancer route to the pass's members: render, write,
	// test, reload as needed (Do is a *BalancerChange).
	Sync Kind = "balancer"
	// Service changes a swarm app's service (Do is a ServiceAction).
	Service Kind = "service"
	// NodeLabels sets and removes Swarm node labels (Do is a LabelChange).
	NodeLabels Kind = "node labels"
	// Dependent constrains or restarts a dependent service (Do is a
	// ServiceChange).
	Dependent Kind = "dependent"
	// MoveService pins a service to another node (Do is a Move);
	// UnpinService removes the pin of an earlier move (Do is an Unpin).
	MoveService  Kind = "move"
	UnpinService Kind = "unpin"
	// Fetch downloads a mod file; Prune removes one (Do is a ModAction).
	Fetch Kind = "fetch"
	Prune Kind = "prune"
	// Discard removes a stopped container, an unused image or an orphan
	// volume (Do is a GCItem).
	Discard Kind = "discard"
	// PruneSwarmFile removes a Swarm secret or config baton made that no
	// app mounts any more (Do is a SwarmFileRemoval).
	PruneSwarmFile Kind = "remove swarm file"
)

// Step is one thing a pass does or reports.
type Step struct {
	Kind   Kind
	App    string // the app it belongs to, if any
	Target string // what it acts on, for tables and events
	Reason string
	// Type names a finding (hold, crashloop, unhealthy, recovered, down,
	// ...) and is the event type of every step (EventType).
	Type string
	// Partial, for a finding, is the sentence that makes the pass "partly
	// done" (exit 3): an app crash-looping, a node down. Empty: the
	// finding is information only.
	Partial string
	// Hint is printed with Partial when the pass exits 3.
	Hint string
	// Resolved marks the finding that an incident of this Type is over.
	Resolved bool
	// Key names the incident a finding is part of (a slot backing off or
	// crash-looping, a paused rollout, panic routing, a node down): the
	// runner prints and records it when it begins and when it ends, not
	// on every pass it lasts. Empty: a one-off finding.
	Key string
	// Do is what the step's executor needs.
	Do any
}

// Plan is a pass's decision.
type Plan struct {
	Steps []Step
	// Commit records in the state what the pass must remember, once its
	// steps ran (never on a dry run). nil: nothing to remember.
	Commit func(st *state.State, outcomes []Outcome)
	// Info is what a pass's printer shows besides the steps (autoscale
	// decisions, node loads); nil for most passes.
	Info any
	// Want are the replica counts the plan is for, when the pass decided
	// them (scale's autoscaler); nil: the counts in force.
	Want Wanted
}

// Outcome is what became of one step.
type Outcome struct {
	Step Step
	Err  error
	// Note says what "done" means when it is more than that ("ok:
	// web-0-ab12cd", "downloaded 3.1 KiB").
	Note string
	// Quiet marks a step that turned out to change nothing (a 304): it is
	// neither printed nor recorded.
	Quiet bool
	// Data is the executor's result for Commit (a started container, a
	// downloaded file's record).
	Data any
}

// NotReady marks a failure of a new replica itself — it never answered
// its check, or exited before it did — as opposed to the engine's (a
// daemon that did not answer, an image that could not be pulled). Only
// such a failure pauses a rollout.
type NotReady struct{ Err error }

func (e *NotReady) Error() string { return e.Err.Error() }
func (e *NotReady) Unwrap() error { return e.Err }

// NotAttempted marks an action the rollout did not try: an earlier step
// failed its balancer sync, or (Paused) the app's rollout stopped because
// its new version failed. It is no attempt against the action's slot.
type NotAttempted struct {
	Err    error
	Paused bool
}

func (e *NotAttempted) Error() string { return e.Err.Error() }
func (e *NotAttempted) Unwrap() error { return e.Err }

// Done reports whether the step was applied.
func (o Outcome) Done() bool { return o.Err == nil }

// NewFinding makes a finding step.
func NewFinding(typ, app, target, reason string) Step {
	return Step{Kind: Report, Type: typ, App: app, Target: target, Reason: reason}
}

// Lasting are the findings of a decider that reports in sentences which
// are incidents: a condition that lasts from pass to pass (an anchor with
// no task, a node under memory pressure) is one event when it begins and
// one when it ends, not a line on every cron run. By the sentence.
type Lasting map[string]Step

// Note adds a finding to findings; typ and target make it an incident,
// keyed by both (the sentence may change: a node at 78%, then 79%).
// An incident is noted once per pass: a second finding of the same key
// (two dependents of one missing anchor) adds nothing.
func (l *Lasting) Note(findings *[]string, typ, target, text string) {
	key := typ + " " + target
	for _, s := range *l {
		if s.Key == key {
			return
		}
	}
	*findings = append(*findings, text)
	if *l == nil {
		*l = Lasting{}
	}
	s := NewFinding(typ, "", target, text)
	s.Key = key
	(*l)[text] = s
}

// Findings turns the sentences some deciders report into finding steps:
// those noted as lasting are their incidents, the others typ.
func (l Lasting) Findings(typ string, texts []string) []Step {
	out := make([]Step, 0, len(texts))
	for _, t := range texts {
		if s, ok := l[t]; ok {
			out = append(out, s)
			continue
		}
		out = append(out, NewFinding(typ, "", "", t))
	}
	return out
}

// EventType is the event log's type of a step: the finding's type, or the
// action's kind with spaces as dashes ("create-service").
func (s Step) EventType() string {
	if s.Type != "" {
		return s.Type
	}
	return strings.ReplaceAll(string(s.Kind), " ", "-")
}

// Of returns the steps of kind k.
func (p Plan) Of(k Kind) []Step {
	var out []Step
	for _, s := range p.Steps {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}
