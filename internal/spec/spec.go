// Package spec holds baton's YAML spec: its types, strict decoding and
// validation. It is the only importer of the YAML library.
//
// Decoding is strict: unknown fields, wrong types and invalid values are all
// collected and reported together, each with file:line:column and the path
// of the field, and a spec with any problem is never used.
package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/baton-orchestrator/baton/internal/imageref"
)

// Spec is a whole baton spec file.
type Spec struct {
	// Project scopes the containers baton owns: two specs with different
	// projects never touch each other's containers. Default "baton".
	Project string  `yaml:"project"`
	Docker  Docker  `yaml:"docker"`
	Nginx   *Nginx  `yaml:"nginx"`
	Apps    []*App  `yaml:"apps"`
	Hooks   []*Hook `yaml:"hooks"`
	GC      GC      `yaml:"gc"`
	Mods    *Mods   `yaml:"mods"`
	Swarm   *Swarm  `yaml:"swarm"`
	// Volumes and Networks are the stack's named volumes and networks
	// (stack.go).
	Volumes  map[string]*Volume  `yaml:"volumes"`
	Networks map[string]*Network `yaml:"networks"`
	// Secrets are the Swarm secrets swarm apps mount, each from a file
	// (or external), named by its content (swarm.go).
	Secrets map[string]*SwarmFile `yaml:"secrets"`
	// Configs are the Swarm configs swarm apps mount, each from a file
	// (or external), named by its content (swarm.go).
	Configs map[string]*SwarmFile `yaml:"configs"`

	// hashes are the apps' HashOf by name, computed once at load.
	hashes map[string]string

	// Path is the file the spec was read from; Dir is its directory, against
	// which relative paths resolve and in which commands run.
	Path string `yaml:"-"`
	Dir  string `yaml:"-"`

	meta *meta // positions and written fields, from Parse (paths.go)
}

// Docker holds engine-wide settings.
type Docker struct {
	// Network, when set, attaches every container to this user-defined
	// network and addresses it there (IP:port) instead of publishing a port
	// on the host; for a balancer that itself runs in a container.
	Network string `yaml:"network"`
	// PublishIP is the host address published ports bind to. Default 127.0.0.1.
	PublishIP string `yaml:"publish_ip"`
}

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

// Schedule raises the replica floor during a time window. In a policy
// with no target and no external scaler, the schedules are its only
// opinion: the window's floor inside it, min outside it.
type Schedule struct {
	Days []string `yaml:"days"` // mon..sun, the day a window starts; empty means every day
	From string   `yaml:"from"` // HH:MM
	To   string   `yaml:"to"`   // HH:MM, exclusive; may wrap past midnight
	// Min is the replica floor in force during the window.
	Min int `yaml:"min"`
}

// External is a scaler command: it gets the metrics as JSON on stdin and
// prints a replica count.
type External struct {
	// Command is the scaler's argv, run without a shell in the spec's
	// directory with the metrics as JSON on stdin; it prints a replica count.
	Command []string `yaml:"command"`
	// Timeout bounds one run of the scaler; its process group is killed then
	// (default 5s).
	Timeout Duration `yaml:"timeout"`
}

// GC says what `baton gc` may remove.
type GC struct {
	// Grace: exited containers are removed once they finished this long
	// ago (dangling images once created this long ago). Default 3h.
	Grace Duration `yaml:"grace"`
	// AllContainers extends container removal beyond this project's
	// containers to every exited container on the host.
	AllContainers bool `yaml:"all_containers"`
	// Exclude lists label selectors, "key" or "key=value": containers,
	// images and volumes carrying one are never removed.
	Exclude []string `yaml:"exclude"`
	// KeepImages is how many images per repository survive, newest by last
	// use. Default 3; 0 removes no tagged image.
	KeepImages *int `yaml:"keep_images"`
	// Dangling removes untagged images nobody uses. Default true.
	Dangling *bool `yaml:"dangling"`
	// Volumes is anonymous (default: orphan anonymous volumes only), all
	// (named orphans too) or none.
	Volumes string `yaml:"volumes"`
	// ProjectVolumes lets gc remove this project's named volumes (created
	// by baton) that the spec no longer declares and no container mounts.
	// Default false: their data stays until someone removes them.
	ProjectVolumes bool `yaml:"project_volumes"`
	// Scope is which images gc may remove: project (default: the images
	// this project's spec names by repository, its containers use, or a
	// past gc pass counted as its own) or host (every image on the host;
	// keep-N then counts all images of a repository).
	Scope string `yaml:"scope"`
}

