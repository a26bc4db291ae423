// Command probefloor is the floor of a heal pass's probing, for
// scripts/bench-pass.sh: the fewest seconds a minimal Go client takes to
// GET /healthz once from every address given on stdin (IP:port, one per
// line), 256 at once, fresh connections, as heal's prober does. It prints
// the seconds; a failed GET makes it exit 1.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	var addrs []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() != "" {
			addrs = append(addrs, sc.Text())
		}
	}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, DialContext: (&net.Dialer{}).DialContext}}
	start := time.Now()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, a := range addrs {
		wg.Add(1)
		sem <- struct{}{}
		go func(a string) {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := c.Get("http://" + a + "/healthz")
			if err != nil {
				failed.Add(1)
				return
			}
			resp.Body.Close()
		}(a)
	}
	wg.Wait()
	fmt.Printf("%.4f\n", time.Since(start).Seconds())
	if n := failed.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "probefloor: %d of %d probes failed\n", n, len(addrs))
		os.Exit(1)
	}
}
