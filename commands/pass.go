package commands

// pass.go opens a pass: the spec, the state (locked, or read as it is for
// status), the engine, the prober, the balancer template and, when the
// spec involves a Swarm, its nodes.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"text/template"

	"github.com/baton-orchestrator/baton/internal/clock"
	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/probe"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
	"github.com/baton-orchestrator/baton/templates"
)

// pass is one pass in progress: what it loaded and observed, and where it
// acts. The spec stays as loaded; counts come from want.
type pass struct {
	env    *Env
	name   string
	clock  clock.Clock
	spec   *spec.Spec
	file   *state.File // nil when the pass does not lock (status)
	state  *state.State
	engine Engine
	prober *probe.Prober
	tmpl   *template.Template
	// want is every app's replica count in force (plan.Desired); scale
	// replaces it with this pass's autoscaled counts.
	want plan.Wanted
	// nodes are the Swarm's nodes when the spec involves a Swarm; down
	// names the ones that are down.
	nodes    []fleet.Node
	down     []string
	nodesErr error // why the nodes could not be listed
	// fleet is what observeFleet saw; members the balancer's members as
	// the executors change them.
	fleet   fleetView
	members []fleet.Container
	// probed are this pass's probe counters and health changes, panics
	// the apps the balancer fails open for (observeFleet).
	probed plan.Probed
	panics []plan.Step
	// probeAll: probe every replica (heal); other passes reuse verdicts
	// younger than health.interval.
	probeAll bool
	// syncErr is the pass's failed balancer sync, if any.
	syncErr error
	// apps are the replica counts per app, for the metrics.
	apps []plan.AppStatus
	// events are what record wrote, for the hooks.
	events []state.Event
	// info collects what executors add to the report (gc's reclaimed
	// bytes).
	info map[string]any
}

// loadSpec reads and validates the spec; a bad spec exits 1 before
// anything is locked or touched.
func loadSpec(env *Env) (*spec.Spec, error) {
	s, err := spec.Load(env.SpecPath)
	if err == nil {
		err = s.CheckStatePath(env.StatePath)
	}
	if err != nil {
		var se *spec.Error
		if errors.As(err, &se) {
			return nil, withCode(ExitError, err, "nothing was changed; `baton validate` checks a spec without touching Docker")
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, withCode(ExitError, fmt.Errorf("no spec at %q", env.SpecPath),
				"baton reads ./baton.yaml unless told otherwise: give the spec with --spec FILE (or BATON_SPEC=FILE); `baton validate` checks it",
				"`baton import compose compose.yaml > baton.yaml` writes a first spec from a compose file")
		}
		return nil, fmt.Errorf("load spec %q: %w", env.SpecPath, err)
	}
	return s, nil
}

// openPass loads the spec, takes the state lock (when lock is true), loads
// the state, connects to Docker and lists the Swarm's nodes when the spec
// involves one. Call close when done.
func openPass(ctx context.Context, env *Env, name string, lock bool) (*pass, error) {
	s, err := loadSpec(env)
	if err != nil {
		return nil, err
	}
	x := &pass{env: env, name: name, clock: env.clock(), spec: s, info: map[string]any{}}
	if s.Nginx != nil {
		if x.tmpl, err = loadTemplate(s); err != nil {
			return nil, err
		}
	}
	if lock {
		if x.file, err = state.Open(ctx, env.StatePath, env.LockTimeout); err != nil {
			return nil, err
		}
		x.state, err = x.file.Load()
	} else {
		x.state, err = readState(env.StatePath)
	}
	if err != nil {
		x.close()
		return nil, err
	}
	x.want = plan.Desired(s, x.state, nil)
	if x.engine, err = env.connect(env.DockerHost); err != nil {
		x.close()
		return nil, err
	}
	x.prober = probe.New(x.engine.Exec)
	if err := x.observeNodes(ctx); err != nil {
		x.close()
		return nil, err
	}
	return x, nil
}

// readState reads the state without the lock (for read-only commands).
func readState(path string) (*state.State, error) { return state.Read(path) }

func loadTemplate(s *spec.Spec) (*template.Template, error) { return templates.Load(s) }

func (x *pass) close() {
	if x.engine != nil {
		_ = x.engine.Close()
	}
	if x.file != nil {
		_ = x.file.Close()
	}
}

// observeNodes lists the Swarm's nodes when the spec involves a Swarm and
// notes the nodes that are down. A spec with swarm apps cannot do without
// the list; for the others (a gc, a mods refresh on a manager) failing to
// list is a warning.
func (x *pass) observeNodes(ctx context.Context) error {
	if !x.spec.UsesSwarm() {
		return nil
	}
	nodes, err := x.engine.Nodes(ctx)
	if err != nil {
		if x.spec.HasSwarmApps() {
			return fmt.Errorf("observe swarm: %w", err)
		}
		x.nodesErr = err // the swarm passes fail with it (needSwarm)
		x.env.warnf("swarm: %v", err)
		return nil
	}
	x.nodes = nodes
	x.down = plan.DownNodes(nodes)
	return nil
}

// needSwarm is for the passes that only make sense on a Swarm manager.
func (x *pass) needSwarm() error {
	if x.spec.Swarm == nil {
		return fmt.Errorf("%s: the spec has no swarm section", x.name)
	}
	if x.nodes == nil {
		if x.nodesErr != nil {
			return fmt.Errorf("%s: could not list the swarm's nodes: %w", x.name, x.nodesErr)
		}
		return fmt.Errorf("%s: could not list the swarm's nodes", x.name)
	}
	return nil
}
