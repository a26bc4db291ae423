// Package probe checks whether a replica answers: an HTTP GET or a TCP
// connect to its address, with a timeout. Many probes run concurrently with
// a bound, so a pass over many replicas takes about one timeout.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/bounded"
)

// Check is one probe definition.
type Check struct {
	Type     string // http, tcp, exec, docker or none
	Path     string
	Statuses []int // accepted HTTP statuses; empty means 200-399
	Headers  map[string]string
	Command  []string // for exec
	Timeout  time.Duration
}

// Target is a probe aimed at a container.
type Target struct {
	Addr string
	// Direct, when set, is the container's own address (IP:port on its
	// network), probed first: it skips Docker's userland proxy. A probe
	// that cannot connect there tries Addr.
	Direct      string
	ContainerID string
	// Health is the Docker HEALTHCHECK verdict already observed, for
	// type docker: "healthy" passes, anything else fails.
	Health string
	Check  Check
}

// ExecFunc runs argv in a container; nil error means exit 0.
type ExecFunc func(ctx context.Context, containerID string, argv []string) error

// Prober runs checks. The zero value is not usable; use New.
type Prober struct {
	client *http.Client
	exec   ExecFunc
}

// New returns a Prober; exec runs exec checks (nil: they fail).
// Connections are not reused: a probe must measure whether a fresh
// connection is accepted, as the balancer's would be.
func New(exec ExecFunc) *Prober {
	tr := &http.Transport{
		Proxy:             nil, // never through an environment proxy
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{}).DialContext,
	}
	return &Prober{exec: exec, client: &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Do runs one check; nil means the target answered as expected.
func (p *Prober) Do(ctx context.Context, t Target) error {
	switch t.Check.Type {
	case "none", "":
		return nil
	case "docker":
		if t.Health != "healthy" {
			return fmt.Errorf("docker health is %q", t.Health)
		}
		return nil
	}
	timeout := t.Check.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if t.Check.Type == "exec" {
		if p.exec == nil {
			return fmt.Errorf("exec checks are not available")
		}
		return p.exec(ctx, t.ContainerID, t.Check.Command)
	}
	if t.Addr == "" {
		return fmt.Errorf("no address to probe")
	}
	if t.Direct != "" {
		if err := p.at(ctx, t, t.Direct); !cannotConnect(err) {
			return err
		}
	}
	return p.at(ctx, t, t.Addr)
}

// cannotConnect: the error is a failure to dial (refused, unreachable),
// not an answer that fails the check.
func cannotConnect(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && !op.Timeout()
}

// at runs a tcp or http check against addr.
func (p *Prober) at(ctx context.Context, t Target, addr string) error {
	switch t.Check.Type {
	case "tcp":
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("tcp %s: %w", addr, err)
		}
		return conn.Close()
	case "http":
		url := "http://" + addr + t.Check.Path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "baton-probe")
		for k, v := range t.Check.Headers {
			if strings.EqualFold(k, "Host") {
				// net/http sends req.Host, never a Host entry of Header.
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
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
	out := make([]error, len(targets))
	bounded.Each(len(targets), bound, func(i int) { out[i] = p.Do(ctx, targets[i]) })
	return out
}
