// How one compose service's parts map to an app: environment, ports, volumes, networks, health and deploy.

package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/compose-spec/compose-go/v2/types"
)

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
