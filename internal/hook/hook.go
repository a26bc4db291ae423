// Package hook tells the spec's hooks about a pass's events: an HTTP POST
// per event (baton's JSON, or a Slack-compatible {"text": ...} payload) or
// a command run per event with the event as JSON on stdin, no shell.
//
// This file enforces that hooks cannot hurt a pass: they run after the
// pass has released its lock, all hooks concurrently, each bounded by its
// timeout for all of its deliveries (a command hook's whole process group
// is killed at it), and their failures come back as
// errors to log, never to fail on.
package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/baton-orchestrator/baton/internal/proc"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// Fire delivers events to every hook that wants them and returns the
// failures, one per hook at most.
func Fire(ctx context.Context, hooks []*spec.Hook, events []state.Event) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i, h := range hooks {
		want := filter(h, events)
		if len(want) == 0 {
			continue
		}
		wg.Add(1)
		go func(i int, h *spec.Hook) {
			defer wg.Done()
			if err := deliver(ctx, h, want); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("hooks[%d] (%s): %w", i, describe(h), err))
				mu.Unlock()
			}
		}(i, h)
	}
	wg.Wait()
	return errs
}

func describe(h *spec.Hook) string {
	if h.URL != "" {
		return h.URL
	}
	return strings.Join(h.Command, " ")
}

func filter(h *spec.Hook, events []state.Event) []state.Event {
	if len(h.Events) == 0 {
		return events
	}
	want := map[string]bool{}
	for _, t := range h.Events {
		want[t] = true
	}
	var out []state.Event
	for _, e := range events {
		if want[e.Type] {
			out = append(out, e)
		}
	}
	return out
}

func deliver(ctx context.Context, h *spec.Hook, events []state.Event) error {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout.D)
	defer cancel()
	for _, e := range events {
		body, err := Payload(h, e)
		if err != nil {
			return err
		}
		if h.URL != "" {
			err = post(ctx, h.URL, body)
		} else {
			err = run(ctx, h.Command, body)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Payload is what a hook receives for one event.
func Payload(h *spec.Hook, e state.Event) ([]byte, error) {
	if h.Format == "slack" {
		return json.Marshal(map[string]string{"text": Text(e)})
	}
	return json.Marshal(e)
}

// Text is a one-line human rendering of an event.
func Text(e state.Event) string {
	s := fmt.Sprintf("baton %s: %s %s %s: %s", e.Command, e.App, e.Type, e.Target, e.Reason)
	if e.Container != "" {
		s += " → " + e.Container
	}
	if e.Error != "" {
		s += " (failed: " + e.Error + ")"
	}
	return s
}

var client = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}

func post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "baton-hook")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("POST %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// run runs a command hook through internal/proc: in a process group of
// its own that is killed when the hook's timeout ends, so a child that
// keeps the output pipe open cannot outlive it.
func run(ctx context.Context, argv []string, stdin []byte) error {
	out, err := proc.Combined(ctx, argv, proc.Options{Stdin: stdin, MaxOutput: 4 << 10})
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 300 {
			msg = msg[:300]
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (its process group was killed): %s", ctx.Err(), msg)
		}
		return fmt.Errorf("%v: %s", err, msg)
	}
	return nil
}