// Mods is the file cache `baton mods refresh` keeps fresh.
type Mods struct {
	// Dir is the cache directory (relative: against the spec's directory);
	// required with files.
	Dir      string     `yaml:"dir"`
	Interval Duration   `yaml:"interval"` // default 12h
	MaxSize  Size       `yaml:"max_size"` // per file; default 1g
	Parallel int        `yaml:"parallel"` // downloads at once; default 4
	Timeout  Duration   `yaml:"timeout"`  // per attempt; default 5m
	Retries  int        `yaml:"retries"`  // extra attempts after a network error or 5xx; default 3
	Files    []*ModFile `yaml:"files"`
}

// ModFile is one file of the cache.
type ModFile struct {
	// URL is where the file comes from: http or https.
	URL  string `yaml:"url"`
	Dest string `yaml:"dest"` // relative to Mods.Dir; never leaves it
	// SHA256, when set, is the body's digest in 64 lowercase hex digits: a
	// body that does not match is refused and the old file stays.
	SHA256   string   `yaml:"sha256"`
	Interval Duration `yaml:"interval"` // default Mods.Interval
}

// Hook is told about events: an HTTP POST of each event (JSON, or a
// Slack-compatible {"text": ...} payload), or a command run with each
// event as JSON on stdin. A failing or slow hook never fails a pass.
type Hook struct {
	// URL gets an HTTP POST of each event (http or https); a hook has a url or
	// a command, not both.
	URL    string `yaml:"url"`
	Format string `yaml:"format"` // json (default) or slack; for url
	// Command is run once per event with the event's JSON on stdin, no shell.
	Command []string `yaml:"command"`
	// Events filters by event type (see EventTypes); empty means all.
	Events  []string `yaml:"events"`
	Timeout Duration `yaml:"timeout"` // for all deliveries of one pass; default 5s
}

