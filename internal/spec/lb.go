package spec

// This file holds the balancer side of the spec: the nginx section (which
// also drives HAProxy), each app's lb section with its TLS, timeouts and
// failover settings, and their defaults; lb_validate.go validates them.
//
// Together they enforce the rule that nothing from the spec can inject balancer
// directives: names, hosts and URL paths match closed alphabets, and every
// file path that reaches a config — as written or derived from the spec's
// directory — is checked here as it will be rendered (templates quote it;
// what a quote cannot carry, such as `$`, a quote character or a control
// character, is refused).

import (
	"path/filepath"
	"strings"
	"time"
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
	// after an error, a timeout, a 502 or a 503 (default 2, as ingress-nginx
	// tries 3 times: two replicas that die at once cost no request; 0: none).
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
	DefaultRetries        = 2
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
