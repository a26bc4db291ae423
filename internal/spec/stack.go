package spec

// stack.go holds what makes a set of apps a stack: named volumes, bind
// mounts and tmpfs, fixed host ports, networks baton creates with a DNS
// alias per app, capped logs, start order (depends_on), the update order,
// and the container options compose users expect. Types, defaults,
// validation and the part of the spec hash they contribute.
//
// This file enforces two rules: a combination that cannot work is refused
// before anything runs (a fixed host port or an exclusive volume with
// start-first or with more than one replica, two apps on one host port,
// two writers on one exclusive volume), and a relative bind mount stays
// inside the spec's directory (lexically and after following symlinks; an
// absolute path says so explicitly).

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Volume is a named volume of the stack (top-level volumes). baton creates
// it, labelled with the project, before the first container that mounts
// it, and never removes it in scale, heal or a rollout; gc removes it only
// with gc.project_volumes once the spec no longer declares it.
type Volume struct {
	// Name is the Docker volume name; default <project>_<key> (an external
	// volume: <key>).
	Name string `yaml:"name"`
	// External volumes must exist; baton neither creates nor labels them.
	External bool `yaml:"external"`
	// Driver is the volume driver of a volume baton creates (default: Docker's
	// local).
	Driver string `yaml:"driver"`
	// DriverOpts are the driver's options.
	DriverOpts map[string]string `yaml:"driver_opts"`
	// Labels are more labels on the volume; keys starting with baton. are
	// reserved.
	Labels map[string]string `yaml:"labels"`
	// Shared allows several containers to write to the volume at once
	// (replicas > 1, start-first, several apps). By default a volume
	// mounted read-write is exclusive: one writer at a time.
	Shared bool `yaml:"shared"`
}

// Network is a network of the stack (top-level networks). baton creates
// it labelled with the project when an app joins it, every app is
// reachable on it by its name, and baton removes it once no app of the
// spec joins it and no container is attached.
type Network struct {
	// Name is the Docker network name; default <project>_<key> (an
	// external network: <key>).
	Name string `yaml:"name"`
	// External networks must exist; baton neither creates nor removes them.
	External bool `yaml:"external"`
	// Driver is the network driver of a network baton creates (default:
	// Docker's bridge).
	Driver string `yaml:"driver"`
	// Internal networks have no route out and publish no port: an app with a
	// port needs a network that is not internal.
	Internal bool `yaml:"internal"`
	// Labels are more labels on the network.
	Labels map[string]string `yaml:"labels"`
}

// Logging is a container's log driver and its options.
type Logging struct {
	// Driver is the log driver, as docker run --log-driver (default json-file,
	// capped at 10m x 3).
	Driver string `yaml:"driver"`
	// Options are the driver's options, as docker run --log-opt.
	Options map[string]string `yaml:"options"`
}

// Update says how a replica is replaced.
type Update struct {
	// Order is start-first (default: the new replica is ready before the
	// old one stops) or stop-first (the old one leaves the balancer and
	// stops, then the new one starts: for a singleton that owns a fixed
	// host port or an exclusive volume).
	Order string `yaml:"order"`
	// Monitor is how long a new replica of a rollout must keep running
	// (and passing its check) before the next replica of the app is
	// replaced, like a Swarm update's monitor; a failure in it pauses the
	// rollout with the older replicas serving. Default 5s.
	Monitor Duration `yaml:"monitor"`
}

// Dependency is one entry of depends_on.
type Dependency struct {
	// Condition is ready (default: the dependency has a replica that
	// answers its readiness check) or started (a running replica).
	Condition string `yaml:"condition"`
}

// Defaults and values of the stack fields.
const (
	StartFirst       = "start-first"
	StopFirst        = "stop-first"
	DefaultLogDriver = "json-file"
	DefaultLogSize   = "10m"
	DefaultLogFiles  = "3"
	ConditionReady   = "ready"
	ConditionStarted = "started"
	// DefaultNetwork is the key of the project network: apps that list no
	// networks join it when the spec declares it.
	DefaultNetwork = "default"
)

