package state

// This file enforces that a decoded state is safe for every method and
// every pass: whatever JSON decodes, no nil entry, negative count or
// negative position reaches them.
//
// The rule, documented in docs/design.md: a null entry of a map ("web":
// null) means "nothing remembered" and is dropped, as if absent — baton
// never writes one, and forgetting it loses nothing a pass cannot
// recompute. A negative count, size, offset or replica number is refused:
// the file is then invalid, an error naming it and the field, and never
// overwritten, like a corrupt file.

import (
	"fmt"
	"sort"
)

// normalize drops null map entries, makes the maps every pass writes
// non-nil, and returns an error naming the first invalid field.
func (s *State) normalize() error {
	dropNil(s.Apps)
	dropNil(s.Balancer)
	dropNil(s.Probes)
	dropNil(s.Mods)
	dropNil(s.Incidents)
	for _, a := range s.Apps {
		if a.Paused != nil && a.Paused.Hash == "" {
			a.Paused = nil
		}
	}
	if s.Apps == nil {
		s.Apps = map[string]*App{}
	}
	if s.Balancer == nil {
		s.Balancer = map[string]*Balancer{}
	}
	if s.Probes == nil {
		s.Probes = map[string]*Probe{}
	}
	return s.validate()
}

func dropNil[T any](m map[string]*T) {
	for k, v := range m {
		if v == nil {
			delete(m, k)
		}
	}
}

// validate returns an error naming the first (in key order) field whose
// value no pass could have written.
func (s *State) validate() error {
	negative := func(field string, v int64) error {
		if v < 0 {
			return fmt.Errorf("%s is %d, must not be negative", field, v)
		}
		return nil
	}
	for _, name := range sorted(s.Apps) {
		a := s.Apps[name]
		if as := a.Autoscale; as != nil {
			if err := negative(fmt.Sprintf("apps[%q].autoscale.desired", name), int64(as.Desired)); err != nil {
				return err
			}
			for i, r := range as.Recs {
				if err := negative(fmt.Sprintf("apps[%q].autoscale.recommendations[%d].replicas", name, i), int64(r.Replicas)); err != nil {
					return err
				}
			}
		}
	}
	for _, id := range sorted(s.Probes) {
		p := s.Probes[id]
		if err := negative(fmt.Sprintf("probes[%q].failures", id), int64(p.Failures)); err != nil {
			return err
		}
		if err := negative(fmt.Sprintf("probes[%q].successes", id), int64(p.Successes)); err != nil {
			return err
		}
	}
	for _, dest := range sorted(s.Mods) {
		if err := negative(fmt.Sprintf("mods[%q].size", dest), s.Mods[dest].Size); err != nil {
			return err
		}
	}
	for _, cmd := range sorted(s.Runs) {
		if err := negative(fmt.Sprintf("runs[%q]", cmd), int64(s.Runs[cmd])); err != nil {
			return err
		}
	}
	if s.AccessLog != nil {
		if err := negative("access_log.offset", s.AccessLog.Offset); err != nil {
			return err
		}
	}
	return nil
}

func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
