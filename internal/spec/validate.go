package spec

// This file enforces the rule that nothing from the spec can inject
// balancer directives or shell syntax: every value that reaches a rendered
// config or a container name matches a closed alphabet.

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/imageref"
)

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	imageRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$`)
	envKeyRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	labelRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$`)
	hostRe    = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	urlPathRe = regexp.MustCompile(`^/[A-Za-z0-9._~/%+-]{0,255}$`)
	headerRe  = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	netNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
)

var (
	pulls   = []string{"never", "missing", "always"}
	methods = []string{"least_conn", "round_robin", "ip_hash"}
	probes  = []string{"http", "tcp", "exec", "docker", "none"}
	// gcScopes are gc.scope's values: the default first.
	gcScopes = []string{"project", "host"}
)

// maxReplicas bounds a fixed replica count: a typo of 1000 for 10 should be
// caught, not obeyed.
const maxReplicas = 500

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// problem records a problem at the position of field, or of the nearest
// enclosing field that was written when field itself is absent.
func (d *decoder) problem(field, format string, args ...any) {
	if d.bad[field] {
		return // already reported as a decode problem
	}
	p := Problem{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	for f := field; ; {
		if at, ok := d.at[f]; ok {
			p.Line, p.Col = at.line, at.col
			break
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			if at, ok := d.at[""]; ok {
				p.Line, p.Col = at.line, at.col
			}
			break
		}
		f = f[:i]
	}
	d.problems = append(d.problems, p)
}

func (d *decoder) validate(s *Spec) {
	if s.Project != "" && !nameRe.MatchString(s.Project) {
		d.problem("project", "invalid name %q: use lowercase letters, digits and '-', starting with a letter or digit, at most 40", s.Project)
	}
	if s.Docker.Network != "" && !netNameRe.MatchString(s.Docker.Network) {
		d.problem("docker.network", "invalid network name %q", s.Docker.Network)
	}
	if s.Docker.PublishIP != "" && net.ParseIP(s.Docker.PublishIP) == nil {
		d.problem("docker.publish_ip", "not an IP address: %q", s.Docker.PublishIP)
	}
	anyLB := false
	seen := map[string]int{}
	for i, a := range s.Apps {
		p := fmt.Sprintf("apps[%d]", i)
		if a == nil {
			d.problem(p, "empty app")
			continue
		}
		d.validateApp(a, p)
		if a.OnSwarm() && a.Autoscale != nil && !s.Swarm.HasNodeEndpoints() {
			if t := a.Autoscale.Targets; t.CPU.Fraction > 0 || t.Memory.Fraction > 0 {
				d.problem(p+".autoscale.targets", "cpu and memory of a swarm app's tasks are read at each task's node, "+
					"and no node has an endpoint: give them one (swarm.nodes.<hostname>.docker, unix:// or tcp://), "+
					"or scale on rps, latency_p95 or inflight")
			}
		}
		if a.Name != "" {
			if j, dup := seen[a.Name]; dup {
				d.problem(p+".name", "duplicate app name %q (also apps[%d])", a.Name, j)
			} else {
				seen[a.Name] = i
			}
		}
		if a.LB != nil {
			anyLB = true
		}
	}
	for i, a := range s.Apps {
		if a == nil {
			continue
		}
		for j, dep := range a.RestartWith {
			f := fmt.Sprintf("apps[%d].restart_with[%d]", i, j)
			switch {
			case dep == a.Name:
				d.problem(f, "an app cannot restart with itself")
			case s.App(dep) == nil:
				d.problem(f, "no app named %q in the spec", dep)
			}
		}
	}
	for i, h := range s.Hooks {
		d.validateHook(h, fmt.Sprintf("hooks[%d]", i))
	}
	d.validateStack(s)
	d.validateSwarmFiles(s, specDir(d.file))
	d.validateGC(&s.GC)
	if s.Swarm != nil {
		d.validateSwarm(s.Swarm)
	}
	if s.Mods != nil {
		d.validateMods(s.Mods)
	}
	if s.Nginx != nil {
		d.validateNginx(s.Nginx)
		d.validateBalancer(s)
	} else if anyLB {
		d.problem("nginx", "apps have an lb section but the spec has no nginx section")
	}
}

func (d *decoder) validateApp(a *App, p string) {
	switch {
	case a.Name == "":
		d.problem(p+".name", "missing: every app needs a name")
	case !nameRe.MatchString(a.Name):
		d.problem(p+".name", "invalid name %q: use lowercase letters, digits and '-', starting with a letter or digit, at most 40", a.Name)
	}
	switch {
	case a.Image == "":
		d.problem(p+".image", "missing: every app needs an image")
	case !imageRe.MatchString(a.Image):
		d.problem(p+".image", "invalid image reference %q", a.Image)
	default:
		if _, err := imageref.Parse(a.Image); err != nil {
			d.problem(p+".image", "%s", err.Error())
		}
	}
	if a.Pull != "" && !oneOf(a.Pull, pulls) {
		d.problem(p+".pull", "must be one of %s, got %q", strings.Join(pulls, ", "), a.Pull)
	}
	for i, c := range append(append([]string{}, a.Command...), a.Args...) {
		if strings.ContainsRune(c, 0) {
			d.problem(fmt.Sprintf("%s.command/args[%d]", p, i), "contains a NUL byte")
		}
	}
	for k, v := range a.Env {
		switch {
		case !envKeyRe.MatchString(k):
			d.problem(p+".env."+k, "invalid environment variable name %q", k)
		case strings.HasPrefix(k, "BATON_"):
			d.problem(p+".env."+k, "names starting with BATON_ are reserved for baton")
		case strings.ContainsRune(v, 0):
			d.problem(p+".env."+k, "value contains a NUL byte")
		}
	}
	d.validateLabels(p+".labels", a.Labels)
	if a.Port < 0 || a.Port > 65535 {
		d.problem(p+".port", "must be between 1 and 65535, got %d", a.Port)
	}
	if a.Replicas != nil && (*a.Replicas < 0 || *a.Replicas > maxReplicas) {
		d.problem(p+".replicas", "must be between 0 and %d, got %d", maxReplicas, *a.Replicas)
	}
	if m := a.Resources.Memory.Bytes; m != 0 && m < 6<<20 {
		d.problem(p+".resources.memory", "must be at least 6m (Docker's minimum), got %d bytes", m)
	}
	if a.LB != nil {
		d.validateLB(a, p+".lb")
	}
	switch a.Engine {
	case "", "docker":
		if a.Resources.ReserveMemory.Bytes != 0 {
			d.problem(p+".resources.reserve_memory", "only for an app with engine: swarm")
		}
		d.refuseSwarmFields(a, p)
	case "swarm":
		if t := a.Health.Type; t == "exec" || t == "docker" {
			d.problem(p+".health.type", "%s checks need the container's own engine; a swarm app supports http, tcp or none", t)
		}
		if len(a.RestartWith) > 0 {
			d.problem(p+".restart_with", "not for a swarm app: Swarm restarts its own tasks")
		}
		if a.LB != nil && a.Port == 0 {
			d.problem(p+".port", "missing: a swarm app with an lb section needs the port its tasks publish")
		}
		d.validateSwarmApp(a, p)
	default:
		d.problem(p+".engine", "must be one of docker, swarm, got %q", a.Engine)
	}
	if a.Autoscale != nil {
		d.validateAutoscale(a, p+".autoscale")
	}
	d.validateHealth(a, p+".health")
}

// validateLabels checks container or node labels: a safe key alphabet, no
// key in baton's own namespace, no NUL or newline in a value.
func (d *decoder) validateLabels(p string, labels map[string]string) {
	for k, v := range labels {
		switch {
		case !labelRe.MatchString(k):
			d.problem(p+"."+k, "invalid label key %q", k)
		case strings.HasPrefix(k, "baton."):
			d.problem(p+"."+k, "label keys starting with baton. are reserved for baton")
		case strings.ContainsAny(v, "\x00\n"):
			d.problem(p+"."+k, "label value contains a NUL byte or a newline")
		}
	}
}

func (d *decoder) validateHealth(a *App, p string) {
	h := a.Health
	if h.Type != "" && !oneOf(h.Type, probes) {
		d.problem(p+".type", "must be one of %s, got %q", strings.Join(probes, ", "), h.Type)
	}
	if (h.Type == "http" || h.Type == "tcp" || (h.Type == "" && h.Path != "")) && a.Port == 0 {
		d.problem(p+".type", "an http or tcp check needs the app's port")
	}
	if h.Path != "" && (!urlPathRe.MatchString(h.Path) || strings.Contains(h.Path, "..")) {
		d.problem(p+".path", "invalid path %q: must start with / and use only letters, digits and ._~/%%+-", h.Path)
	}
	if h.Type == "exec" && len(h.Command) == 0 {
		d.problem(p+".command", "missing: an exec check needs the argv to run in the container")
	}
	if h.Type != "exec" && len(h.Command) > 0 {
		d.problem(p+".command", "only an exec check runs a command")
	}
	for k, v := range h.Headers {
		if !headerRe.MatchString(k) || strings.ContainsAny(v, "\r\n\x00") {
			d.problem(p+".headers."+k, "invalid header %q", k)
		}
	}
	if h.CrashloopAttempts < 0 || h.CrashloopAttempts > 1000 {
		d.problem(p+".crashloop_attempts", "must be between 1 and 1000, got %d", h.CrashloopAttempts)
	}
	d.validateMembership(h, p)
	if h.BackoffMax.Set && h.Backoff.Set && h.BackoffMax.D < h.Backoff.D {
		d.problem(p+".backoff_max", "must not be less than backoff (%s)", h.Backoff.D)
	}
	for i, st := range h.Statuses {
		if st < 100 || st > 599 {
			d.problem(fmt.Sprintf("%s.statuses[%d]", p, i), "not an HTTP status: %d", st)
		}
	}
	if h.Timeout.Set && h.Timeout.D == 0 {
		d.problem(p+".timeout", "must be more than 0")
	}
	if h.FailureThreshold < 0 || h.FailureThreshold > 100 {
		d.problem(p+".failure_threshold", "must be between 1 and 100, got %d", h.FailureThreshold)
	}
	if h.SuccessThreshold < 0 || h.SuccessThreshold > 100 {
		d.problem(p+".success_threshold", "must be between 1 and 100, got %d", h.SuccessThreshold)
	}
}

var (
	clockRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	weekday = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
)

func (d *decoder) validateAutoscale(a *App, p string) {
	as := a.Autoscale
	if as.Min < 0 || as.Max < 1 || as.Max > maxReplicas || as.Min > as.Max {
		d.problem(p+".max", "want 0 <= min <= max <= %d with max >= 1, got min %d, max %d", maxReplicas, as.Min, as.Max)
	}
	t := as.Targets
	if t.RPS < 0 || t.Inflight < 0 {
		d.problem(p+".targets", "targets must not be negative")
	}
	if !as.HasMetrics() && len(as.Schedules) == 0 {
		d.problem(p+".targets", "an autoscaled app needs at least one target, a schedule or an external scaler")
	}
	if (t.RPS > 0 || t.LatencyP95.D > 0 || t.Inflight > 0) && a.LB == nil {
		d.problem(p+".targets", "rps, latency_p95 and inflight come from the balancer's access log: the app needs an lb section")
	}
	if t.Memory.Fraction > 0 && a.Resources.Memory.Bytes == 0 {
		d.problem(p+".targets.memory", "a memory target is a share of the memory limit: set resources.memory")
	}
	if as.Tolerance != nil && (*as.Tolerance < 0 || *as.Tolerance >= 1) {
		d.problem(p+".tolerance", "must be at least 0 and below 1, got %g", *as.Tolerance)
	}
	for _, r := range []struct {
		name string
		rl   RateLimit
	}{{"scale_up", as.ScaleUp}, {"scale_down", as.ScaleDown}} {
		if r.rl.MaxStep < 0 || r.rl.MaxPercent < 0 || r.rl.MaxPercent > 1000 {
			d.problem(p+"."+r.name, "max_step and max_percent must be between 0 and 1000")
		}
	}
	if _, err := time.LoadLocation(as.Timezone); as.Timezone != "" && err != nil {
		d.problem(p+".timezone", "unknown time zone %q", as.Timezone)
	}
	for i, sc := range as.Schedules {
		f := fmt.Sprintf("%s.schedules[%d]", p, i)
		if !clockRe.MatchString(sc.From) || !clockRe.MatchString(sc.To) || sc.From == sc.To {
			d.problem(f, "from and to must be different HH:MM times, got %q and %q", sc.From, sc.To)
		}
		for _, day := range sc.Days {
			if !oneOf(day, weekday) {
				d.problem(f+".days", "unknown day %q (use mon..sun)", day)
			}
		}
		if sc.Min < 0 || sc.Min > as.Max {
			d.problem(f+".min", "must be between 0 and max (%d), got %d", as.Max, sc.Min)
		}
	}
	if as.External != nil && len(as.External.Command) == 0 {
		d.problem(p+".external.command", "missing: the scaler's argv")
	}
	if pr := as.Predict; pr != nil {
		if t.RPS == 0 {
			d.problem(p+".predict", "the forecast is of the request rate: set targets.rps")
		}
		if h := pr.Horizon.D; h > time.Hour || (pr.Horizon.Set && h < time.Second) {
			d.problem(p+".predict.horizon", "must be between 1s and 1h, got %s", h)
		}
	}
}
