// The stack's validation: volumes, networks, ports, mounts and logging of every app, all problems at once.

package spec

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

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
		data, err := readInput(path, MaxEnvFile)
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
