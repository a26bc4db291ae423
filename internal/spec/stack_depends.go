// depends_on and exclusive resources: the order a stack starts in and what one replica may hold alone.

package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Order is the app's update order, start-first unless stop-first is set.
func (a *App) Order() string {
	if a.Update.Order == "" {
		return StartFirst
	}
	return a.Update.Order
}

// Exclusive says why only one container of the app may run at a time
// (a fixed host port, an exclusive volume), or "" when several may.
func (s *Spec) Exclusive(a *App) string {
	for _, m := range s.MountsOf(a) {
		if m.Type == "volume" && !m.ReadOnly {
			if v, ok := s.Volumes[m.Volume]; ok && (v == nil || !v.Shared) {
				return fmt.Sprintf("volume %q is exclusive (one writer at a time; shared: true allows more)", m.Volume)
			}
		}
	}
	for _, p := range s.PortsOf(a) {
		return fmt.Sprintf("host port %d is fixed", p.Host)
	}
	return ""
}

// validateExclusive refuses what cannot work with one container at a
// time: start-first (the new container starts while the old one runs) and
// more than one replica.
func (d *decoder) validateExclusive(s *Spec, a *App, p string) {
	why := s.Exclusive(a)
	if why == "" {
		return
	}
	if a.Update.Order != StopFirst {
		d.problem(p+".update.order", "%s, so the old and the new container cannot run at once as start-first needs: set update: {order: stop-first}", why)
	}
	if a.Replicas != nil && *a.Replicas > 1 {
		d.problem(p+".replicas", "%s, so only one container can run: replicas must be 0 or 1, got %d", why, *a.Replicas)
	}
	if a.Autoscale != nil && a.Autoscale.Max > 1 {
		d.problem(p+".autoscale.max", "%s, so only one container can run: autoscale max must be 1", why)
	}
}

// validateDependsOn checks depends_on: known apps, known conditions, no
// cycles.
func (d *decoder) validateDependsOn(s *Spec) {
	byName := map[string]*App{} // not s.App: an empty entry is nil here
	for _, a := range s.Apps {
		if a != nil {
			byName[a.Name] = a
		}
	}
	for i, a := range s.Apps {
		if a == nil {
			continue
		}
		for dep, c := range a.DependsOn {
			f := fmt.Sprintf("apps[%d].depends_on.%s", i, dep)
			switch {
			case dep == a.Name:
				d.problem(f, "an app cannot depend on itself")
			case byName[dep] == nil:
				d.problem(f, "no app named %q in the spec", dep)
			}
			if c != nil && c.Condition != "" && !oneOf(c.Condition, conditions) {
				d.problem(f+".condition", "must be one of %s, got %q", strings.Join(conditions, ", "), c.Condition)
			}
		}
	}
	// Cycles: depth-first search in name order, reported once per cycle.
	state := map[string]int{} // 0 new, 1 on the path, 2 done
	var path []string
	reported := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		a := byName[name]
		if a == nil || state[name] == 2 {
			return
		}
		if state[name] == 1 {
			start := 0
			for k, n := range path {
				if n == name {
					start = k
				}
			}
			cycle := append(append([]string{}, path[start:]...), name)
			if !reported[cycle[0]] {
				for _, n := range cycle[:len(cycle)-1] {
					reported[n] = true
				}
				idx := 0
				for k, x := range s.Apps {
					if x != nil && x.Name == cycle[0] {
						idx = k
					}
				}
				d.problem(fmt.Sprintf("apps[%d].depends_on", idx), "dependency cycle: %s", strings.Join(cycle, " → "))
			}
			return
		}
		state[name] = 1
		path = append(path, name)
		deps := make([]string, 0, len(a.DependsOn))
		for dep := range a.DependsOn {
			deps = append(deps, dep)
		}
		sort.Strings(deps)
		for _, dep := range deps {
			if dep != name {
				visit(dep)
			}
		}
		path = path[:len(path)-1]
		state[name] = 2
	}
	for _, a := range s.Apps {
		if a != nil {
			visit(a.Name)
		}
	}
}

// Dep is one resolved depends_on entry.
type Dep struct {
	App       string
	Condition string // ready or started
}

// Dependencies lists the app's depends_on entries, sorted by app, with
// their conditions defaulted.
func (a *App) Dependencies() []Dep {
	out := make([]Dep, 0, len(a.DependsOn))
	for dep, c := range a.DependsOn {
		cond := ConditionReady
		if c != nil && c.Condition != "" {
			cond = c.Condition
		}
		out = append(out, Dep{dep, cond})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out
}
