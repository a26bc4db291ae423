package spec

// This file holds the balancer side of the spec: the nginx section (which
// also drives HAProxy), each app's lb section with its TLS, timeouts and
// failover settings, their defaults and their validation.
//
// It enforces the rule that nothing from the spec can inject balancer
// directives: names, hosts and URL paths match closed alphabets, and every
// file path that reaches a config — as written or derived from the spec's
// directory — is checked here as it will be rendered (templates quote it;
// what a quote cannot carry, such as `$`, a quote character or a control
// character, is refused).

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Nginx describes the balancer configuration file baton owns. The section
// is named after nginx, the default; kind haproxy renders the same view to
// an HAProxy configuration.
type Nginx struct {
	// Kind is nginx (default) or haproxy: which embedded template renders
	// the config, and which syntax rules apply to file names.
	Kind string `yaml:"kind"`
	// Config is the include file baton owns and rewrites.
	Config string `yaml:"config"`
	// Template is a text/template file; empty means the embedded template
	// of Kind.
	Template string `yaml:"template"`
	// Test and Reload are argv lists, run without a shell in the spec's directory.
	Test   []string `yaml:"test"`
	Reload []string `yaml:"reload"`
	// Listen is the plain-HTTP address server blocks listen on, e.g.
	// 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// ListenTLS is the HTTPS (HTTP/2) address of hosts with lb.tls, e.g.
	// 0.0.0.0:443. Required when an app has lb.tls.
	ListenTLS string `yaml:"listen_tls"`
	// DefaultServer: this config holds the default server of its listen
	// addresses (requests for hosts no server names). Default true; set
	// false on all but one of several projects sharing one nginx.
	DefaultServer *bool `yaml:"default_server"`
	// AccessLog is where the template makes nginx log requests in baton's
	// format; scale reads it for requests per second, latency and errors.
	AccessLog string `yaml:"access_log"`
}

// LB routes traffic from the balancer to an app.
type LB struct {
	// Host is one virtual host or a list of them; "*.example.com" is a
	// wildcard. None: the default server.
	Host Hosts `yaml:"host"`
	// Path is the location prefix routed to the app (default /):
	// [A-Za-z0-9._~/%+-] only, no .. or //.
	Path string `yaml:"path"`
	// Default makes the app's first host the default server: requests for
	// a host no server names are served as if they were for it.
	Default bool `yaml:"default"`
	// Method is the balancing method: round_robin (default), least_conn or
	// ip_hash.
	Method string `yaml:"method"`
	// Keepalive is how many idle upstream connections nginx keeps per worker
	// (0-4096, default 0).
	Keepalive int  `yaml:"keepalive"`
	TLS       *TLS `yaml:"tls"`
	// ConnectTimeout bounds connecting to a replica (default 2s): a lost
	// node costs at most this per request before the next replica is tried.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// ReadTimeout and SendTimeout bound the time between two reads from,
	// or writes to, a replica (default 60s); for WebSockets and streams,
	// ReadTimeout is the longest idle time.
	ReadTimeout Duration `yaml:"read_timeout"`
	SendTimeout Duration `yaml:"send_timeout"`
	// MaxBody is the largest request body (default 1m; 0: no limit).
	MaxBody *Size `yaml:"max_body"`
	// Retries is how many other replicas an idempotent request is tried on
	// after an error, a timeout, a 502 or a 503 (default 1; 0: none).
	Retries *int `yaml:"retries"`
	// MaxFails failed attempts within FailTimeout take a replica out of
	// the balancer's rotation for FailTimeout (passive failure detection;
	// default 1 and 10s; 0 turns it off).
	MaxFails    *int     `yaml:"max_fails"`
	FailTimeout Duration `yaml:"fail_timeout"`
}