// App is one application: a set of identical replicas.
type App struct {
	// Name is the app's unique name ([a-z0-9][a-z0-9-]*, at most 40);
	// containers are named <project>-<name>-<replica>-<random>. Required.
	Name string `yaml:"name"`
	// Engine is docker (default: containers on the local engine) or swarm
	// (a Swarm service created and scaled through the manager at
	// --docker-host, its port published in host mode on each node).
	Engine string `yaml:"engine"`
	// Image is the image reference, as Docker parses it; changing it rolls the
	// app, one replica at a time, start-first. Required.
	Image string `yaml:"image"`
	// Pull is when to pull the image before starting a container: never,
	// missing (default) or always.
	Pull string `yaml:"pull"`
	// Command is the container's entrypoint argv (default: the image's).
	Command []string `yaml:"command"`
	// Args is the container's command argv (default: the image's).
	Args []string `yaml:"args"`
	// Env is the container's environment; baton adds BATON_APP and
	// BATON_REPLICA, and names starting with BATON_ are reserved.
	Env map[string]string `yaml:"env"`
	// Port is the container port the balancer and the probes use (1-65535);
	// required with lb or an http or tcp check.
	Port      int       `yaml:"port"`
	Resources Resources `yaml:"resources"`
	// Labels are more container labels; keys starting with baton. are
	// reserved.
	Labels map[string]string `yaml:"labels"`
	// Replicas is how many replicas run, 0 to 500 (default 1); with autoscale,
	// only the starting count.
	Replicas *int `yaml:"replicas"`
	// StopGrace is the time between SIGTERM and SIGKILL when a replica stops
	// (default 10s).
	StopGrace Duration `yaml:"stop_grace"`
	// Drain is the time between taking a replica out of the balancer (tested
	// and reloaded) and stopping it (default 2s).
	Drain  Duration `yaml:"drain"`
	LB     *LB      `yaml:"lb"`
	Health Health   `yaml:"health"`
	// Autoscale, when set, makes scale choose the replica count between
	// Min and Max from metrics; Replicas is then only the starting count.
	Autoscale *Autoscale `yaml:"autoscale"`
	// RestartWith lists apps this app restarts with: when heal replaces a
	// container of one of them, this app's replicas are restarted too
	// (rolling, start-first). One level: restarts do not cascade further.
	RestartWith []string `yaml:"restart_with"`

	// The stack fields (stack.go): mounts, fixed ports, networks, logs,
	// start and update order, and compose's container options.

	// Volumes are compose short syntax mounts: KEY:/path (a named volume of
	// the top-level volumes), ./dir:/path or /abs:/path (a bind mount, a
	// relative one inside the spec's directory), /path (an anonymous volume);
	// :ro or :rw may follow.
	Volumes []string `yaml:"volumes"`
	// Tmpfs are in-memory mounts: /path or /path:size=64m,mode=1777.
	Tmpfs []string `yaml:"tmpfs"`
	// Ports are fixed host ports, [IP:]HOST:CONTAINER[/tcp|udp] (IPv6 in
	// brackets), besides the balancer's port; an app with one runs one
	// container at a time and updates stop-first.
	Ports []string `yaml:"ports"`
	// Networks are the keys of the top-level networks the app joins, with the
	// alias <app> on each (default: the project network, when declared).
	Networks []string `yaml:"networks"`
	Logging  *Logging `yaml:"logging"`
	// DependsOn are the apps that must be ready (or started) before this app's
	// replicas start, by name, with a condition.
	DependsOn map[string]*Dependency `yaml:"depends_on"`
	Update    Update                 `yaml:"update"`
	// EnvFile are files of KEY=value lines read when the spec is loaded
	// (relative to the spec's directory); later files override earlier ones
	// and env overrides them all.
	EnvFile []string `yaml:"env_file"`
	// User is the user the process runs as: name, uid or uid:gid (default: the
	// image's).
	User string `yaml:"user"`
	// WorkingDir is the process's absolute working directory (default: the
	// image's).
	WorkingDir string `yaml:"working_dir"`
	// StopSignal asks the process to stop (default: the image's, SIGTERM);
	// stop_grace later it is killed.
	StopSignal string `yaml:"stop_signal"`
	// ReadOnly makes the root filesystem read-only (use tmpfs and volumes for
	// what it writes).
	ReadOnly bool `yaml:"read_only"`
	// CapAdd are Linux capabilities added to the container (NET_ADMIN, ALL,
	// ...).
	CapAdd []string `yaml:"cap_add"`
	// CapDrop are Linux capabilities dropped from the container.
	CapDrop []string `yaml:"cap_drop"`
	// ExtraHosts are HOST:IP (or HOST=IP) entries for the container's
	// /etc/hosts; IP may be host-gateway.
	ExtraHosts []string `yaml:"extra_hosts"`
	// Restart is Docker's restart policy, for a host reboot before the next
	// pass: no (default), always, unless-stopped or on-failure[:N]; baton
	// stays the restarter between passes.
	Restart string `yaml:"restart"`
	stack   *stack

	// Placement is where Swarm may run a swarm app's tasks (swarm.go).
	Placement *Placement `yaml:"placement"`
	// Secrets are the spec's secrets a swarm app mounts: "key" (at
	// /run/secrets/key) or "key:name" (at /run/secrets/name).
	Secrets []string `yaml:"secrets"`
	// Configs are the spec's configs a swarm app mounts: "key" (at /key)
	// or "key:/absolute/path".
	Configs []string `yaml:"configs"`
	swarm   *swarmHash
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

// Defaults applied by Load after validation.
const (
	DefaultProject      = "baton"
	DefaultPublishIP    = "127.0.0.1"
	DefaultPull         = "missing"
	DefaultMethod       = "round_robin"
	DefaultPath         = "/"
	DefaultStopGrace    = 10 * time.Second
	DefaultDrain        = 2 * time.Second
	DefaultTimeout      = time.Second
	DefaultReadyTimeout = 30 * time.Second
	DefaultFailures     = 3
	DefaultBackoff      = 10 * time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultCrashloops   = 5
	DefaultCrashWindow  = 10 * time.Minute
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

// App returns the app named name, or nil.
func (s *Spec) App(name string) *App {
	for _, a := range s.Apps {
		if a != nil && a.Name == name { // validation runs on specs with empty entries
			return a
		}
	}
	return nil
}

// Resolve makes a spec-relative path absolute against the spec's directory.
func (s *Spec) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// OnSwarm reports whether the app runs as a Swarm service.
func (a *App) OnSwarm() bool { return a.Engine == "swarm" }

// HasSwarmApps reports whether an app has engine: swarm.
func (s *Spec) HasSwarmApps() bool {
	for _, a := range s.Apps {
		if a.OnSwarm() {
			return true
		}
	}
	return false
}

// UsesSwarm reports whether a pass must look at the Swarm: the spec has a
// swarm section or a swarm app.
func (s *Spec) UsesSwarm() bool { return s.Swarm != nil || s.HasSwarmApps() }

// HashOf is the spec hash of what runs for the app: of its containers (on
// the spec's network) or of its Swarm tasks (whose network is Swarm's).
// A loaded spec never changes, so the hashes are computed once (Load),
// not per container per pass.
func (s *Spec) HashOf(a *App) string {
	if h, ok := s.hashes[a.Name]; ok && s.App(a.Name) == a {
		return h
	}
	if a.OnSwarm() {
		return a.Hash("")
	}
	return a.Hash(s.Docker.Network)
}

// rememberHashes computes every app's hash once the spec is complete.
func (s *Spec) rememberHashes() {
	s.hashes = nil
	hashes := make(map[string]string, len(s.Apps))
	for _, a := range s.Apps {
		hashes[a.Name] = s.HashOf(a)
	}
	s.hashes = hashes
}

// Hash identifies the container-relevant part of an app's spec: a running
// container whose hash differs is outdated and gets rolled. Replicas, lb and
// health settings are not part of it: changing them never restarts a
// container. The image enters normalized (imageref.Normalize: the familiar
// spelling with an explicit tag), so "docker.io/team/app:1" and
// "team/app:1" hash alike, and so do "nginx" and "nginx:latest".
func (a *App) Hash(network string) string {
	stack := a.stackPart()
	// encoding/json sorts map keys, so the encoding is canonical.
	b, _ := json.Marshal(struct {
		Image   string
		Command []string
		Args    []string
		Env     map[string]string
		Port    int
		Memory  int64
		CPU     int64
		Labels  map[string]string
		Network string
		Reserve int64      `json:",omitempty"`
		Stack   *stackHash `json:",omitempty"`
		Swarm   *swarmHash `json:",omitempty"`
	}{imageref.Normalize(a.Image), orNil(a.Command), orNil(a.Args), orNilMap(a.Environment()), a.Port, a.Resources.Memory.Bytes, a.Resources.CPU.Milli, orNilMap(a.Labels), network, a.Resources.ReserveMemory.Bytes, stack, a.swarmPart()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// orNil and orNilMap make an empty list or map hash as an absent one:
// `env: {}` and no env are the same container.
func orNil(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

func orNilMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
