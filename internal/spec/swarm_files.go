// Swarm's top-level secrets and configs: read at load, named by their content.

package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// SwarmFile is a Swarm secret or config of the stack (top-level secrets
// and configs): its content comes from a file, read when the spec loads.
// Swarm's secrets and configs never change, so baton names each version
// by its content (<project>-<key>-<sha256 prefix>): a changed file is a
// new object, the services that mount it roll to it start-first, and the
// old one is removed once nothing uses it.
type SwarmFile struct {
	// File holds the content (relative to the spec's directory).
	File string `yaml:"file"`
	// External: it exists in Swarm already (docker secret create, docker
	// config create); baton neither creates nor removes it.
	External bool `yaml:"external"`
	// Name is an external one's name in Swarm (default: the key).
	Name string `yaml:"name"`
	data []byte
}

// MaxSwarmFile is the largest secret or config Swarm takes (500 KiB).
const MaxSwarmFile = 500 << 10

// FileRef is one secret or config an app mounts, resolved.
type FileRef struct {
	Key, Name, Target string
	External          bool
	Data              []byte
}

// SwarmFileName is the Docker name of a secret or config of the spec.
func (s *Spec) SwarmFileName(f *SwarmFile, key string) string {
	switch {
	case f == nil:
		return key
	case f.External && f.Name != "":
		return f.Name
	case f.External:
		return key
	}
	sum := sha256.Sum256(f.data)
	return s.Project + "-" + key + "-" + hex.EncodeToString(sum[:5])
}

// SecretsOf and ConfigsOf resolve the secrets and configs a swarm app
// mounts: a secret at /run/secrets/<target> (default: the key), a config
// at its target path (default: /<key>).
func (s *Spec) SecretsOf(a *App) []FileRef { return s.refsOf(a.Secrets, s.Secrets, "") }

func (s *Spec) ConfigsOf(a *App) []FileRef { return s.refsOf(a.Configs, s.Configs, "/") }

func (s *Spec) refsOf(entries []string, files map[string]*SwarmFile, prefix string) []FileRef {
	var out []FileRef
	for _, e := range entries {
		key, target, _ := strings.Cut(e, ":")
		if target == "" {
			target = prefix + key
		}
		f := files[key]
		r := FileRef{Key: key, Name: s.SwarmFileName(f, key), Target: target}
		if f != nil {
			r.External, r.Data = f.External, f.data
		}
		out = append(out, r)
	}
	return out
}

var secretTargetRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validateSwarmFiles reads the secrets' and configs' files and checks the
// swarm apps' references, networks included.
func (d *decoder) validateSwarmFiles(s *Spec, dir string) {
	for _, set := range []struct {
		name  string
		files map[string]*SwarmFile
	}{{"secrets", s.Secrets}, {"configs", s.Configs}} {
		for key, f := range set.files {
			p := set.name + "." + key
			if !resourceRe.MatchString(key) {
				d.problem(p, "invalid key %q: letters, digits and _.-, starting with a letter or digit", key)
			}
			if f == nil {
				d.problem(p, "missing: give a file, or external: true")
				continue
			}
			if f.Name != "" && !f.External {
				d.problem(p+".name", "only for an external one: baton names its own by their content")
			}
			if f.Name != "" && !resourceRe.MatchString(f.Name) {
				d.problem(p+".name", "invalid name %q", f.Name)
			}
			switch {
			case f.External && f.File != "":
				d.problem(p+".file", "an external one exists in Swarm already: no file")
			case !f.External && f.File == "":
				d.problem(p+".file", "missing: the file that holds the content")
			case !f.External:
				path := f.File
				if !filepath.IsAbs(path) {
					path = filepath.Join(dir, path)
				}
				var err error
				if f.data, err = readInput(path, MaxSwarmFile); err != nil {
					d.problem(p+".file", "%v", err)
				}
			}
		}
	}
	swarmNets, localNets := map[string]string{}, map[string]string{}
	for i, a := range s.Apps {
		if a == nil {
			continue
		}
		p := fmt.Sprintf("apps[%d]", i)
		if !a.OnSwarm() {
			for _, n := range s.NetworksOf(a) {
				localNets[n] = p
			}
			if len(a.Secrets) > 0 {
				d.problem(p+".secrets", "only for an app with engine: swarm")
			}
			if len(a.Configs) > 0 {
				d.problem(p+".configs", "only for an app with engine: swarm")
			}
			continue
		}
		h := &swarmHash{}
		for j, n := range a.Networks {
			f := fmt.Sprintf("%s.networks[%d]", p, j)
			net, ok := s.Networks[n]
			switch {
			case !ok:
				d.problem(f, "no network %q in the spec's networks", n)
			case slices.Contains(a.Networks[:j], n):
				d.problem(f, "network %q is listed twice", n)
			case net != nil && net.Driver != "" && net.Driver != "overlay":
				d.problem(f, "network %q has driver %s: a swarm app's tasks join overlay networks", n, net.Driver)
			}
			swarmNets[n] = f
			h.Networks = append(h.Networks, s.NetworkName(n))
		}
		for _, set := range []struct {
			field string
			list  []string
			files map[string]*SwarmFile
			abs   bool
			out   *[]string
		}{{"secrets", a.Secrets, s.Secrets, false, &h.Secrets}, {"configs", a.Configs, s.Configs, true, &h.Configs}} {
			targets := map[string]bool{}
			for j, e := range set.list {
				f := fmt.Sprintf("%s.%s[%d]", p, set.field, j)
				key, target, hasTarget := strings.Cut(e, ":")
				if _, ok := set.files[key]; !ok {
					d.problem(f, "no %s %q in the spec's %s", strings.TrimSuffix(set.field, "s"), key, set.field)
					continue
				}
				switch {
				case hasTarget && set.abs && (!strings.HasPrefix(target, "/") || filepath.Clean(target) != target || target == "/"):
					d.problem(f, "invalid target %q: an absolute, clean path other than /", target)
				case hasTarget && !set.abs && !secretTargetRe.MatchString(target):
					d.problem(f, "invalid target %q: a file name under /run/secrets", target)
				}
				if target == "" {
					target = key
				}
				if targets[target] {
					d.problem(f, "target %q is mounted twice", target)
				}
				targets[target] = true
				*set.out = append(*set.out, s.SwarmFileName(set.files[key], key)+":"+target)
			}
		}
		if len(h.Networks)+len(h.Secrets)+len(h.Configs) > 0 {
			a.swarm = h
		}
	}
	for n, f := range swarmNets {
		if q, both := localNets[n]; both {
			d.problem(f, "network %q is joined by %s too, an app of the local engine: a swarm app's network is an overlay network of the swarm; give each its own", n, q)
		}
	}
}
