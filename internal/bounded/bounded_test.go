package bounded

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEachCallsEveryIndexOnceWithinTheBound(t *testing.T) {
	for _, limit := range []int{-1, 0, 1, 3, 100} {
		var running, peak atomic.Int32
		var mu sync.Mutex
		seen := map[int]int{}
		Each(20, limit, func(i int) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			mu.Lock()
			seen[i]++
			mu.Unlock()
		})
		want := max(limit, 1)
		if p := int(peak.Load()); p > want {
			t.Errorf("limit %d: %d ran at once", limit, p)
		}
		if len(seen) != 20 {
			t.Errorf("limit %d: %d distinct indexes called, want 20", limit, len(seen))
		}
		for i, n := range seen {
			if n != 1 {
				t.Errorf("limit %d: index %d called %d times", limit, i, n)
			}
		}
	}
}
