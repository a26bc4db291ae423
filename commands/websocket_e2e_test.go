package commands_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestWebSocketsLiveAcrossScaleChangesAndCloseCleanlyOnDrain (issue 16,
// acceptance 2): WebSocket clients through nginx keep their connections
// across a scale change of another app and a scale-out of their own (both
// reload nginx), and when a scale-in drains a client's replica the client
// gets a close frame (1001, going away) and an orderly end of the
// connection, not a reset; the other clients keep talking.
func TestWebSocketsLiveAcrossScaleChangesAndCloseCleanlyOnDrain(t *testing.T) {
	e := newE2E(t)
	spec := func(web, other int) {
		e.writeEdgeSpec(nginxBalancer(e.nginx), "", edgeApp{
			name: "web", image: "baton-test:v1", replicas: web, lb: "{path: /, read_timeout: 2m}",
		}, edgeApp{
			name: "other", image: "baton-test:v1", replicas: other, lb: "{path: /other}",
		})
	}
	spec(3, 1)
	e.mustBaton(0, "scale")

	var clients []*wsClient
	t.Cleanup(func() {
		for _, c := range clients {
			c.Close()
		}
	})
	on := map[string]int{}
	for i := 0; i < 6; i++ {
		c, err := dialWS(e.nginx.Listen, "ws.example.com")
		if err != nil {
			t.Fatalf("WebSocket %d through nginx: %v", i, err)
		}
		clients = append(clients, c)
		on[c.Hello]++
	}
	if len(on) != 3 {
		t.Fatalf("6 WebSockets reached %d replicas, want 3: %v", len(on), on)
	}
	talk := func(when string, cs []*wsClient) {
		t.Helper()
		for i, c := range cs {
			msg := fmt.Sprintf("%s %d", when, i)
			if got, err := c.Echo(msg); err != nil || got != "echo: "+msg {
				t.Fatalf("%s: WebSocket %d (%s): %q %v", when, i, c.Hello, got, err)
			}
		}
	}
	talk("before", clients)

	// Unrelated changes: another app scales, then web scales out.
	spec(3, 2)
	e.mustBaton(0, "scale")
	talk("after another app scaled", clients)
	spec(4, 2)
	e.mustBaton(0, "scale")
	talk("after a scale-out", clients)

	// A scale-in drains replicas: their clients are closed cleanly.
	spec(2, 2)
	e.mustBaton(0, "scale")
	remaining := map[string]bool{}
	for body := range e.responders(12) {
		if strings.HasPrefix(body, "hello from web-") {
			remaining[body] = true
		}
	}
	if len(remaining) != 2 {
		t.Fatalf("web answers from %v after the scale-in, want 2 replicas", remaining)
	}
	var kept []*wsClient
	closed := 0
	for _, c := range clients {
		if remaining[c.Hello] {
			kept = append(kept, c)
			continue
		}
		code, err := c.AwaitClose(15 * time.Second)
		if err != nil || code != 1001 {
			t.Errorf("client of the drained %s: close code %d, %v; want a clean close 1001", c.Hello, code, err)
		}
		closed++
	}
	if closed == 0 {
		t.Fatalf("no client was on a drained replica: %v (remaining %v)", on, remaining)
	}
	talk("after the scale-in", kept)
}
