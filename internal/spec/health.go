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
