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
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
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

// ParsePort reads compose's short port syntax with a fixed host port:
// [IP:]HOST:CONTAINER[/PROTO], IPv6 addresses in brackets.
func ParsePort(s string) (PortMap, error) {
	p := PortMap{Proto: "tcp"}
	rest := s
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		p.Proto, rest = rest[i+1:], rest[:i]
		if p.Proto != "tcp" && p.Proto != "udp" {
			return p, fmt.Errorf("invalid protocol %q in %q: tcp or udp", p.Proto, s)
		}
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return p, fmt.Errorf("invalid port %q: want [IP]:HOST:CONTAINER", s)
		}
		p.IP, rest = rest[1:end], rest[end+2:]
		if ip := net.ParseIP(p.IP); ip == nil || ip.To4() != nil {
			return p, fmt.Errorf("invalid IPv6 address %q in %q", p.IP, s)
		}
	}
	parts := strings.Split(rest, ":")
	switch {
	case len(parts) == 3 && p.IP == "":
		p.IP = parts[0]
		if net.ParseIP(p.IP) == nil {
			return p, fmt.Errorf("invalid host address %q in %q", p.IP, s)
		}
		parts = parts[1:]
	case len(parts) == 1:
		return p, fmt.Errorf("port %q has no host port: fixed ports are [IP:]HOST:CONTAINER (the balancer's port is the app's port)", s)
	case len(parts) != 2:
		return p, fmt.Errorf("invalid port %q: want [IP:]HOST:CONTAINER[/tcp|udp]", s)
	}
	for i, dst := range []*int{&p.Host, &p.Container} {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 1 || n > 65535 {
			return p, fmt.Errorf("invalid port number %q in %q (ranges are not supported)", parts[i], s)
		}
		*dst = n
	}
	return p, nil
}

// parseMount reads compose's short volume syntax: TARGET (an anonymous
// volume), SOURCE:TARGET or SOURCE:TARGET:MODE with MODE ro or rw. A
// source starting with / or . is a host path; any other is a volume key.
func parseMount(v string) (Mount, error) {
	parts := strings.Split(v, ":")
	m := Mount{}
	switch len(parts) {
	case 1:
		m.Type, m.Target = "anonymous", parts[0]
	case 2, 3:
		m.Source, m.Target = parts[0], parts[1]
		if len(parts) == 3 {
			switch parts[2] {
			case "ro":
				m.ReadOnly = true
			case "rw":
			default:
				return m, fmt.Errorf("invalid mode %q in %q: ro or rw", parts[2], v)
			}
		}
		switch {
		case m.Source == "":
			return m, fmt.Errorf("empty source in %q", v)
		case strings.HasPrefix(m.Source, "~"):
			return m, fmt.Errorf("%q: ~ is not expanded (cron's HOME is not yours): use an absolute path", v)
		case strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, "."):
			m.Type = "bind"
		default:
			m.Type, m.Volume = "volume", m.Source
		}
	default:
		return m, fmt.Errorf("invalid volume %q: want TARGET, SOURCE:TARGET or SOURCE:TARGET:ro", v)
	}
	if !strings.HasPrefix(m.Target, "/") || filepath.Clean(m.Target) != m.Target || m.Target == "/" {
		return m, fmt.Errorf("invalid container path %q in %q: an absolute, clean path other than /", m.Target, v)
	}
	if strings.ContainsAny(v, "\x00\n,") {
		return m, fmt.Errorf("invalid characters in %q", v)
	}
	return m, nil
}

// within reports whether path is dir or inside it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkBind enforces the bind rule: an absolute source is taken as
// written; a relative one resolves against the spec's directory and must
// stay inside it, lexically and, when it exists, after symlinks.
func checkBind(dir, src string) (string, error) {
	if filepath.IsAbs(src) {
		return filepath.Clean(src), nil
	}
	abs := filepath.Join(dir, src)
	if !within(dir, abs) {
		return "", fmt.Errorf("relative bind source %q leaves the spec's directory: write an absolute path to mount something outside it", src)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		realDir, derr := filepath.EvalSymlinks(dir)
		if derr == nil && !within(realDir, real) {
			return "", fmt.Errorf("relative bind source %q is a symlink to %s, outside the spec's directory: write that absolute path if you mean it", src, real)
		}
	}
	return abs, nil
}

