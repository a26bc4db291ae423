// Package spec holds baton's YAML spec: its types, strict decoding and
// validation. It is the only importer of the YAML library.
//
// Decoding is strict: unknown fields, wrong types and invalid values are all
// collected and reported together, each with file:line:column and the path
// of the field, and a spec with any problem is never used.
package spec

import (
	"path/filepath"
	"time"
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