var (
	orders      = []string{StartFirst, StopFirst}
	conditions  = []string{ConditionReady, ConditionStarted}
	restarts    = []string{"no", "always", "unless-stopped", "on-failure"}
	resourceRe  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)
	driverRe    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_./:-]{0,127}$`)
	optKeyRe    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	userRe      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}(:[A-Za-z0-9_][A-Za-z0-9._-]{0,63})?$`)
	signalRe    = regexp.MustCompile(`^(SIG)?[A-Z][A-Z0-9]{1,10}([+-][0-9]{1,2})?$|^[0-9]{1,2}$`)
	capRe       = regexp.MustCompile(`^[A-Za-z][A-Za-z_]{1,40}$`)
	tmpfsOptsRe = regexp.MustCompile(`^[a-z0-9=,]{1,128}$`)
)

// Mount is one resolved mount of an app.
type Mount struct {
	// Type is volume (a named volume of the spec), bind (a host path) or
	// anonymous (a fresh volume per container).
	Type string
	// Source is the Docker volume name or the absolute host path; empty
	// for an anonymous volume.
	Source   string
	Target   string
	ReadOnly bool
	// Volume is the key in the spec's volumes, for a named volume.
	Volume string
}

// PortMap is one fixed host port of an app.
type PortMap struct {
	IP        string // host address; empty means docker.publish_ip
	Host      int
	Container int
	Proto     string // tcp or udp
}

func (p PortMap) String() string {
	ip := p.IP
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	return fmt.Sprintf("%s:%d:%d/%s", ip, p.Host, p.Container, p.Proto)
}

// stack is what Load resolves for an app: the env files' variables and
// the stack part of its hash (names and paths resolved against the spec).
type stack struct {
	fileEnv map[string]string
	hash    *stackHash
}

// stackPart is the stack part of the app's hash: nil for a swarm app,
// resolved at load for a docker app (an App built without Load gets its
// fields as written).
func (a *App) stackPart() *stackHash {
	switch {
	case a.OnSwarm():
		return nil
	case a.stack != nil && a.stack.hash != nil:
		return a.stack.hash
	}
	return (&Spec{}).stackHashOf(a)
}

// specDir is the directory relative paths of the spec file resolve in.
func specDir(file string) string {
	abs, err := filepath.Abs(file)
	if err != nil {
		return filepath.Dir(file)
	}
	return filepath.Dir(abs)
}

// VolumeName is the Docker name of the spec's volume key.
func (s *Spec) VolumeName(key string) string {
	v := s.Volumes[key]
	switch {
	case v != nil && v.Name != "":
		return v.Name
	case v != nil && v.External:
		return key
	}
	return s.Project + "_" + key
}

// NetworkName is the Docker name of the spec's network key.
func (s *Spec) NetworkName(key string) string {
	n := s.Networks[key]
	switch {
	case n != nil && n.Name != "":
		return n.Name
	case n != nil && n.External:
		return key
	}
	return s.Project + "_" + key
}

// NetworksOf returns the keys of the networks the app joins: its own
// list, or the project network when the spec declares one.
func (s *Spec) NetworksOf(a *App) []string {
	if a.OnSwarm() {
		return a.Networks // overlay networks (swarm.go)
	}
	if len(a.Networks) > 0 {
		return a.Networks
	}
	if _, ok := s.Networks[DefaultNetwork]; ok {
		return []string{DefaultNetwork}
	}
	return nil
}

// MountsOf resolves the app's volumes: named volumes to their Docker
// names, relative bind sources to absolute paths.
func (s *Spec) MountsOf(a *App) []Mount {
	var out []Mount
	for _, v := range a.Volumes {
		m, err := parseMount(v)
		if err != nil {
			continue // validate refused it
		}
		switch m.Type {
		case "volume":
			m.Source = s.VolumeName(m.Volume)
		case "bind":
			if src, err := checkBind(s.Dir, m.Source); err == nil {
				m.Source = src
			}
		}
		out = append(out, m)
	}
	return out
}

// PortsOf returns the app's fixed host ports, with the host address
// defaulted to docker.publish_ip.
func (s *Spec) PortsOf(a *App) []PortMap {
	var out []PortMap
	for _, p := range a.Ports {
		pm, err := ParsePort(p)
		if err != nil {
			continue
		}
		if pm.IP == "" {
			pm.IP = s.Docker.PublishIP
		}
		out = append(out, pm)
	}
	return out
}

