package spec

// lb_validate.go validates the balancer side of the spec (lb.go): every
// file path that reaches a config is checked as it will be rendered,
// names and hosts match closed alphabets, listen addresses parse.

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CheckConfigPath reports whether p can be written into a balancer config
// as one quoted token: no control character, no invalid UTF-8, and none of
// `$` (nginx expands variables even in quotes), `"`, `'` or `\`.
func CheckConfigPath(p string) error {
	if !utf8.ValidString(p) {
		return fmt.Errorf("not valid UTF-8")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("contains the control character %q", r)
		}
		if strings.ContainsRune("$\"'\\", r) {
			return fmt.Errorf("contains %q, which a balancer config cannot carry in a file name", r)
		}
	}
	return nil
}

// checkPathField checks a path field as written and as resolved against
// the spec's directory (which is part of what reaches the config).
func (d *decoder) checkPathField(s *Spec, field, p string) {
	if err := CheckConfigPath(p); err != nil {
		d.problem(field, "invalid file path %q: %s", p, err.Error())
		return
	}
	if strings.HasSuffix(p, "/") {
		d.problem(field, "invalid file path %q: names a directory", p)
		return
	}
	if r := s.Resolve(p); r != p {
		if err := CheckConfigPath(r); err != nil {
			d.problem(field, "the path %q resolves to %q against the spec's directory, which %s; move the spec or give an absolute path", p, r, err.Error())
		}
	}
}

func (d *decoder) validateNginx(n *Nginx) {
	if n.Kind != "" && n.Kind != KindNginx && n.Kind != KindHAProxy {
		d.problem("nginx.kind", "must be one of nginx, haproxy, got %q", n.Kind)
	}
	if n.Config == "" {
		d.problem("nginx.config", "missing: the path of the include file baton owns")
	} else if err := checkFilePath(n.Config); err != nil {
		d.problem("nginx.config", "invalid file path %q: %s", n.Config, err.Error())
	} else if strings.HasSuffix(n.Config, "/") {
		d.problem("nginx.config", "invalid file path %q: names a directory", n.Config)
	}
	if err := checkFilePath(n.Template); err != nil {
		d.problem("nginx.template", "invalid file path %q: %s", n.Template, err.Error())
	}
	for _, c := range []struct {
		name string
		argv []string
	}{{"test", n.Test}, {"reload", n.Reload}} {
		name, argv := c.name, c.argv
		if len(argv) == 0 {
			d.problem("nginx."+name, "missing: an argv list such as [nginx, -t] (run without a shell)")
			continue
		}
		for i, a := range argv {
			if a == "" || strings.ContainsRune(a, 0) {
				d.problem(fmt.Sprintf("nginx.%s[%d]", name, i), "empty or NUL argument")
			}
		}
	}
	if n.Listen == "" {
		d.problem("nginx.listen", "missing: the address server blocks listen on, e.g. 127.0.0.1:8080")
	} else if err := checkListen(n.Listen); err != nil {
		d.problem("nginx.listen", "%s", err.Error())
	}
	if n.ListenTLS != "" {
		if err := checkListen(n.ListenTLS); err != nil {
			d.problem("nginx.listen_tls", "%s", err.Error())
		} else if n.ListenTLS == n.Listen {
			d.problem("nginx.listen_tls", "must differ from nginx.listen (%s)", n.Listen)
		}
	}
}

