// The compose file's top level: volumes, networks, secrets and configs, and what one replica must hold alone.

package compose

import (
	"strings"

	"github.com/baton-orchestrator/baton/internal/spec"
)

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