// parseEnvFile reads KEY=value lines: blank lines and lines starting with
// # are skipped, an optional "export " prefix is dropped, a value in
// double quotes may use \n, \" and \\, a value in single quotes is
// literal, and an unquoted value ends at " #".
func parseEnvFile(data []byte) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("line %d: %q has no =: a variable taken from baton's own environment is not supported", n, k)
		}
		if !envKeyRe.MatchString(k) {
			return nil, fmt.Errorf("line %d: invalid variable name %q", n, k)
		}
		v = strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			v = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(v[1 : len(v)-1])
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		default:
			if i := strings.Index(v, " #"); i >= 0 {
				v = strings.TrimSpace(v[:i])
			}
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("line %d: value of %s contains a NUL byte", n, k)
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return env, nil
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

// Order is the app's update order, start-first unless stop-first is set.
func (a *App) Order() string {
	if a.Update.Order == "" {
		return StartFirst
	}
	return a.Update.Order
}

// Exclusive says why only one container of the app may run at a time
// (a fixed host port, an exclusive volume), or "" when several may.
func (s *Spec) Exclusive(a *App) string {
	for _, m := range s.MountsOf(a) {
		if m.Type == "volume" && !m.ReadOnly {
			if v, ok := s.Volumes[m.Volume]; ok && (v == nil || !v.Shared) {
				return fmt.Sprintf("volume %q is exclusive (one writer at a time; shared: true allows more)", m.Volume)
			}
		}
	}
	for _, p := range s.PortsOf(a) {
		return fmt.Sprintf("host port %d is fixed", p.Host)
	}
	return ""
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

// validateStack checks the stack fields of every app and the top-level
// volumes and networks, and reads the env files.
func (d *decoder) validateStack(s *Spec) {
	dir := specDir(d.file)
	for key, v := range s.Volumes {
		p := "volumes." + key
		if !resourceRe.MatchString(key) {
			d.problem(p, "invalid volume key %q: letters, digits and _.-, starting with a letter or digit", key)
		}
		if v == nil {
			continue
		}
		if v.Name != "" && (!resourceRe.MatchString(v.Name) || len(v.Name) < 2) {
			d.problem(p+".name", "invalid volume name %q: Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+", v.Name)
		}
		if v.External && (v.Driver != "" || len(v.DriverOpts) > 0) {
			d.problem(p+".external", "an external volume exists already: driver and driver_opts are not baton's to set")
		}
		if v.Driver != "" && !driverRe.MatchString(v.Driver) {
			d.problem(p+".driver", "invalid driver %q", v.Driver)
		}
		d.validateOptions(p+".driver_opts", v.DriverOpts)
		d.validateLabels(p+".labels", v.Labels)
	}
	for key, n := range s.Networks {
		p := "networks." + key
		if !resourceRe.MatchString(key) {
			d.problem(p, "invalid network key %q: letters, digits and _.-, starting with a letter or digit", key)
		}
		if n == nil {
			continue
		}
		if n.Name != "" && !netNameRe.MatchString(n.Name) {
			d.problem(p+".name", "invalid network name %q", n.Name)
		}
		if n.External && (n.Driver != "" || n.Internal) {
			d.problem(p+".external", "an external network exists already: driver and internal are not baton's to set")
		}
		if n.Driver != "" && !driverRe.MatchString(n.Driver) {
			d.problem(p+".driver", "invalid driver %q", n.Driver)
		}
		if n.Name == "host" || n.Name == "none" || n.Name == "bridge" || (n.External && (key == "host" || key == "none" || key == "bridge") && n.Name == "") {
			d.problem(p, "Docker's predefined networks have no DNS for names; declare a network of the stack")
		}
		d.validateLabels(p+".labels", n.Labels)
	}
	type writer struct{ app, field string }
	writers := map[string]writer{}     // exclusive volume key → its writer
	hostPorts := map[string][]string{} // proto/port → "ip app field"
	for i, a := range s.Apps {
		if a == nil {
			continue
		}
		p := fmt.Sprintf("apps[%d]", i)
		d.validateAppStack(s, a, p, dir)
		for j, v := range a.Volumes {
			m, err := parseMount(v)
			if err != nil || m.Type != "volume" || m.ReadOnly {
				continue
			}
			if vol := s.Volumes[m.Volume]; vol != nil && vol.Shared {
				continue
			}
			f := fmt.Sprintf("%s.volumes[%d]", p, j)
			if w, dup := writers[m.Volume]; dup && w.app != a.Name {
				d.problem(f, "volume %q is exclusive and app %q writes to it too (%s): mount it :ro here, or declare it shared: true if both may write", m.Volume, w.app, w.field)
			} else if !dup {
				writers[m.Volume] = writer{a.Name, f}
			}
		}
		for j, port := range a.Ports {
			pm, err := ParsePort(port)
			if err != nil {
				continue
			}
			ip := pm.IP
			if ip == "" {
				ip = s.Docker.PublishIP
				if ip == "" {
					ip = DefaultPublishIP
				}
			}
			f := fmt.Sprintf("%s.ports[%d]", p, j)
			k := fmt.Sprintf("%s/%d", pm.Proto, pm.Host)
			for _, other := range hostPorts[k] {
				oip, rest, _ := strings.Cut(other, " ")
				if overlaps(ip, oip) {
					d.problem(f, "host port %s %s:%d is already claimed by %s", pm.Proto, ip, pm.Host, rest)
				}
			}
			hostPorts[k] = append(hostPorts[k], ip+" app "+strconv.Quote(a.Name)+" ("+f+")")
		}
	}
	if s.Nginx != nil {
		if host, port, err := net.SplitHostPort(s.Nginx.Listen); err == nil {
			for _, other := range hostPorts["tcp/"+port] {
				oip, rest, _ := strings.Cut(other, " ")
				if overlaps(host, oip) {
					d.problem("nginx.listen", "%s is also claimed by %s", s.Nginx.Listen, rest)
				}
			}
		}
	}
	d.validateDependsOn(s)
}

// overlaps reports whether two host addresses bind a common address.
func overlaps(a, b string) bool {
	any := func(ip string) bool { return ip == "0.0.0.0" || ip == "::" }
	return a == b || any(a) || any(b)
}

func (d *decoder) validateOptions(p string, opts map[string]string) {
	for k, v := range opts {
		if !optKeyRe.MatchString(k) {
			d.problem(p+"."+k, "invalid option name %q", k)
		} else if strings.ContainsAny(v, "\x00\n") {
			d.problem(p+"."+k, "option value contains a NUL byte or a newline")
		}
	}
}

// usesStack reports whether the app sets a stack field that a swarm app
// does not support (networks it does: overlay networks, swarm.go).
func (a *App) usesStack() []string {
	var set []string
	for _, f := range []struct {
		name string
		on   bool
	}{
		{"volumes", len(a.Volumes) > 0}, {"tmpfs", len(a.Tmpfs) > 0}, {"ports", len(a.Ports) > 0},
		{"logging", a.Logging != nil}, {"update", a.Update.Order != "" || a.Update.Monitor.Set},
		{"env_file", len(a.EnvFile) > 0}, {"user", a.User != ""}, {"working_dir", a.WorkingDir != ""},
		{"stop_signal", a.StopSignal != ""}, {"read_only", a.ReadOnly}, {"cap_add", len(a.CapAdd) > 0},
		{"cap_drop", len(a.CapDrop) > 0}, {"extra_hosts", len(a.ExtraHosts) > 0}, {"restart", a.Restart != ""},
		{"depends_on", len(a.DependsOn) > 0},
	} {
		if f.on {
			set = append(set, f.name)
		}
	}
	return set
}

func (d *decoder) validateAppStack(s *Spec, a *App, p, dir string) {
	if a.OnSwarm() {
		for _, f := range a.usesStack() {
			d.problem(p+"."+f, "not for a swarm app: it applies to containers on the local engine")
		}
		return
	}
	seenTarget := map[string]string{}
	for j, v := range a.Volumes {
		f := fmt.Sprintf("%s.volumes[%d]", p, j)
		m, err := parseMount(v)
		if err != nil {
			d.problem(f, "%s", err.Error())
			continue
		}
		if prev, dup := seenTarget[m.Target]; dup {
			d.problem(f, "container path %s is already mounted by %s", m.Target, prev)
		}
		seenTarget[m.Target] = f
		switch m.Type {
		case "volume":
			if _, ok := s.Volumes[m.Volume]; !ok {
				d.problem(f, "no volume %q in the spec's volumes (a host path starts with / or ./)", m.Volume)
			}
		case "bind":
			if _, err := checkBind(dir, m.Source); err != nil {
				d.problem(f, "%s", err.Error())
			}
		}
	}
	for j, t := range a.Tmpfs {
		f := fmt.Sprintf("%s.tmpfs[%d]", p, j)
		path, opts, _ := strings.Cut(t, ":")
		if !strings.HasPrefix(path, "/") || filepath.Clean(path) != path || path == "/" {
			d.problem(f, "invalid container path %q: an absolute, clean path other than /", path)
		} else if opts != "" && !tmpfsOptsRe.MatchString(opts) {
			d.problem(f, "invalid tmpfs options %q: e.g. size=64m,mode=1777", opts)
		} else if prev, dup := seenTarget[path]; dup {
			d.problem(f, "container path %s is already mounted by %s", path, prev)
		}
		seenTarget[path] = f
	}
	for j, port := range a.Ports {
		if _, err := ParsePort(port); err != nil {
			d.problem(fmt.Sprintf("%s.ports[%d]", p, j), "%s", err.Error())
		}
	}
	seenNet := map[string]bool{}
	for j, n := range a.Networks {
		f := fmt.Sprintf("%s.networks[%d]", p, j)
		switch _, ok := s.Networks[n]; {
		case !ok:
			d.problem(f, "no network %q in the spec's networks", n)
		case seenNet[n]:
			d.problem(f, "network %q is listed twice", n)
		}
		seenNet[n] = true
	}
	if keys := s.NetworksOf(a); len(keys) > 0 && s.Docker.Network == "" && (a.Port > 0 || len(a.Ports) > 0) {
		all := true
		for _, k := range keys {
			if n, ok := s.Networks[k]; !ok || n == nil || !n.Internal {
				all = false
			}
		}
		if all {
			d.problem(p+".networks", "every network of the app is internal, where Docker publishes no port: the balancer, the probes and fixed ports cannot reach it; add a network that is not internal (e.g. default)")
		}
	}
	if l := a.Logging; l != nil {
		if l.Driver != "" && !driverRe.MatchString(l.Driver) {
			d.problem(p+".logging.driver", "invalid log driver %q", l.Driver)
		}
		d.validateOptions(p+".logging.options", l.Options)
	}
	if a.Update.Order != "" && !oneOf(a.Update.Order, orders) {
		d.problem(p+".update.order", "must be one of %s, got %q", strings.Join(orders, ", "), a.Update.Order)
	}
	d.validateExclusive(s, a, p)
	if a.User != "" && !userRe.MatchString(a.User) {
		d.problem(p+".user", "invalid user %q: a name or uid, optionally :group", a.User)
	}
	if a.WorkingDir != "" && (!strings.HasPrefix(a.WorkingDir, "/") || strings.ContainsAny(a.WorkingDir, "\x00\n")) {
		d.problem(p+".working_dir", "must be an absolute path, got %q", a.WorkingDir)
	}
	if a.StopSignal != "" && !signalRe.MatchString(a.StopSignal) {
		d.problem(p+".stop_signal", "invalid signal %q: e.g. SIGTERM, SIGQUIT, SIGINT", a.StopSignal)
	}
	for j, c := range append(append([]string{}, a.CapAdd...), a.CapDrop...) {
		field := fmt.Sprintf("%s.cap_add[%d]", p, j)
		if j >= len(a.CapAdd) {
			field = fmt.Sprintf("%s.cap_drop[%d]", p, j-len(a.CapAdd))
		}
		if !capRe.MatchString(c) {
			d.problem(field, "invalid capability %q: e.g. NET_ADMIN or ALL", c)
		}
	}
	for j, h := range a.ExtraHosts {
		f := fmt.Sprintf("%s.extra_hosts[%d]", p, j)
		i := strings.IndexAny(h, ":=")
		if i <= 0 {
			d.problem(f, "want HOST:IP or HOST=IP, got %q", h)
			continue
		}
		host, ip := h[:i], strings.Trim(h[i+1:], "[]")
		if !hostRe.MatchString(strings.ToLower(host)) || strings.HasPrefix(host, "*") {
			d.problem(f, "invalid host name %q", host)
		} else if net.ParseIP(ip) == nil && ip != "host-gateway" {
			d.problem(f, "invalid address %q: an IP or host-gateway", ip)
		}
	}
	if a.Restart != "" {
		policy, n, hasN := strings.Cut(a.Restart, ":")
		if !oneOf(policy, restarts) {
			d.problem(p+".restart", "must be one of %s, got %q", strings.Join(restarts, ", "), a.Restart)
		} else if hasN {
			if k, err := strconv.Atoi(n); policy != "on-failure" || err != nil || k < 1 || k > 1000 {
				d.problem(p+".restart", "only on-failure takes a retry count (on-failure:3), got %q", a.Restart)
			}
		}
	}
	if len(a.EnvFile) > 0 {
		a.stack = &stack{fileEnv: map[string]string{}}
	}
	for j, ef := range a.EnvFile {
		f := fmt.Sprintf("%s.env_file[%d]", p, j)
		if ef == "" || strings.ContainsAny(ef, "\x00\n") {
			d.problem(f, "invalid file path %q", ef)
			continue
		}
		path := ef
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			d.problem(f, "read env file: %v", err)
			continue
		}
		env, err := parseEnvFile(data)
		if err != nil {
			d.problem(f, "%s: %v", path, err)
			continue
		}
		for k, v := range env {
			if strings.HasPrefix(k, "BATON_") {
				d.problem(f, "%s: names starting with BATON_ are reserved for baton (%s)", path, k)
				continue
			}
			a.stack.fileEnv[k] = v
		}
	}
}

