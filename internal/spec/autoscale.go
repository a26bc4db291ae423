// The autoscaler's part of an app: targets, limits and the predictive model.

package spec

// Autoscale is an app's scaling policy, modelled on the Kubernetes HPA.
type Autoscale struct {
	// Min is the lowest count (default 0).
	Min int `yaml:"min"`
	// Max is the highest count, 1 to 500; required.
	Max     int     `yaml:"max"`
	Targets Targets `yaml:"targets"`
	// Tolerance: a metric within this fraction of its target recommends no
	// change. Default 0.1.
	Tolerance *float64 `yaml:"tolerance"`
	// ScaleUp bounds scaling up: max_step and max_percent per change (default
	// 4 and 100%), a period between changes and a stabilization window
	// (default 0).
	ScaleUp RateLimit `yaml:"scale_up"`
	// ScaleDown bounds scaling down the same way (default max_percent 100,
	// stabilization 5m).
	ScaleDown RateLimit `yaml:"scale_down"`
	// Cooldown: no change within this long after the last one. Default 0.
	Cooldown  Duration   `yaml:"cooldown"`
	Schedules []Schedule `yaml:"schedules"`
	// Timezone is the IANA time zone of the schedules (default UTC).
	Timezone string    `yaml:"timezone"`
	External *External `yaml:"external"`
	// Predict, when set, makes the policy scale for the larger of the
	// request rate now and its forecast Horizon ahead.
	Predict *Predict `yaml:"predict"`
}

// Predict is the predictive part of a policy: the request rate is
// forecast from its recent trend and from the same time of day on earlier
// days (both kept in the state file), and the rps target is applied to the
// larger of the rate now and the forecast.
type Predict struct {
	// Horizon is how far ahead to look: about the time a new replica
	// takes to become ready, plus the time between two passes. Default 2m.
	Horizon Duration `yaml:"horizon"`
}

// HasMetrics reports whether the policy has an opinion beyond its
// schedules: a target or an external scaler.
func (as *Autoscale) HasMetrics() bool {
	t := as.Targets
	return t.RPS > 0 || t.LatencyP95.D > 0 || t.CPU.Fraction > 0 || t.Memory.Fraction > 0 || t.Inflight > 0 || as.External != nil
}

// Targets are per-metric targets; a zero target is not used.
type Targets struct {
	RPS        float64  `yaml:"rps"`         // requests per second per ready replica
	LatencyP95 Duration `yaml:"latency_p95"` // p95 request time
	CPU        Percent  `yaml:"cpu"`         // of the CPU limit (or of one core)
	Memory     Percent  `yaml:"memory"`      // of the memory limit
	Inflight   float64  `yaml:"inflight"`    // concurrent requests per ready replica
}

// RateLimit bounds one direction of change.
type RateLimit struct {
	// MaxStep and MaxPercent bound one change (the larger bound wins, as in
	// the HPA's policies); Period is the least time between two changes in
	// this direction.
	MaxStep    int      `yaml:"max_step"`
	MaxPercent int      `yaml:"max_percent"`
	Period     Duration `yaml:"period"`
	// Stabilization: the highest recommendation within this window is used
	// (scale-down default 5m, scale-up default 0).
	Stabilization Duration `yaml:"stabilization"`
}
