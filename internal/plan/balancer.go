package plan

import (
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// LBView is the data a balancer template renders. Every string in it comes
// from validated spec fields or from addresses Docker reported, so a
// template cannot be made to emit a directive it did not write; file paths
// (which may hold spaces or `;`) are written through the templates' quote
// functions.
type LBView struct {
	Project string
	Kind    string // nginx or haproxy
	// Names is the prefix of the names the config defines in the
	// balancer's global namespace (upstreams, backends, the log format,
	// the TLS session cache): "baton_<project>_" with '-' as '_', so two
	// projects' configs can share one nginx.
	Names  string
	Listen string
	// ListenTLS is the HTTPS address, or "" for none; RedirectPort is
	// ":PORT" for redirects to it, or "" when its port is 443.
	ListenTLS    string
	RedirectPort string
	// DefaultServer: this config holds its addresses' default server.
	DefaultServer bool
	// AccessLog is the file nginx logs requests to in baton's format
	// (metrics.Format), or "" for none.
	AccessLog string
	// ClientTimeout is the longest read or send timeout of the apps, for
	// a balancer that sets client timeouts per listener (HAProxy).
	ClientTimeout string
	Upstreams     []Upstream
	Servers       []Server
	// TLSCerts are the servers' certificate files, each once, the default
	// server's first, for a balancer that lists them on its HTTPS listener
	// and picks one by SNI (HAProxy); StrictSNI is set when no default
	// server has one, so a handshake for an unknown name is refused.
	TLSCerts  []string
	StrictSNI bool
	// Files are the files the config references whose contents the
	// balancer loads (certificates, keys), absolute and sorted: a change
	// of their contents is a change of the config (tested and reloaded).
	Files []string
}

// Upstream is one app's pool. Servers is empty when no replica is ready:
// templates answer 503 for such an app instead of rendering an empty pool
// (which nginx rejects).
type Upstream struct {
	Name      string // the pool's name in the config: "baton_<project>_<app>"
	App       string
	Method    string // least_conn, round_robin or ip_hash
	Keepalive int
	Servers   []string // host:port, sorted
	// Timeouts in the balancer's syntax ("2s", "1500ms").
	ConnectTimeout, ReadTimeout, SendTimeout string
	// MaxBody is the largest request body in bytes, 0 for no limit.
	MaxBody int64
	// Tries is 1 + the retries to other replicas for idempotent requests.
	Tries int
	// MaxFails failed attempts within FailTimeout take a server out for
	// FailTimeout; 0 turns passive failure detection off.
	MaxFails    int
	FailTimeout string
}

// Server is one virtual host. Host "" is the catch-all default server.
type Server struct {
	Host string
	// Wildcard is set for "*.example.com" hosts; Suffix is then
	// ".example.com".
	Wildcard bool
	Suffix   string
	// Default: the server for requests no other server names.
	Default   bool
	TLS       *TLS
	Locations []Location
}

// TLS is a server's certificate, its plain-HTTP redirect and HSTS.
type TLS struct {
	Cert string // absolute path
	// Key is the absolute path of the key; for nginx it is Cert when the
	// key is in the certificate file, for HAProxy "" (HAProxy finds it in
	// Cert or in Cert+".key").
	Key      string
	Redirect bool
	HSTS     int64 // seconds; 0 for none
}

// Location routes a path prefix to an upstream.
type Location struct {
	Path     string
	Upstream *Upstream
}

// InRotation decides which containers the balancer routes to: running,
// ready, of an app in the spec that has an lb section, with an address.
// An outdated container still serves until its replacement is ready.
func InRotation(s *spec.Spec, observed []fleet.Container, ready map[string]bool) []fleet.Container {
	var out []fleet.Container
	for _, c := range observed {
		a := s.App(c.App)
		if a == nil || a.LB == nil || !c.Running() || c.Retiring() || c.Addr == "" || !ready[c.ID] {
			continue
		}
		out = append(out, c)
	}
	return out
}

// NamePrefix is the prefix of the names a project's config defines.
func NamePrefix(project string) string {
	return "baton_" + strings.ReplaceAll(project, "-", "_") + "_"
}

// Balancer builds the view of the balancer config for the given members.
// The result is deterministic: the same members in any order render the
// same bytes.
func Balancer(s *spec.Spec, members []fleet.Container) LBView {
	v := LBView{Project: s.Project, Kind: spec.KindNginx, Names: NamePrefix(s.Project), DefaultServer: true}
	if n := s.Nginx; n != nil {
		v.Kind, v.Listen, v.ListenTLS = n.Kind, n.Listen, n.ListenTLS
		v.DefaultServer = n.IsDefaultServer()
		v.AccessLog = s.Resolve(n.AccessLog)
		if _, port, err := net.SplitHostPort(n.ListenTLS); err == nil && port != "443" {
			v.RedirectPort = ":" + port
		}
	}
	addrs := map[string][]string{}
	for _, c := range members {
		if c.Addr != "" {
			addrs[c.App] = append(addrs[c.App], c.Addr)
		}
	}
	clientTimeout := 30 * time.Second
	for _, a := range s.Apps {
		if a.LB == nil {
			continue
		}
		servers := addrs[a.Name]
		sort.Strings(servers)
		servers = dedupe(servers)
		v.Upstreams = append(v.Upstreams, upstreamOf(v.Names, a, servers))
		clientTimeout = max(clientTimeout, a.LB.ReadTimeout.D, a.LB.SendTimeout.D)
	}
	v.ClientTimeout = Millis(clientTimeout)
	sort.Slice(v.Upstreams, func(i, j int) bool { return v.Upstreams[i].App < v.Upstreams[j].App })

	byHost := map[string]*Server{}
	if v.DefaultServer {
		byHost[""] = &Server{Default: true}
	}
	files := map[string]bool{}
	for i := range v.Upstreams {
		u := &v.Upstreams[i]
		a := s.App(u.App)
		for hi, h := range a.LB.HostNames() {
			srv := byHost[h]
			if srv == nil {
				srv = &Server{Host: h}
				if rest, ok := strings.CutPrefix(h, "*"); ok {
					srv.Wildcard, srv.Suffix = true, rest
				}
				byHost[h] = srv
			}
			if a.LB.Default && hi == 0 && v.DefaultServer {
				srv.Default = true
				delete(byHost, "") // validate refused host-less apps here
			}
			if a.LB.TLS != nil && srv.TLS == nil {
				srv.TLS = tlsOf(s, v.Kind, a.LB, h, files)
			}
			srv.Locations = append(srv.Locations, Location{Path: a.LB.Path, Upstream: u})
		}
	}
	for _, srv := range byHost {
		// Longest prefix first reads best, and HAProxy takes the first
		// matching rule; nginx picks the longest match anyway.
		sort.Slice(srv.Locations, func(i, j int) bool {
			pi, pj := srv.Locations[i].Path, srv.Locations[j].Path
			if len(pi) != len(pj) {
				return len(pi) > len(pj)
			}
			return pi < pj
		})
		v.Servers = append(v.Servers, *srv)
	}
	// The catch-all first, then exact hosts, then wildcards with the
	// longest suffix first: the order HAProxy's first-match rules need.
	sort.Slice(v.Servers, func(i, j int) bool {
		a, b := v.Servers[i], v.Servers[j]
		if (a.Host == "") != (b.Host == "") {
			return a.Host == ""
		}
		if a.Wildcard != b.Wildcard {
			return !a.Wildcard
		}
		if a.Wildcard && len(a.Suffix) != len(b.Suffix) {
			return len(a.Suffix) > len(b.Suffix)
		}
		return a.Host < b.Host
	})
	seen := map[string]bool{}
	v.StrictSNI = true
	for _, first := range []bool{true, false} {
		for _, srv := range v.Servers {
			if srv.TLS == nil || srv.Default != first || seen[srv.TLS.Cert] {
				continue
			}
			seen[srv.TLS.Cert] = true
			v.TLSCerts = append(v.TLSCerts, srv.TLS.Cert)
			if srv.Default {
				v.StrictSNI = false
			}
		}
	}
	for f := range files {
		v.Files = append(v.Files, f)
	}
	sort.Strings(v.Files)
	return v
}

func upstreamOf(names string, a *spec.App, servers []string) Upstream {
	lb := a.LB
	u := Upstream{
		Name: names + a.Name, App: a.Name, Method: lb.Method, Keepalive: lb.Keepalive, Servers: servers,
		ConnectTimeout: Millis(lb.ConnectTimeout.D), ReadTimeout: Millis(lb.ReadTimeout.D), SendTimeout: Millis(lb.SendTimeout.D),
		Tries: 1 + spec.DefaultRetries, MaxFails: spec.DefaultMaxFails, FailTimeout: Millis(lb.FailTimeout.D),
		MaxBody: spec.DefaultMaxBody,
	}
	if lb.Retries != nil {
		u.Tries = 1 + *lb.Retries
	}
	if lb.MaxFails != nil {
		u.MaxFails = *lb.MaxFails
	}
	if lb.MaxBody != nil {
		u.MaxBody = lb.MaxBody.Bytes
	}
	return u
}

func tlsOf(s *spec.Spec, kind string, lb *spec.LB, host string, files map[string]bool) *TLS {
	cert, key := s.TLSFiles(lb, host)
	t := &TLS{Cert: cert, Key: key, Redirect: lb.TLS.Redirect == nil || *lb.TLS.Redirect, HSTS: int64(lb.TLS.HSTS.D / time.Second)}
	files[cert] = true
	switch {
	case kind == spec.KindHAProxy:
		files[cert+".key"] = true // read when present
	case key == "":
		t.Key = cert
	default:
		files[key] = true
	}
	return t
}

// Millis writes a duration as nginx and HAProxy read it: whole seconds as
// "Ns", else whole milliseconds as "Nms".
func Millis(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
}

// HasRoot reports whether a location claims "/", so templates add a 404
// catch-all only when none does.
func (s Server) HasRoot() bool {
	for _, l := range s.Locations {
		if l.Path == "/" {
			return true
		}
	}
	return false
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