// validateExclusive refuses what cannot work with one container at a
// time: start-first (the new container starts while the old one runs) and
// more than one replica.
func (d *decoder) validateExclusive(s *Spec, a *App, p string) {
	why := s.Exclusive(a)
	if why == "" {
		return
	}
	if a.Update.Order != StopFirst {
		d.problem(p+".update.order", "%s, so the old and the new container cannot run at once as start-first needs: set update: {order: stop-first}", why)
	}
	if a.Replicas != nil && *a.Replicas > 1 {
		d.problem(p+".replicas", "%s, so only one container can run: replicas must be 0 or 1, got %d", why, *a.Replicas)
	}
	if a.Autoscale != nil && a.Autoscale.Max > 1 {
		d.problem(p+".autoscale.max", "%s, so only one container can run: autoscale max must be 1", why)
	}
}

// validateDependsOn checks depends_on: known apps, known conditions, no
// cycles.
func (d *decoder) validateDependsOn(s *Spec) {
	byName := map[string]*App{} // not s.App: an empty entry is nil here
	for _, a := range s.Apps {
		if a != nil {
			byName[a.Name] = a
		}
	}
	for i, a := range s.Apps {
		if a == nil {
			continue
		}
		for dep, c := range a.DependsOn {
			f := fmt.Sprintf("apps[%d].depends_on.%s", i, dep)
			switch {
			case dep == a.Name:
				d.problem(f, "an app cannot depend on itself")
			case byName[dep] == nil:
				d.problem(f, "no app named %q in the spec", dep)
			}
			if c != nil && c.Condition != "" && !oneOf(c.Condition, conditions) {
				d.problem(f+".condition", "must be one of %s, got %q", strings.Join(conditions, ", "), c.Condition)
			}
		}
	}
	// Cycles: depth-first search in name order, reported once per cycle.
	state := map[string]int{} // 0 new, 1 on the path, 2 done
	var path []string
	reported := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		a := byName[name]
		if a == nil || state[name] == 2 {
			return
		}
		if state[name] == 1 {
			start := 0
			for k, n := range path {
				if n == name {
					start = k
				}
			}
			cycle := append(append([]string{}, path[start:]...), name)
			if !reported[cycle[0]] {
				for _, n := range cycle[:len(cycle)-1] {
					reported[n] = true
				}
				idx := 0
				for k, x := range s.Apps {
					if x != nil && x.Name == cycle[0] {
						idx = k
					}
				}
				d.problem(fmt.Sprintf("apps[%d].depends_on", idx), "dependency cycle: %s", strings.Join(cycle, " → "))
			}
			return
		}
		state[name] = 1
		path = append(path, name)
		deps := make([]string, 0, len(a.DependsOn))
		for dep := range a.DependsOn {
			deps = append(deps, dep)
		}
		sort.Strings(deps)
		for _, dep := range deps {
			if dep != name {
				visit(dep)
			}
		}
		path = path[:len(path)-1]
		state[name] = 2
	}
	for _, a := range s.Apps {
		if a != nil {
			visit(a.Name)
		}
	}
}

// Dep is one resolved depends_on entry.
type Dep struct {
	App       string
	Condition string // ready or started
}

// Dependencies lists the app's depends_on entries, sorted by app, with
// their conditions defaulted.
func (a *App) Dependencies() []Dep {
	out := make([]Dep, 0, len(a.DependsOn))
	for dep, c := range a.DependsOn {
		cond := ConditionReady
		if c != nil && c.Condition != "" {
			cond = c.Condition
		}
		out = append(out, Dep{dep, cond})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out
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
