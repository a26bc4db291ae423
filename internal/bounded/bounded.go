// Package bounded runs work concurrently with a bound: probes, stats,
// inspects and downloads all fan out through Each.
package bounded

import "sync"

// Each calls f(0), …, f(n-1), at most limit at once (at least one), and
// returns when all have returned. f must do its own locking.
func Each(n, limit int, f func(i int)) {
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}(i)
	}
	wg.Wait()
}
