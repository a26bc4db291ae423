// Checks of what the decoder cannot see: gc, mods, hooks and the defaults section.

package spec

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
)

func (d *decoder) validateGC(g *GC) {
	for i, sel := range g.Exclude {
		k, _, _ := strings.Cut(sel, "=")
		if !labelRe.MatchString(k) {
			d.problem(fmt.Sprintf("gc.exclude[%d]", i), "invalid label selector %q: want key or key=value", sel)
		}
	}
	if g.KeepImages != nil && (*g.KeepImages < 0 || *g.KeepImages > 1000) {
		d.problem("gc.keep_images", "must be between 0 and 1000, got %d", *g.KeepImages)
	}
	if g.Volumes != "" && !oneOf(g.Volumes, []string{"anonymous", "all", "none"}) {
		d.problem("gc.volumes", "must be one of anonymous, all, none, got %q", g.Volumes)
	}
	if g.Scope != "" && !oneOf(g.Scope, gcScopes) {
		d.problem("gc.scope", "must be one of %s, got %q", strings.Join(gcScopes, ", "), g.Scope)
	}
}

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

// CheckDest enforces that a mods destination stays inside the cache
// directory: relative, clean, no "..", no NUL or newline, and not a name
// baton uses for its temporary files.
func CheckDest(dest string) error {
	switch {
	case dest == "":
		return fmt.Errorf("missing: the file's path inside the cache directory")
	case filepath.IsAbs(dest) || strings.HasPrefix(dest, "/"):
		return fmt.Errorf("must be relative to the cache directory, got %q", dest)
	case strings.ContainsAny(dest, "\x00\n\\") || checkFilePath(dest) != nil:
		return fmt.Errorf("invalid characters in %q", dest)
	case filepath.Clean(dest) != dest:
		return fmt.Errorf("not a clean path: %q (clean: %q)", dest, filepath.Clean(dest))
	}
	for _, part := range strings.Split(dest, "/") {
		if part == ".." || part == "." {
			return fmt.Errorf("must not leave the cache directory: %q", dest)
		}
		if strings.HasPrefix(part, ".baton-") {
			return fmt.Errorf("names starting with .baton- are baton's temporary files: %q", dest)
		}
	}
	return nil
}

func (d *decoder) validateMods(m *Mods) {
	if m.Dir == "" && len(m.Files) > 0 {
		d.problem("mods.dir", "missing: the cache directory")
	} else if err := checkFilePath(m.Dir); err != nil {
		d.problem("mods.dir", "invalid directory %q: %s", m.Dir, err.Error())
	}
	if m.Parallel < 0 || m.Parallel > 64 {
		d.problem("mods.parallel", "must be between 1 and 64, got %d", m.Parallel)
	}
	if m.Retries < 0 || m.Retries > 10 {
		d.problem("mods.retries", "must be between 0 and 10, got %d", m.Retries)
	}
	seen := map[string]int{}
	for i, f := range m.Files {
		p := fmt.Sprintf("mods.files[%d]", i)
		if f == nil {
			d.problem(p, "empty entry")
			continue
		}
		u, err := url.Parse(f.URL)
		if f.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.problem(p+".url", "not an http(s) URL: %q", f.URL)
		}
		if err := CheckDest(f.Dest); err != nil {
			d.problem(p+".dest", "%s", err.Error())
		} else if j, dup := seen[f.Dest]; dup {
			d.problem(p+".dest", "duplicate destination %q (also mods.files[%d])", f.Dest, j)
		} else {
			seen[f.Dest] = i
		}
		if f.SHA256 != "" && !sha256Re.MatchString(f.SHA256) {
			d.problem(p+".sha256", "want 64 lowercase hex digits, got %q", f.SHA256)
		}
	}
	// A destination named like a temporary file of another would be
	// removed as a killed download's leftover.
	for dest, i := range seen {
		for other, j := range seen {
			if dest != other && filepath.Dir(dest) == filepath.Dir(other) && atomicfile.IsTemp(filepath.Base(dest), filepath.Base(other)) {
				d.problem(fmt.Sprintf("mods.files[%d].dest", i), "%q is named like a temporary file of %q (mods.files[%d]) and would be removed as a leftover", dest, other, j)
			}
		}
	}
}