// validateBalancer checks what spans the nginx section and the apps' lb
// sections: derived paths, routes, the default server and TLS.
func (d *decoder) validateBalancer(s *Spec) {
	n := s.Nginx
	if n.AccessLog != "" {
		if n.Kind == KindHAProxy {
			d.problem("nginx.access_log", "an nginx access log: HAProxy logs through syslog, and baton cannot read it")
		} else {
			d.checkPathField(s, "nginx.access_log", n.AccessLog)
		}
	}
	type route struct{ host, path string }
	routes := map[route]string{}
	hostTLS := map[string]tlsKey{}    // host -> the TLS it is served with
	hostTLSApp := map[string]string{} // host -> the app that set it
	var defaults []string
	hostless := ""
	for i, a := range s.Apps {
		if a == nil || a.LB == nil {
			continue
		}
		p := fmt.Sprintf("apps[%d].lb", i)
		lb := a.LB
		path := lb.Path
		if path == "" {
			path = DefaultPath
		}
		hosts := lb.HostNames()
		for j, h := range hosts {
			key := route{h, path}
			if other, dup := routes[key]; dup {
				if other == a.Name {
					d.problem(hostField(p, lb, j), "host %q is listed twice", h)
				} else {
					d.problem(p, "route host %q path %q is already taken by app %q", h, path, other)
				}
				continue
			}
			routes[key] = a.Name
		}
		if len(lb.Host) == 0 && hostless == "" {
			hostless = a.Name
		}
		if lb.Default {
			defaults = append(defaults, a.Name)
			if len(lb.Host) == 0 {
				d.problem(p+".default", "needs a host: an app without host is in the default server already")
			}
		}
		if lb.TLS != nil {
			d.validateTLS(s, a, p+".tls")
			if n.ListenTLS == "" {
				d.problem(p+".tls", "needs nginx.listen_tls, the HTTPS address")
			}
		}
		for _, h := range hosts {
			k := s.tlsKeyOf(lb, h)
			if !k.set {
				continue // an app without tls is served as its host is
			}
			if other, ok := hostTLS[h]; ok && other != k {
				d.problem(p+".tls", "host %q is served by app %q with other TLS settings: apps sharing a host share its certificate, redirect and hsts", displayHost(h), hostTLSApp[h])
				continue
			}
			hostTLS[h], hostTLSApp[h] = k, a.Name
		}
	}
	if len(defaults) > 1 {
		d.problem("apps", "more than one app has lb.default: %s; one host is the default server", strings.Join(defaults, ", "))
	}
	if len(defaults) > 0 && hostless != "" {
		d.problem("apps", "app %q has lb.default but app %q has no host and is in the default server already", defaults[0], hostless)
	}
	if !n.IsDefaultServer() {
		if hostless != "" {
			d.problem("nginx.default_server", "is false, but app %q has no host: it would never be reached", hostless)
		}
		if len(defaults) > 0 {
			d.problem("nginx.default_server", "is false, but app %q has lb.default", defaults[0])
		}
	}
}

// tlsKey is what a host's TLS settings must agree on across the apps that
// share it; set is false for an app without tls (it inherits).
type tlsKey struct {
	set       bool
	cert, key string
	redirect  bool
	hsts      time.Duration
}

func (s *Spec) tlsKeyOf(lb *LB, host string) tlsKey {
	if lb.TLS == nil {
		return tlsKey{}
	}
	cert, key := s.TLSFiles(lb, host)
	return tlsKey{set: true, cert: cert, key: key, redirect: lb.TLS.Redirect == nil || *lb.TLS.Redirect, hsts: lb.TLS.HSTS.D}
}

func displayHost(h string) string {
	if h == "" {
		return "(default server)"
	}
	return h
}

func hostField(p string, lb *LB, i int) string {
	if len(lb.Host) <= 1 {
		return p + ".host"
	}
	return fmt.Sprintf("%s.host[%d]", p, i)
}

