// Defaults: what an unwritten field means, filled in once at load.

package spec

import (
	"fmt"
	"time"
)

func (s *Spec) applyDefaults() {
	if s.Project == "" {
		s.Project = DefaultProject
	}
	if s.Nginx != nil {
		s.Nginx.applyDefaults()
	}
	if s.Docker.PublishIP == "" {
		s.Docker.PublishIP = DefaultPublishIP
	}
	s.applyStackDefaults()
	if s.Swarm != nil && !s.Swarm.RestartCooldown.Set {
		s.Swarm.RestartCooldown.D = time.Minute
	}
	if s.Swarm != nil && !s.Swarm.Wait.Set {
		s.Swarm.Wait.D = time.Minute
	}
	if s.Swarm != nil && s.Swarm.Rebalance != nil {
		s.Swarm.Rebalance.applyDefaults(s.written)
	}
	for _, a := range s.Apps {
		if a != nil && a.Engine == "" {
			a.Engine = "docker"
		}
	}
	if !s.GC.Grace.Set {
		s.GC.Grace.D = 3 * time.Hour
	}
	if s.GC.KeepImages == nil {
		three := 3
		s.GC.KeepImages = &three
	}
	if s.GC.Dangling == nil {
		yes := true
		s.GC.Dangling = &yes
	}
	if s.GC.Volumes == "" {
		s.GC.Volumes = "anonymous"
	}
	if s.GC.Scope == "" {
		s.GC.Scope = "project"
	}
	// A field written as 0 keeps its 0 (validateDefaults refuses the ones
	// where 0 means nothing): only an absent field gets the default.
	if m := s.Mods; m != nil {
		if m.Interval.D == 0 && !m.Interval.Set {
			m.Interval.D = 12 * time.Hour
		}
		if m.MaxSize.Bytes == 0 && !s.written("mods.max_size") {
			m.MaxSize.Bytes = 1 << 30
		}
		if m.Parallel == 0 && !s.written("mods.parallel") {
			m.Parallel = 4
		}
		if m.Timeout.D == 0 && !m.Timeout.Set {
			m.Timeout.D = 5 * time.Minute
		}
		if m.Retries == 0 && !s.written("mods.retries") {
			m.Retries = 3
		}
		for _, f := range m.Files {
			if f.Interval.D == 0 && !f.Interval.Set {
				f.Interval.D = m.Interval.D
			}
		}
	}
	for i, a := range s.Apps {
		as := a.Autoscale
		if as == nil {
			continue
		}
		p := fmt.Sprintf("apps[%d].autoscale", i)
		if as.Tolerance == nil {
			t := 0.1
			as.Tolerance = &t
		}
		if as.ScaleUp.MaxStep == 0 && as.ScaleUp.MaxPercent == 0 && !s.written(p+".scale_up.max_step") && !s.written(p+".scale_up.max_percent") {
			as.ScaleUp.MaxStep, as.ScaleUp.MaxPercent = 4, 100
		}
		if as.ScaleDown.MaxStep == 0 && as.ScaleDown.MaxPercent == 0 && !s.written(p+".scale_down.max_step") && !s.written(p+".scale_down.max_percent") {
			as.ScaleDown.MaxPercent = 100
		}
		if !as.ScaleDown.Stabilization.Set {
			as.ScaleDown.Stabilization.D = 5 * time.Minute
		}
		if as.External != nil && as.External.Timeout.D == 0 && !as.External.Timeout.Set {
			as.External.Timeout.D = 5 * time.Second
		}
		if as.Timezone == "" {
			as.Timezone = "UTC"
		}
		if as.Predict != nil && as.Predict.Horizon.D == 0 {
			as.Predict.Horizon.D = 2 * time.Minute
		}
	}
	for _, h := range s.Hooks {
		if h.Format == "" {
			h.Format = "json"
		}
		if h.Timeout.D == 0 && !h.Timeout.Set {
			h.Timeout.D = 5 * time.Second
		}
	}
	for i, a := range s.Apps {
		p := fmt.Sprintf("apps[%d].health", i)
		if a.Pull == "" {
			a.Pull = DefaultPull
		}
		if a.Replicas == nil {
			one := 1
			a.Replicas = &one
		}
		if a.StopGrace.D == 0 && !a.StopGrace.Set {
			a.StopGrace.D = DefaultStopGrace
		}
		if a.Drain.D == 0 && !a.Drain.Set {
			a.Drain.D = DefaultDrain
		}
		if a.LB != nil {
			a.LB.applyDefaults()
		}
		h := &a.Health
		if h.Type == "" {
			switch {
			case h.Path != "":
				h.Type = "http"
			case a.Port > 0:
				h.Type = "tcp"
			default:
				h.Type = "none"
			}
		}
		if h.Timeout.D == 0 && !h.Timeout.Set {
			h.Timeout.D = DefaultTimeout
		}
		if h.ReadyTimeout.D == 0 && !h.ReadyTimeout.Set {
			h.ReadyTimeout.D = DefaultReadyTimeout
		}
		if h.FailureThreshold == 0 && !s.written(p+".failure_threshold") {
			h.FailureThreshold = DefaultFailures
		}
		if h.SuccessThreshold == 0 && !s.written(p+".success_threshold") {
			h.SuccessThreshold = 1
		}
		if h.Type == "http" && h.Path == "" {
			h.Path = "/"
		}
		if !h.Backoff.Set {
			h.Backoff.D = DefaultBackoff
		}
		if h.BackoffMax.D == 0 && !h.BackoffMax.Set {
			h.BackoffMax.D = max(DefaultBackoffMax, h.Backoff.D)
		}
		if h.CrashloopAttempts == 0 && !s.written(p+".crashloop_attempts") {
			h.CrashloopAttempts = DefaultCrashloops
		}
		if h.CrashloopWindow.D == 0 && !h.CrashloopWindow.Set {
			h.CrashloopWindow.D = DefaultCrashWindow
		}
		h.applyMembershipDefaults()
	}
}

// written reports whether the spec file gave field a value (not null), so
// that an explicit 0 is kept rather than replaced by the default. A spec
// built in code (no Parse) has every field unwritten.
func (s *Spec) written(field string) bool {
	return s.meta != nil && s.meta.written[field]
}
