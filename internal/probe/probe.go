// Package probe checks whether a replica answers: an HTTP GET or a TCP
// connect to its address, with a timeout. Many probes run concurrently with
// a bound, so a pass over many replicas takes about one timeout.
package probe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Check is one probe definition.
type Check struct {
	Type     string // http, tcp or none
	Path     string
	Statuses []int // accepted HTTP statuses; empty means 200-399
	Timeout  time.Duration
}

// Target is a probe aimed at an address.
type Target struct {
	Addr  string
	Check Check
}

// Prober runs checks. The zero value is not usable; use New.
type Prober struct {
	client *http.Client
}

// New returns a Prober. Connections are not reused: a probe must measure
// whether a fresh connection is accepted, as the balancer's would be.
func New() *Prober {
	tr := &http.Transport{
		Proxy:             nil, // never through an environment proxy
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{}).DialContext,
	}
	return &Prober{client: &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Do runs one check; nil means the target answered as expected.
func (p *Prober) Do(ctx context.Context, t Target) error {
	if t.Check.Type == "none" || t.Check.Type == "" {
		return nil
	}
	if t.Addr == "" {
		return fmt.Errorf("no address to probe")
	}
	timeout := t.Check.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch t.Check.Type {
	case "tcp":
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", t.Addr)
		if err != nil {
			return fmt.Errorf("tcp %s: %w", t.Addr, err)
		}
		return conn.Close()
	case "http":
		url := "http://" + t.Addr + t.Check.Path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "baton-probe")
		resp, err := p.client.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %w", url, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if !accepted(resp.StatusCode, t.Check.Statuses) {
			return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		return nil
	}
	return fmt.Errorf("unknown probe type %q", t.Check.Type)
}

func accepted(code int, statuses []int) bool {
	if len(statuses) == 0 {
		return code >= 200 && code < 400
	}
	for _, s := range statuses {
		if s == code {
			return true
		}
	}
	return false
}

// All runs the targets concurrently, at most bound at once, and returns one
// result per target in order.
func (p *Prober) All(ctx context.Context, targets []Target, bound int) []error {
	if bound < 1 {
		bound = 1
	}
	out := make([]error, len(targets))
	sem := make(chan struct{}, bound)
	var wg sync.WaitGroup
	for i := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = p.Do(ctx, targets[i])
		}(i)
	}
	wg.Wait()
	return out
}

// Wait probes t every interval until it answers or within elapses; it
// returns the last probe error on timeout.
func (p *Prober) Wait(ctx context.Context, t Target, within, interval time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := p.Do(ctx, t)
		if err == nil {
			return nil
		}
		if time.Now().Add(interval).After(deadline) {
			return fmt.Errorf("not ready within %s: %w", within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
