// Package compose turns a docker compose file into a first baton spec. It
// reads the file with the compose project's own loader (compose-go, which
// this package alone imports: interpolation, .env, extends and the short
// and long syntaxes are compose's), maps what baton can express, and names
// every feature it could not map, so nothing is dropped silently.
//
// The mapping keeps compose's meaning where baton's defaults differ: a
// published port without an address is written as 0.0.0.0 (compose binds
// every address; baton's own default is docker.publish_ip), a named volume
// keeps compose's Docker name, a volume several containers write to is
// shared, and an app with a fixed host port or an exclusive volume rolls
// stop-first (compose recreates a container stop-first too).
package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/baton-orchestrator/baton/internal/spec"
)

// Result is an imported spec and what was left out of it.
type Result struct {
	Spec *spec.Spec
	// Unmapped names each compose feature that is not in the spec, as
	// "services.web.build: why" (sorted).
	Unmapped []string
	// Notes are mappings a person should check (renamed services, an
	// adopted volume name).
	Notes []string
}

// Options tune an import.
type Options struct {
	// Project overrides the project name (default: compose's).
	Project string
	// Env is the environment for interpolation (compose reads the
	// process's; nil means none besides the file's .env).
	Env []string
}

var (
	envKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	labelRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$`)
	nonName  = regexp.MustCompile(`[^a-z0-9-]+`)
)

// Load reads a compose file with compose-go: the file's own directory is
// the project directory, its .env file is read, paths are resolved.
func Load(ctx context.Context, path string, o Options) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fns := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithEnv(o.Env),
		cli.WithEnvFiles(), // the file's .env, as compose reads it
		cli.WithDotEnv,
		cli.WithResolvedPaths(true),
		cli.WithoutEnvironmentResolution, // keep env_file as files, not their contents
	}
	if o.Project != "" {
		fns = append(fns, cli.WithName(o.Project))
	}
	opts, err := cli.NewProjectOptions([]string{abs}, fns...)
	if err != nil {
		return nil, fmt.Errorf("read compose file %q: %w", path, err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("read compose file %q: %w", path, err)
	}
	return p, nil
}

// Import reads the compose file at path and maps it onto a baton spec.
func Import(ctx context.Context, path string, o Options) (*Result, error) {
	p, err := Load(ctx, path, o)
	if err != nil {
		return nil, err
	}
	return Convert(p), nil
}

type importer struct {
	p   *types.Project
	dir string
	s   *spec.Spec
	res *Result
	// names maps service names to app names.
	names map[string]string
	// writers counts the containers that mount a volume key read-write.
	writers map[string]int
	usedVol map[string]bool
	usedNet map[string]bool
}

func (im *importer) unmapped(format string, args ...any) {
	im.res.Unmapped = append(im.res.Unmapped, fmt.Sprintf(format, args...))
}

func (im *importer) note(format string, args ...any) {
	im.res.Notes = append(im.res.Notes, fmt.Sprintf(format, args...))
}

// Convert maps a loaded compose project onto a baton spec.
func Convert(p *types.Project) *Result {
	im := &importer{p: p, dir: p.WorkingDir, s: &spec.Spec{}, res: &Result{}, names: map[string]string{},
		writers: map[string]int{}, usedVol: map[string]bool{}, usedNet: map[string]bool{}}
	im.res.Spec = im.s
	im.s.Project = name(p.Name)
	if im.s.Project != p.Name {
		im.note("project %q is %q in baton (lowercase letters, digits and -)", p.Name, im.s.Project)
	}
	services := sortedKeys(p.Services)
	taken := map[string]bool{}
	for _, svc := range services {
		n := name(svc)
		for k := 2; taken[n]; k++ {
			n = name(svc) + "-" + strconv.Itoa(k)
		}
		taken[n] = true
		im.names[svc] = n
		if n != svc {
			im.note("service %q is app %q", svc, n)
		}
	}
	for _, svc := range services {
		sc := p.Services[svc]
		im.s.Apps = append(im.s.Apps, im.app(svc, sc))
	}
	im.topLevel()
	im.exclusive()
	sort.Strings(im.res.Unmapped)
	return im.res
}

// name makes a baton name of a compose name.
func name(s string) string {
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(n) > 40 {
		n = strings.TrimRight(n[:40], "-")
	}
	if n == "" {
		n = "app"
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// handled are the service fields this package maps (the others are named
// as unmapped when set).
var handled = map[string]bool{
	"name": true, "image": true, "command": true, "entrypoint": true, "environment": true, "env_file": true,
	"ports": true, "expose": true, "volumes": true, "tmpfs": true, "networks": true, "healthcheck": true,
	"depends_on": true, "deploy": true, "restart": true, "scale": true, "logging": true, "user": true,
	"working_dir": true, "stop_signal": true, "stop_grace_period": true, "read_only": true, "cap_add": true,
	"cap_drop": true, "extra_hosts": true, "labels": true, "mem_limit": true, "cpus": true, "pull_policy": true,
	"build": true, "container_name": true, "links": true,
}

// why explains the unmapped service fields people ask about.
var why = map[string]string{
	"privileged":      "baton runs no privileged containers; grant capabilities with cap_add",
	"network_mode":    "baton's containers are on Docker's bridge or the stack's networks",
	"pid":             "not supported by baton",
	"ipc":             "not supported by baton",
	"secrets":         "baton has no secrets store: use env_file or a bind mount read-only",
	"configs":         "baton has no configs store: use a bind mount read-only",
	"devices":         "not supported by baton",
	"ulimits":         "not supported by baton",
	"sysctls":         "not supported by baton",
	"shm_size":        "not supported by baton",
	"init":            "not supported by baton",
	"hostname":        "containers are reached by their app's name on the stack's networks",
	"dns":             "not supported by baton",
	"security_opt":    "not supported by baton",
	"profiles":        "baton runs every app of the spec",
	"mem_reservation": "only swarm apps have reserve_memory",
	"stdin_open":      "baton's containers run unattended",
	"tty":             "baton's containers run unattended",
}

func (im *importer) app(svc string, sc types.ServiceConfig) *spec.App {
	a := &spec.App{Name: im.names[svc], Image: sc.Image}
	at := "services." + svc
	im.genericUnmapped(at, reflect.ValueOf(sc))
	if sc.Build != nil {
		if a.Image == "" {
			a.Image = im.p.Name + "-" + svc
			im.unmapped("%s.build: baton runs images; build and push %s yourself (the image name compose would give it)", at, a.Image)
		} else {
			im.unmapped("%s.build: baton runs the image %s; build it yourself", at, a.Image)
		}
	}
	if sc.ContainerName != "" {
		im.unmapped("%s.container_name: baton names containers <project>-<app>-<replica>-<suffix>; the app is reached by its name %q on the stack's networks", at, a.Name)
	}
	if len(sc.Links) > 0 {
		im.unmapped("%s.links: not needed: every app is reachable by its name on the stack's networks", at)
	}
	a.Command, a.Args = []string(sc.Entrypoint), []string(sc.Command)
	if sc.Command != nil && len(sc.Command) == 0 {
		im.unmapped("%s.command: an empty command clears the image's; baton keeps the image's", at)
	}
	switch sc.PullPolicy {
	case "", types.PullPolicyMissing, types.PullPolicyIfNotPresent:
	case types.PullPolicyAlways, types.PullPolicyNever:
		a.Pull = sc.PullPolicy
	default:
		im.unmapped("%s.pull_policy: %q is not one of baton's never, missing, always", at, sc.PullPolicy)
	}
	im.environment(a, at, sc)
	im.ports(a, at, sc)
	im.volumes(a, at, sc)
	im.networks(a, at, sc)
	im.health(a, at, sc.HealthCheck)
	im.deploy(a, at, sc)
	for _, dep := range sortedKeys(sc.DependsOn) {
		d := sc.DependsOn[dep]
		app, ok := im.names[dep]
		if !ok {
			im.unmapped("%s.depends_on.%s: no such service in the file", at, dep)
			continue
		}
		if a.DependsOn == nil {
			a.DependsOn = map[string]*spec.Dependency{}
		}
		switch d.Condition {
		case types.ServiceConditionHealthy:
			a.DependsOn[app] = &spec.Dependency{Condition: spec.ConditionReady}
		case types.ServiceConditionCompletedSuccessfully:
			a.DependsOn[app] = &spec.Dependency{Condition: spec.ConditionStarted}
			im.unmapped("%s.depends_on.%s: condition service_completed_successfully: baton runs long-lived apps; mapped to started", at, dep)
		default:
			a.DependsOn[app] = &spec.Dependency{Condition: spec.ConditionStarted}
		}
		if d.Restart {
			a.RestartWith = append(a.RestartWith, app)
		}
		if !d.Required {
			im.unmapped("%s.depends_on.%s: required: false: baton waits for every dependency", at, dep)
		}
	}
	if r := sc.Restart; r != "" && r != types.RestartPolicyNo {
		a.Restart = r
	}
	if sc.StopGracePeriod != nil {
		a.StopGrace = spec.Duration{D: time.Duration(*sc.StopGracePeriod), Set: true}
	}
	a.User, a.WorkingDir, a.StopSignal, a.ReadOnly = sc.User, sc.WorkingDir, sc.StopSignal, sc.ReadOnly
	a.CapAdd, a.CapDrop = sc.CapAdd, sc.CapDrop
	if len(sc.ExtraHosts) > 0 {
		a.ExtraHosts = sc.ExtraHosts.AsList(":")
		sort.Strings(a.ExtraHosts)
	}
	if l := sc.Logging; l != nil && (l.Driver != "" || len(l.Options) > 0) {
		a.Logging = &spec.Logging{Driver: l.Driver, Options: map[string]string(l.Options)}
	}
	for _, k := range sortedKeys(sc.Labels) {
		switch v := sc.Labels[k]; {
		case !labelRe.MatchString(k) || strings.HasPrefix(k, "baton."):
			im.unmapped("%s.labels.%s: not a label key baton accepts", at, k)
		case strings.ContainsAny(v, "\x00\n"):
			im.unmapped("%s.labels.%s: the value has a newline", at, k)
		default:
			if a.Labels == nil {
				a.Labels = map[string]string{}
			}
			a.Labels[k] = v
		}
	}
	if sc.MemLimit > 0 {
		a.Resources.Memory = spec.Size{Bytes: int64(sc.MemLimit)}
	}
	if sc.CPUS > 0 {
		a.Resources.CPU = spec.MilliCPU{Milli: int64(float64(sc.CPUS)*1000 + 0.5)}
	}
	if m := a.Resources.Memory.Bytes; m > 0 && m < 6<<20 {
		im.unmapped("%s: a memory limit of %d bytes is below Docker's minimum of 6m; left out", at, m)
		a.Resources.Memory = spec.Size{}
	}
	return a
}

// genericUnmapped names every set service field this package does not map.
func (im *importer) genericUnmapped(at string, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			im.genericUnmapped(at, v.Field(i))
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" || handled[tag] || v.Field(i).IsZero() {
			continue
		}
		if strings.HasPrefix(tag, "#extensions") {
			for _, k := range sortedKeys(v.Field(i).Interface().(types.Extensions)) {
				im.unmapped("%s.%s: an extension; baton reads none", at, k)
			}
			continue
		}
		reason := why[tag]
		if reason == "" {
			reason = "not supported by baton"
		}
		im.unmapped("%s.%s: %s", at, tag, reason)
	}
}

func (im *importer) environment(a *spec.App, at string, sc types.ServiceConfig) {
	for _, k := range sortedKeys(sc.Environment) {
		v := sc.Environment[k]
		switch {
		case v == nil:
			im.unmapped("%s.environment.%s: no value (compose takes it from its own environment at run time); set it in env or an env_file", at, k)
		case !envKeyRe.MatchString(k):
			im.unmapped("%s.environment.%s: not a variable name baton accepts ([A-Za-z_][A-Za-z0-9_]*)", at, k)
		case strings.HasPrefix(k, "BATON_"):
			im.unmapped("%s.environment.%s: names starting with BATON_ are baton's", at, k)
		default:
			if a.Env == nil {
				a.Env = map[string]string{}
			}
			a.Env[k] = *v
		}
	}
	for i, ef := range sc.EnvFiles {
		if ef.Format != "" {
			im.unmapped("%s.env_file[%d]: format %q: baton reads KEY=value files", at, i, ef.Format)
			continue
		}
		if _, err := os.Stat(ef.Path); err != nil && !bool(ef.Required) {
			im.unmapped("%s.env_file[%d]: %s is optional (required: false) and missing; baton's env files are required", at, i, im.rel(ef.Path))
			continue
		}
		a.EnvFile = append(a.EnvFile, im.rel(ef.Path))
	}
}

// rel writes a path inside the compose file's directory relative to it
// (the spec, saved there, resolves it the same way) and any other path as
// it is.
func (im *importer) rel(path string) string {
	if r, err := filepath.Rel(im.dir, path); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		if strings.HasPrefix(r, ".") {
			return r
		}
		return "./" + r
	}
	return path
}

func (im *importer) ports(a *spec.App, at string, sc types.ServiceConfig) {
	for i, p := range sc.Ports {
		f := fmt.Sprintf("%s.ports[%d]", at, i)
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			im.unmapped("%s: protocol %q", f, proto)
			continue
		}
		if a.Port == 0 && proto == "tcp" {
			a.Port = int(p.Target)
		}
		if p.Published == "" {
			if int(p.Target) != a.Port {
				im.unmapped("%s: container port %d without a host port: baton publishes only the app's port (%d) on a port Docker picks", f, p.Target, a.Port)
			}
			continue
		}
		host, err := strconv.Atoi(p.Published)
		if err != nil {
			im.unmapped("%s: published %q: baton maps one host port to one container port, no ranges", f, p.Published)
			continue
		}
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0" // compose's meaning: every address
		}
		if strings.Contains(ip, ":") {
			ip = "[" + ip + "]"
		}
		port := fmt.Sprintf("%s:%d:%d", ip, host, p.Target)
		if proto != "tcp" {
			port += "/" + proto
		}
		a.Ports = append(a.Ports, port)
	}
	if a.Port == 0 {
		for _, e := range sc.Expose {
			port, err := strconv.Atoi(strings.TrimSuffix(e, "/tcp"))
			if err == nil && port > 0 && port <= 65535 {
				a.Port = port
				break
			}
		}
	}
}

func (im *importer) volumes(a *spec.App, at string, sc types.ServiceConfig) {
	for i, v := range sc.Volumes {
		f := fmt.Sprintf("%s.volumes[%d]", at, i)
		ro := ""
		if v.ReadOnly {
			ro = ":ro"
		}
		switch v.Type {
		case types.VolumeTypeVolume:
			if v.Volume != nil && (v.Volume.NoCopy || v.Volume.Subpath != "" || len(v.Volume.Labels) > 0) {
				im.unmapped("%s.volume: nocopy, subpath and labels of a mount are not supported by baton", f)
			}
			if v.Source == "" {
				a.Volumes = append(a.Volumes, v.Target)
				continue
			}
			im.usedVol[v.Source] = true
			if !v.ReadOnly {
				im.writers[v.Source] += max(1, replicasOf(sc))
			}
			a.Volumes = append(a.Volumes, v.Source+":"+v.Target+ro)
		case types.VolumeTypeBind:
			if v.Bind != nil && (v.Bind.Propagation != "" || v.Bind.SELinux != "" || v.Bind.Recursive != "") {
				im.unmapped("%s.bind: propagation, selinux and recursive are not supported by baton", f)
			}
			if v.Bind != nil && !bool(v.Bind.CreateHostPath) {
				im.note("%s: baton does not create a missing bind source; create %s before the first start", f, v.Source)
			}
			a.Volumes = append(a.Volumes, im.rel(v.Source)+":"+v.Target+ro)
		case types.VolumeTypeTmpfs:
			opts := []string{}
			if v.Tmpfs != nil && v.Tmpfs.Size > 0 {
				opts = append(opts, "size="+strconv.FormatInt(int64(v.Tmpfs.Size), 10))
			}
			if v.Tmpfs != nil && v.Tmpfs.Mode > 0 {
				opts = append(opts, "mode="+strconv.FormatUint(uint64(v.Tmpfs.Mode), 8))
			}
			t := v.Target
			if len(opts) > 0 {
				t += ":" + strings.Join(opts, ",")
			}
			a.Tmpfs = append(a.Tmpfs, t)
		default:
			im.unmapped("%s: a %s mount is not supported by baton", f, v.Type)
		}
	}
	a.Tmpfs = append(a.Tmpfs, sc.Tmpfs...)
}

func replicasOf(sc types.ServiceConfig) int {
	if sc.Scale != nil {
		return *sc.Scale
	}
	if sc.Deploy != nil && sc.Deploy.Replicas != nil {
		return *sc.Deploy.Replicas
	}
	return 1
}

func (im *importer) networks(a *spec.App, at string, sc types.ServiceConfig) {
	keys := sc.NetworksByPriority()
	onlyDefault := len(keys) == 1 && keys[0] == "default"
	for _, k := range keys {
		im.usedNet[k] = true
		if !onlyDefault {
			a.Networks = append(a.Networks, k)
		}
		n := sc.Networks[k]
		if n == nil {
			continue
		}
		for _, alias := range n.Aliases {
			if alias != a.Name {
				im.unmapped("%s.networks.%s.aliases: %q: each app answers to its name (%q) only", at, k, alias, a.Name)
			}
		}
		if n.Ipv4Address != "" || n.Ipv6Address != "" || n.MacAddress != "" || len(n.LinkLocalIPs) > 0 || n.InterfaceName != "" || len(n.DriverOpts) > 0 {
			im.unmapped("%s.networks.%s: fixed addresses, interface names and driver options are not supported by baton", at, k)
		}
	}
}

func (im *importer) health(a *spec.App, at string, h *types.HealthCheckConfig) {
	if h == nil {
		return
	}
	f := at + ".healthcheck"
	if h.Disable || (len(h.Test) > 0 && h.Test[0] == "NONE") {
		a.Health.Type = "none"
		return
	}
	switch {
	case len(h.Test) > 1 && h.Test[0] == "CMD":
		a.Health.Type, a.Health.Command = "exec", append([]string{}, h.Test[1:]...)
	case len(h.Test) > 1 && h.Test[0] == "CMD-SHELL":
		a.Health.Type, a.Health.Command = "exec", []string{"/bin/sh", "-c", h.Test[1]}
	case len(h.Test) > 0:
		im.unmapped("%s.test: %q is not a CMD or CMD-SHELL test", f, strings.Join(h.Test, " "))
	}
	if h.Timeout != nil {
		a.Health.Timeout = spec.Duration{D: time.Duration(*h.Timeout), Set: true}
	}
	if h.StartPeriod != nil {
		a.Health.StartPeriod = spec.Duration{D: time.Duration(*h.StartPeriod), Set: true}
	}
	if h.Retries != nil && *h.Retries > 0 {
		a.Health.FailureThreshold = int(min(*h.Retries, 100))
	}
	if h.Interval != nil {
		im.unmapped("%s.interval: baton checks on every heal pass (its schedule), not on an interval of its own", f)
	}
	if h.StartInterval != nil {
		im.unmapped("%s.start_interval: baton waits for a new replica with its own polling (ready_timeout)", f)
	}
}

func (im *importer) deploy(a *spec.App, at string, sc types.ServiceConfig) {
	if n := replicasOf(sc); n != 1 {
		a.Replicas = &n
	}
	d := sc.Deploy
	if d == nil {
		return
	}
	f := at + ".deploy"
	if d.Mode != "" && d.Mode != "replicated" {
		im.unmapped("%s.mode: %s: baton runs a replica count", f, d.Mode)
	}
	if l := d.Resources.Limits; l != nil {
		if l.MemoryBytes > 0 {
			a.Resources.Memory = spec.Size{Bytes: int64(l.MemoryBytes)}
		}
		if l.NanoCPUs > 0 {
			a.Resources.CPU = spec.MilliCPU{Milli: int64(float64(l.NanoCPUs)*1000 + 0.5)}
		}
		if l.Pids > 0 || len(l.Devices) > 0 || len(l.GenericResources) > 0 {
			im.unmapped("%s.resources.limits: pids, devices and generic resources are not supported by baton", f)
		}
	}
	if d.Resources.Reservations != nil {
		im.unmapped("%s.resources.reservations: only swarm apps have reserve_memory", f)
	}
	if u := d.UpdateConfig; u != nil {
		switch u.Order {
		case "stop-first":
			a.Update.Order = spec.StopFirst
		case "start-first":
			a.Update.Order = spec.StartFirst
		}
		if u.Parallelism != nil || u.Delay != 0 || u.FailureAction != "" || u.Monitor != 0 || u.MaxFailureRatio != 0 {
			im.unmapped("%s.update_config: baton replaces one replica at a time and rolls back a replica that does not answer; only order is mapped", f)
		}
	}
	if r := d.RestartPolicy; r != nil {
		switch r.Condition {
		case "any":
			a.Restart = "always"
		case "on-failure":
			a.Restart = "on-failure"
			if r.MaxAttempts != nil && *r.MaxAttempts > 0 {
				a.Restart += ":" + strconv.FormatUint(min(*r.MaxAttempts, 1000), 10)
			}
		case "none":
			a.Restart = ""
		}
		if r.Delay != nil || r.Window != nil {
			im.unmapped("%s.restart_policy: delay and window: heal's backoff and crash-loop window do that", f)
		}
	}
	if d.RollbackConfig != nil {
		im.unmapped("%s.rollback_config: a replica that does not answer is rolled back by itself", f)
	}
	if len(d.Placement.Constraints) > 0 || len(d.Placement.Preferences) > 0 || d.Placement.MaxReplicas > 0 {
		im.unmapped("%s.placement: only swarm apps are placed", f)
	}
	if len(d.Labels) > 0 {
		im.unmapped("%s.labels: service labels are Swarm's; container labels are mapped", f)
	}
	if d.EndpointMode != "" {
		im.unmapped("%s.endpoint_mode: only Swarm has endpoint modes", f)
	}
}

// topLevel maps the volumes and networks the services use and names the
// rest.
func (im *importer) topLevel() {
	for _, k := range sortedKeys(im.p.Volumes) {
		v := im.p.Volumes[k]
		if !im.usedVol[k] {
			im.unmapped("volumes.%s: no service mounts it", k)
			continue
		}
		sv := &spec.Volume{External: bool(v.External), Driver: v.Driver, DriverOpts: map[string]string(v.DriverOpts)}
		if v.External {
			sv.Driver, sv.DriverOpts = "", nil
		}
		im.s.Volumes = setMap(im.s.Volumes, k, sv)
		name := v.Name
		if name == "" {
			name = im.p.Name + "_" + k
		}
		if name != im.s.VolumeName(k) {
			sv.Name = name
		}
		if !v.External {
			im.note("volumes.%s: the Docker volume is %s, compose's name; if docker compose created it already, add external: true to keep its data (baton does not adopt a volume it did not create)", k, name)
		}
		for _, lk := range sortedKeys(v.Labels) {
			if labelRe.MatchString(lk) && !strings.HasPrefix(lk, "baton.") {
				if sv.Labels == nil {
					sv.Labels = map[string]string{}
				}
				sv.Labels[lk] = v.Labels[lk]
			} else {
				im.unmapped("volumes.%s.labels.%s: not a label key baton accepts", k, lk)
			}
		}
		if im.writers[k] > 1 {
			sv.Shared = true
			im.note("volumes.%s: shared: true, since %d containers write to it as compose lets them", k, im.writers[k])
		}
	}
	for _, k := range sortedKeys(im.p.Networks) {
		n := im.p.Networks[k]
		if !im.usedNet[k] {
			im.unmapped("networks.%s: no service joins it", k)
			continue
		}
		sn := &spec.Network{External: bool(n.External), Driver: n.Driver, Internal: n.Internal}
		if n.External {
			sn.Driver, sn.Internal = "", false
		}
		im.s.Networks = setMap(im.s.Networks, k, sn)
		if n.Name != "" && n.Name != im.s.NetworkName(k) {
			sn.Name = n.Name
		}
		if len(n.Ipam.Config) > 0 || n.Ipam.Driver != "" || len(n.DriverOpts) > 0 || n.EnableIPv6 != nil || n.Attachable {
			im.unmapped("networks.%s: ipam, driver_opts, enable_ipv6 and attachable are not supported by baton", k)
		}
		for _, lk := range sortedKeys(n.Labels) {
			if labelRe.MatchString(lk) && !strings.HasPrefix(lk, "baton.") {
				if sn.Labels == nil {
					sn.Labels = map[string]string{}
				}
				sn.Labels[lk] = n.Labels[lk]
			}
		}
	}
	for _, k := range sortedKeys(im.p.Secrets) {
		im.unmapped("secrets.%s: baton has no secrets store: use env_file or a read-only bind mount", k)
	}
	for _, k := range sortedKeys(im.p.Configs) {
		im.unmapped("configs.%s: baton has no configs store: use a read-only bind mount", k)
	}
	for _, k := range sortedKeys(im.p.Models) {
		im.unmapped("models.%s: not supported by baton", k)
	}
	for _, k := range sortedKeys(im.p.Jobs) {
		im.unmapped("jobs.%s: baton runs long-lived apps", k)
	}
	for _, k := range sortedKeys(im.p.Extensions) {
		im.unmapped("%s: an extension; baton reads none", k)
	}
}

func setMap[V any](m map[string]V, k string, v V) map[string]V {
	if m == nil {
		m = map[string]V{}
	}
	m[k] = v
	return m
}

// exclusive applies baton's one-container rules the way compose behaves:
// an app with a fixed host port or an exclusive volume rolls stop-first
// (compose recreates stop-first), and a fixed host port keeps one replica.
func (im *importer) exclusive() {
	for _, a := range im.s.Apps {
		why := im.s.Exclusive(a)
		if why == "" {
			continue
		}
		if a.Update.Order == spec.StartFirst {
			im.unmapped("services.%s.deploy.update_config.order: start-first cannot work: %s; stop-first", a.Name, why)
		}
		a.Update.Order = spec.StopFirst
		if a.Replicas != nil && *a.Replicas > 1 && len(a.Ports) > 0 {
			im.unmapped("services.%s.deploy.replicas: %d replicas cannot share fixed host ports; 1", a.Name, *a.Replicas)
			a.Replicas = nil
		}
	}
}