// TLS is where a host's certificate and key come from: files that whatever
// renews them (certbot, acme.sh, a corporate CA) rewrites. Their contents
// are part of what baton tests and reloads.
type TLS struct {
	// Cert is a PEM file with the certificate (and its chain); Key the PEM
	// private key (default: in Cert). Every host of the app uses them.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// Dir holds one certificate per host instead: <host>.crt and
	// <host>.key, "*." written as "_wildcard." (for HAProxy the key is in
	// <host>.crt or in <host>.crt.key).
	Dir string `yaml:"dir"`
	// Redirect sends plain-HTTP requests for the host to HTTPS with a 301
	// (default true).
	Redirect *bool `yaml:"redirect"`
	// HSTS, when set, adds Strict-Transport-Security with this max-age.
	HSTS Duration `yaml:"hsts"`
}

// Hosts is one host name or a list of them.
type Hosts []string

func (Hosts) oneOrMany() {}

// Balancer kinds.
const (
	KindNginx   = "nginx"
	KindHAProxy = "haproxy"
)

// Defaults of the lb section (see docs/spec.md).
const (
	DefaultConnectTimeout = 2 * time.Second
	DefaultReadTimeout    = 60 * time.Second
	DefaultSendTimeout    = 60 * time.Second
	DefaultMaxBody        = 1 << 20
	DefaultRetries        = 1
	DefaultMaxFails       = 1
	DefaultFailTimeout    = 10 * time.Second
)

func (n *Nginx) applyDefaults() {
	if n.Kind == "" {
		n.Kind = KindNginx
	}
	if n.DefaultServer == nil {
		yes := true
		n.DefaultServer = &yes
	}
}

func (lb *LB) applyDefaults() {
	if lb.Method == "" {
		lb.Method = DefaultMethod
	}
	if lb.Path == "" {
		lb.Path = DefaultPath
	}
	for _, d := range []struct {
		f   *Duration
		def time.Duration
	}{{&lb.ConnectTimeout, DefaultConnectTimeout}, {&lb.ReadTimeout, DefaultReadTimeout},
		{&lb.SendTimeout, DefaultSendTimeout}, {&lb.FailTimeout, DefaultFailTimeout}} {
		if !d.f.Set {
			d.f.D = d.def
		}
	}
	if lb.MaxBody == nil {
		lb.MaxBody = &Size{Bytes: DefaultMaxBody}
	}
	if lb.Retries == nil {
		n := DefaultRetries
		lb.Retries = &n
	}
	if lb.MaxFails == nil {
		n := DefaultMaxFails
		lb.MaxFails = &n
	}
	if lb.TLS != nil && lb.TLS.Redirect == nil {
		yes := true
		lb.TLS.Redirect = &yes
	}
}

// HostNames are the app's hosts, or [""] (the default server) for none.
func (lb *LB) HostNames() []string {
	if len(lb.Host) == 0 {
		return []string{""}
	}
	return lb.Host
}

// IsDefaultServer reports whether this nginx section holds its addresses'
// default server.
func (n *Nginx) IsDefaultServer() bool { return n.DefaultServer == nil || *n.DefaultServer }

// TLSFiles are the certificate and key files for host of an app with
// lb.tls, absolute. key is "" when the key is in the certificate file
// (HAProxy then also reads cert+".key" when present).
func (s *Spec) TLSFiles(lb *LB, host string) (cert, key string) {
	t := lb.TLS
	if t == nil {
		return "", ""
	}
	if t.Dir != "" {
		base := filepath.Join(s.Resolve(t.Dir), hostFileName(host))
		if s.Nginx != nil && s.Nginx.Kind == KindHAProxy {
			return base + ".crt", ""
		}
		return base + ".crt", base + ".key"
	}
	cert, key = s.Resolve(t.Cert), s.Resolve(t.Key)
	if s.Nginx != nil && s.Nginx.Kind == KindHAProxy && key == cert+".key" {
		key = "" // HAProxy finds it there by itself
	}
	return cert, key
}

// hostFileName is the file name stem of host's certificate in a tls.dir.
func hostFileName(host string) string {
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		return "_wildcard." + rest
	}
	return host
}

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
