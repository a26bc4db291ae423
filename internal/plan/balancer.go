package plan

import (
	"sort"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// LBView is the data a balancer template renders. Every string in it comes
// from validated spec fields or from addresses Docker reported, so a
// template cannot be made to emit a directive it did not write.
type LBView struct {
	Project string
	Listen  string
	// AccessLog is the file nginx logs requests to in baton's format
	// (metrics.Format), or "" for none.
	AccessLog string
	Upstreams []Upstream
	Servers   []Server
}

// Upstream is one app's pool. Servers is empty when no replica is ready:
// templates answer 503 for such an app instead of rendering an empty pool
// (which nginx rejects).
type Upstream struct {
	Name      string // the pool's name in the config: "baton_<app>"
	App       string
	Method    string // least_conn, round_robin or ip_hash
	Keepalive int
	Servers   []string // host:port, sorted
}

// Server is one virtual host. Host "" is the default server.
type Server struct {
	Host      string
	Default   bool
	Locations []Location
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

// Balancer builds the view of the balancer config for the given members.
// The result is deterministic: the same members in any order render the
// same bytes.
func Balancer(s *spec.Spec, members []fleet.Container) LBView {
	v := LBView{Project: s.Project}
	if s.Nginx != nil {
		v.Listen = s.Nginx.Listen
		v.AccessLog = s.Resolve(s.Nginx.AccessLog)
	}
	addrs := map[string][]string{}
	for _, c := range members {
		if c.Addr != "" {
			addrs[c.App] = append(addrs[c.App], c.Addr)
		}
	}
	byHost := map[string]*Server{"": {Host: "", Default: true}}
	for _, a := range s.Apps {
		if a.LB == nil {
			continue
		}
		servers := addrs[a.Name]
		sort.Strings(servers)
		servers = dedupe(servers)
		v.Upstreams = append(v.Upstreams, Upstream{
			Name: "baton_" + a.Name, App: a.Name, Method: a.LB.Method,
			Keepalive: a.LB.Keepalive, Servers: servers,
		})
	}
	sort.Slice(v.Upstreams, func(i, j int) bool { return v.Upstreams[i].App < v.Upstreams[j].App })
	for i := range v.Upstreams {
		u := &v.Upstreams[i]
		a := s.App(u.App)
		srv := byHost[a.LB.Host]
		if srv == nil {
			srv = &Server{Host: a.LB.Host}
			byHost[a.LB.Host] = srv
		}
		srv.Locations = append(srv.Locations, Location{Path: a.LB.Path, Upstream: u})
	}
	hosts := make([]string, 0, len(byHost))
	for h := range byHost {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts) // "" (the default server) sorts first
	for _, h := range hosts {
		srv := byHost[h]
		// Longest prefix first reads best; nginx picks the longest match anyway.
		sort.Slice(srv.Locations, func(i, j int) bool {
			pi, pj := srv.Locations[i].Path, srv.Locations[j].Path
			if len(pi) != len(pj) {
				return len(pi) > len(pj)
			}
			return pi < pj
		})
		v.Servers = append(v.Servers, *srv)
	}
	return v
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
