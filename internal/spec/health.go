package spec

// health.go holds the health settings that keep ordinary failures from
// taking an app down: when a replica leaves and re-enters the balancer
// (leave_after), when a failure counts against its replica slot's
// backoff (stable_after), when the balancer fails open (panic) and how
// fresh a probe verdict must be for passes other than heal to reuse it
// (interval).

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults of the membership settings.
const (
	DefaultStableAfter = 60 * time.Second
	DefaultLeaveAfter  = 2
	DefaultPanic       = 0.5
	DefaultInterval    = 10 * time.Second
)

// Panic is the share of an app's replicas that must pass their checks
// for the balancer to route only to those; at or below it, the balancer
// routes to every running replica that was ever ready (it fails open,
// like Envoy's panic threshold). "off" (or 0%) never does.
type Panic struct {
	Fraction float64
	Set      bool
}

func (p *Panic) parseScalar(s string) error {
	t := strings.TrimSpace(s)
	if t == "off" {
		p.Fraction, p.Set = 0, true
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil || f != f || f < 0 || f >= 100 || !strings.HasSuffix(t, "%") && f != 0 {
		return fmt.Errorf("invalid panic share %q (use e.g. 50%% or off)", s)
	}
	p.Fraction, p.Set = f/100, true
	return nil
}

func (h *Health) applyMembershipDefaults() {
	if !h.StableAfter.Set {
		h.StableAfter.D = DefaultStableAfter
	}
	if h.LeaveAfter == 0 {
		h.LeaveAfter = min(DefaultLeaveAfter, h.FailureThreshold)
	}
	if !h.Panic.Set {
		h.Panic.Fraction = DefaultPanic
	}
	if !h.Interval.Set {
		h.Interval.D = DefaultInterval
	}
}

func (d *decoder) validateMembership(h Health, p string) {
	if h.LeaveAfter < 0 || h.LeaveAfter > 100 {
		d.problem(p+".leave_after", "must be between 1 and 100, got %d", h.LeaveAfter)
	}
	if h.LeaveAfter > 0 && h.FailureThreshold > 0 && h.LeaveAfter > h.FailureThreshold {
		d.problem(p+".leave_after", "must not be more than failure_threshold (%d): a replica heal replaces must already be out of the balancer", h.FailureThreshold)
	}
	if h.Interval.Set && h.Interval.D < 100*time.Millisecond {
		d.problem(p+".interval", "must be at least 100ms, got %s", h.Interval.D)
	}
}

func (p Panic) formatScalar() (string, bool) {
	if p.Set && p.Fraction == 0 {
		return "off", true
	}
	return strconv.FormatFloat(p.Fraction*100, 'f', -1, 64) + "%", p.Set
}

// Resources limits a container, in the units of the Orchestry seed.
type Resources struct {
	// Memory is the container's memory limit (64m, 1g, bytes; binary units, at
	// least 6m).
	Memory Size     `yaml:"memory"`
	CPU    MilliCPU `yaml:"cpu"`
	// ReserveMemory is a swarm app's memory reservation per task: Swarm
	// places a task only on a node with that much unreserved, and
	// rebalance counts it.
	ReserveMemory Size `yaml:"reserve_memory"`
}

// Health is how baton decides a replica answers. Every pass uses it as the
// readiness check (only replicas that pass are in the balancer, and a new
// replica enters only once it passes); heal adds the thresholds, the
// backoff and the crash-loop limit.
type Health struct {
	// Type is http, tcp, exec, docker or none. Default: http when Path is
	// set, tcp when the app has a port, none otherwise.
	Type string `yaml:"type"`
	// Path is the path an http check GETs on the container port (default /).
	Path string `yaml:"path"`
	// Statuses are the HTTP codes an http check accepts (default 200-399).
	Statuses []int `yaml:"statuses"`
	// Headers are extra request headers of an http check; Host sets the
	// virtual host it asks for.
	Headers map[string]string `yaml:"headers"`
	// Command is the argv run inside the container for type exec; exit 0
	// passes.
	Command []string `yaml:"command"`
	// Timeout is one probe's limit (default 1s).
	Timeout Duration `yaml:"timeout"`
	// StartPeriod: heal gives no verdict while a fresh container warms up this
	// long (default 0s).
	StartPeriod Duration `yaml:"start_period"`
	// ReadyTimeout is how long a new replica may take to answer before it is
	// given up on and removed; the old replica keeps serving (default 30s).
	ReadyTimeout Duration `yaml:"ready_timeout"`
	// FailureThreshold is how many heal passes in a row a replica must fail
	// before it is replaced (1-100, default 3).
	FailureThreshold int `yaml:"failure_threshold"`
	// SuccessThreshold is how many passing probes in a row clear a replica's
	// failure count (1-100, default 1).
	SuccessThreshold int `yaml:"success_threshold"`
	// Backoff is the delay after heal's first replacement of the app,
	// doubled for each further one within CrashloopWindow, up to BackoffMax.
	Backoff Duration `yaml:"backoff"`
	// BackoffMax caps the backoff delay (default 5m).
	BackoffMax Duration `yaml:"backoff_max"`
	// CrashloopAttempts replacements within CrashloopWindow mark the app
	// crash-looping (exit 3, an event); heal keeps backing off.
	CrashloopAttempts int      `yaml:"crashloop_attempts"`
	CrashloopWindow   Duration `yaml:"crashloop_window"`
	// StableAfter: a replica that failed within this long of starting is
	// a crash-loop attempt against its replica slot; one that served
	// longer resets its slot. Default 60s.
	StableAfter Duration `yaml:"stable_after"`
	// LeaveAfter is how many failed probes in a row take a replica out of
	// the balancer (one failed probe does not). Default 2, at most
	// failure_threshold.
	LeaveAfter int `yaml:"leave_after"`
	// Panic is the share of an app's replicas in the balancer at or below
	// which it routes to every replica that was ever ready (fails open);
	// "off" never does. Default 50%.
	Panic Panic `yaml:"panic"`
	// Interval is how fresh a probe verdict must be for passes other than
	// heal to reuse it instead of probing again. Default 10s.
	Interval Duration `yaml:"interval"`
}
