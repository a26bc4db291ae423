package docker

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// TestUsageOf: memory in use leaves out the reclaimable page cache, under
// either cgroup version's name for it, and never goes below zero.
func TestUsageOf(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	stats := func(usage uint64, st map[string]uint64) container.StatsResponse {
		var s container.StatsResponse
		s.Read = at
		s.CPUStats.CPUUsage.TotalUsage = 42e9
		s.MemoryStats.Usage, s.MemoryStats.Stats, s.MemoryStats.Limit = usage, st, 256<<20
		return s
	}
	cases := []struct {
		name string
		in   container.StatsResponse
		mem  uint64
	}{
		{"cgroup v1: usage minus cache", stats(100<<20, map[string]uint64{"cache": 30 << 20, "inactive_file": 10 << 20}), 70 << 20},
		{"cgroup v2: usage minus inactive_file", stats(100<<20, map[string]uint64{"inactive_file": 10 << 20}), 90 << 20},
		{"a cache larger than the usage is not subtracted", stats(10<<20, map[string]uint64{"cache": 30 << 20}), 10 << 20},
		{"no memory.stat at all: the usage", stats(100<<20, nil), 100 << 20},
		{"an empty reading: zero", container.StatsResponse{}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := usageOf(c.in)
			if u.MemBytes != c.mem {
				t.Errorf("memory %d MiB, want %d MiB", u.MemBytes>>20, c.mem>>20)
			}
		})
	}
	u := usageOf(stats(1, nil))
	if u.CPUNanos != 42e9 || u.MemLimit != 256<<20 || !u.At.Equal(at) || u.At.Location() != time.UTC {
		t.Errorf("%+v", u)
	}
	if u := usageOf(container.StatsResponse{}); !u.At.IsZero() {
		t.Errorf("a reading without a time got one: %s", u.At)
	}
}