// EventTypes are the event types hooks can filter on.
var EventTypes = []string{"start", "replace", "remove", "unhealthy", "recovered", "hold", "crashloop", "download", "prune", "label",
	"create-service", "roll-service", "scale-service", "remove-service", "rebalance-move", "rebalance-unpin", "balancer",
	"waiting", "remove-network", "paused", "panic", "down",
	// swarm (plan/swarmapps.go, labels.go, rebalance.go)
	"place-service", "remove-secret", "remove-config", "move-failed", "quorum", "join", "network-in-use",
	"anchor", "dependent", "label-kept", "pressure", "moving", "usage"}

func (d *decoder) validateHook(h *Hook, p string) {
	if h == nil {
		d.problem(p, "empty hook")
		return
	}
	switch {
	case h.URL == "" && len(h.Command) == 0:
		d.problem(p, "a hook needs a url or a command")
	case h.URL != "" && len(h.Command) > 0:
		d.problem(p, "a hook has a url or a command, not both")
	}
	if h.URL != "" {
		u, err := url.Parse(h.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.problem(p+".url", "not an http(s) URL: %q", h.URL)
		}
	}
	if h.Format != "" && h.Format != "json" && h.Format != "slack" {
		d.problem(p+".format", "must be json or slack, got %q", h.Format)
	}
	for i, a := range h.Command {
		if a == "" || strings.ContainsRune(a, 0) {
			d.problem(fmt.Sprintf("%s.command[%d]", p, i), "empty or NUL argument")
		}
	}
	for i, e := range h.Events {
		if !oneOf(e, EventTypes) {
			d.problem(fmt.Sprintf("%s.events[%d]", p, i), "unknown event type %q (known: %s)", e, strings.Join(EventTypes, ", "))
		}
	}
	if h.Timeout.D > time.Minute {
		d.problem(p+".timeout", "at most 1m, got %s", h.Timeout.D)
	}
}

// validateDefaults refuses a field written as 0 where 0 means nothing: the
// defaults are for absent fields only (an explicit mods.retries: 0 or
// interval: 0s is kept), so a 0 that cannot work must be a problem, not a
// silent default.
func (d *decoder) validateDefaults(s *Spec) {
	positive := func(field string, zero bool, what string) {
		if d.written[field] && zero {
			d.problem(field, "must be %s; omit the field for the default", what)
		}
	}
	if m := s.Mods; m != nil {
		positive("mods.max_size", m.MaxSize.Bytes == 0, "more than 0")
		positive("mods.parallel", m.Parallel == 0, "between 1 and 64")
		positive("mods.timeout", m.Timeout.D == 0, "more than 0")
	}
	for i, h := range s.Hooks {
		if h != nil {
			positive(fmt.Sprintf("hooks[%d].timeout", i), h.Timeout.D == 0, "more than 0")
		}
	}
	for i, a := range s.Apps {
		if a == nil {
			continue
		}
		p := fmt.Sprintf("apps[%d].health", i)
		h := a.Health
		positive(p+".ready_timeout", h.ReadyTimeout.D == 0, "more than 0")
		positive(p+".failure_threshold", h.FailureThreshold == 0, "between 1 and 100")
		positive(p+".success_threshold", h.SuccessThreshold == 0, "between 1 and 100")
		positive(p+".crashloop_attempts", h.CrashloopAttempts == 0, "between 1 and 1000")
		positive(p+".crashloop_window", h.CrashloopWindow.D == 0, "more than 0")
		if h.BackoffMax.Set && !h.Backoff.Set && h.BackoffMax.D < DefaultBackoff {
			d.problem(p+".backoff_max", "must not be less than backoff (%s, the default)", DefaultBackoff)
		}
		as := a.Autoscale
		if as == nil {
			continue
		}
		ap := fmt.Sprintf("apps[%d].autoscale", i)
		if as.External != nil {
			positive(ap+".external.timeout", as.External.Timeout.D == 0, "more than 0")
		}
		for _, r := range []struct {
			name string
			rl   RateLimit
		}{{"scale_up", as.ScaleUp}, {"scale_down", as.ScaleDown}} {
			f := ap + "." + r.name
			if (d.written[f+".max_step"] || d.written[f+".max_percent"]) && r.rl.MaxStep == 0 && r.rl.MaxPercent == 0 {
				d.problem(f, "max_step and max_percent are both 0: the app could never scale this way; omit both for the default")
			}
		}
	}
}