// Environment is the app's environment: its env files in order, then env.
func (a *App) Environment() map[string]string {
	if a.stack == nil || len(a.stack.fileEnv) == 0 {
		return a.Env
	}
	env := map[string]string{}
	for k, v := range a.stack.fileEnv {
		env[k] = v
	}
	for k, v := range a.Env {
		env[k] = v
	}
	return env
}

// LogConfig is the app's log driver and options: json-file capped at
// max-size 10m and max-file 3 unless the spec says otherwise (a json-file
// or local driver without max-size gets the cap too).
func (a *App) LogConfig() (string, map[string]string) {
	driver := DefaultLogDriver
	opts := map[string]string{}
	if a.Logging != nil {
		if a.Logging.Driver != "" {
			driver = a.Logging.Driver
		}
		for k, v := range a.Logging.Options {
			opts[k] = v
		}
	}
	if driver == "json-file" || driver == "local" {
		if _, ok := opts["max-size"]; !ok {
			opts["max-size"] = DefaultLogSize
			if _, ok := opts["max-file"]; !ok {
				opts["max-file"] = DefaultLogFiles
			}
		}
	}
	return driver, opts
}

// DefaultMonitor is update.monitor's default, as Swarm's.
const DefaultMonitor = 5 * time.Second

// MonitorFor is how long a rollout watches a new replica of the app
// before it replaces the next one.
func (a *App) MonitorFor() time.Duration {
	if a.Update.Monitor.Set {
		return a.Update.Monitor.D
	}
	return DefaultMonitor
}

// stackHash is the container-relevant part of the stack fields: a change
// rolls the app. update.order and depends_on are not in it.
type stackHash struct {
	Mounts     []string `json:",omitempty"`
	Tmpfs      []string `json:",omitempty"`
	Ports      []string `json:",omitempty"`
	Networks   []string `json:",omitempty"`
	Log        string
	User       string   `json:",omitempty"`
	WorkingDir string   `json:",omitempty"`
	StopSignal string   `json:",omitempty"`
	ReadOnly   bool     `json:",omitempty"`
	CapAdd     []string `json:",omitempty"`
	CapDrop    []string `json:",omitempty"`
	ExtraHosts []string `json:",omitempty"`
	Restart    string   `json:",omitempty"`
}

// stackHashOf returns the stack part of a docker app's hash (nil for a
// swarm app, whose tasks have none of it).
func (s *Spec) stackHashOf(a *App) *stackHash {
	if a.OnSwarm() {
		return nil
	}
	h := &stackHash{Tmpfs: a.Tmpfs, User: a.User, WorkingDir: a.WorkingDir, StopSignal: a.StopSignal,
		ReadOnly: a.ReadOnly, CapAdd: a.CapAdd, CapDrop: a.CapDrop, ExtraHosts: a.ExtraHosts, Restart: a.Restart}
	for _, m := range s.MountsOf(a) {
		h.Mounts = append(h.Mounts, fmt.Sprintf("%s:%s:%s:%v", m.Type, m.Source, m.Target, m.ReadOnly))
	}
	for _, p := range s.PortsOf(a) {
		h.Ports = append(h.Ports, p.String())
	}
	for _, n := range s.NetworksOf(a) {
		h.Networks = append(h.Networks, s.NetworkName(n))
	}
	driver, opts := a.LogConfig()
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h.Log = driver
	for _, k := range keys {
		h.Log += " " + k + "=" + opts[k]
	}
	return h
}

// applyStackDefaults fills empty entries of the top-level volumes and
// networks (a compose-style "pgdata:" with no value).
func (s *Spec) applyStackDefaults() {
	defer func() {
		for _, a := range s.Apps {
			if a.stack == nil {
				a.stack = &stack{}
			}
			a.stack.hash = s.stackHashOf(a)
		}
	}()
	for k, v := range s.Volumes {
		if v == nil {
			s.Volumes[k] = &Volume{}
		}
	}
	for k, n := range s.Networks {
		if n == nil {
			s.Networks[k] = &Network{}
		}
	}
}