func (d *decoder) validateTLS(s *Spec, a *App, p string) {
	t := a.LB.TLS
	switch {
	case t.Dir != "" && (t.Cert != "" || t.Key != ""):
		d.problem(p, "either cert (and key) or dir, not both")
		return
	case t.Dir == "" && t.Cert == "":
		d.problem(p, "missing: cert (a PEM file) or dir (one <host>.crt and <host>.key per host)")
		return
	}
	if t.Dir != "" {
		d.checkPathField(s, p+".dir", strings.TrimSuffix(t.Dir, "/"))
		if len(a.LB.Host) == 0 {
			d.problem(p+".dir", "picks a certificate per host: the app needs lb.host")
		}
	} else {
		d.checkPathField(s, p+".cert", t.Cert)
		if t.Key != "" {
			d.checkPathField(s, p+".key", t.Key)
			if s.Nginx != nil && s.Nginx.Kind == KindHAProxy && s.Resolve(t.Key) != s.Resolve(t.Cert)+".key" {
				d.problem(p+".key", "HAProxy reads the key from the certificate file or from %q: put it there and leave key out", t.Cert+".key")
			}
		}
	}
	if t.HSTS.D%time.Second != 0 {
		d.problem(p+".hsts", "a whole number of seconds, got %s", t.HSTS.D)
	}
}

func (d *decoder) validateLB(a *App, p string) {
	lb := a.LB
	if a.Port == 0 {
		d.problem(strings.TrimSuffix(p, ".lb")+".port", "missing: an app with an lb section needs the container port")
	}
	for i, h := range lb.Host {
		if h == "" || len(h) > 253 || !hostRe.MatchString(h) {
			d.problem(hostField(p, lb, i), "invalid host name %q: lowercase DNS name, optionally starting with *.", h)
		}
	}
	if lb.Path != "" && (!urlPathRe.MatchString(lb.Path) || strings.Contains(lb.Path, "..") || strings.Contains(lb.Path, "//")) {
		d.problem(p+".path", "invalid path %q: must start with / and use only letters, digits and ._~/%%+-", lb.Path)
	}
	if lb.Method != "" && !oneOf(lb.Method, methods) {
		d.problem(p+".method", "must be one of %s, got %q", strings.Join(methods, ", "), lb.Method)
	}
	if lb.Keepalive < 0 || lb.Keepalive > 4096 {
		d.problem(p+".keepalive", "must be between 0 and 4096, got %d", lb.Keepalive)
	}
	for _, t := range []struct {
		name string
		d    Duration
		max  time.Duration
	}{{"connect_timeout", lb.ConnectTimeout, time.Hour}, {"read_timeout", lb.ReadTimeout, 24 * time.Hour}, {"send_timeout", lb.SendTimeout, 24 * time.Hour}} {
		if t.d.Set && (t.d.D < time.Millisecond || t.d.D > t.max || t.d.D%time.Millisecond != 0) {
			d.problem(p+"."+t.name, "must be a whole number of milliseconds from 1ms to %s, got %s", t.max, t.d.D)
		}
	}
	if ft := lb.FailTimeout; ft.Set && (ft.D < time.Second || ft.D > time.Hour || ft.D%time.Second != 0) {
		d.problem(p+".fail_timeout", "must be a whole number of seconds from 1s to 1h, got %s", ft.D)
	}
	if lb.Retries != nil && (*lb.Retries < 0 || *lb.Retries > 10) {
		d.problem(p+".retries", "must be between 0 and 10, got %d", *lb.Retries)
	}
	if lb.MaxFails != nil && (*lb.MaxFails < 0 || *lb.MaxFails > 100) {
		d.problem(p+".max_fails", "must be between 0 and 100, got %d", *lb.MaxFails)
	}
	if lb.MaxBody != nil && lb.MaxBody.Bytes > 1<<40 {
		d.problem(p+".max_body", "at most 1t, got %d bytes", lb.MaxBody.Bytes)
	}
}

// checkListen accepts IP:PORT with a port of plain decimal digits, as
// nginx and HAProxy read it.
func checkListen(l string) error {
	host, port, err := net.SplitHostPort(l)
	if err != nil {
		return fmt.Errorf("invalid listen address %q: want IP:PORT", l)
	}
	if net.ParseIP(host) == nil || strings.Contains(host, "%") {
		return fmt.Errorf("invalid listen address %q: the host must be an IP address", l)
	}
	if strings.Trim(port, "0123456789") != "" || len(port) > 5 {
		return fmt.Errorf("invalid listen address %q: bad port", l)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid listen address %q: bad port", l)
	}
	return nil
}
