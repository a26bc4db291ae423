package hook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

var events = []state.Event{
	{Time: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), Command: "heal", Type: "replace", App: "web", Target: "shop-web-0-abc", Container: "shop-web-0-def", Reason: "failed its health check 3 times in a row"},
	{Time: time.Date(2026, 11, 23, 12, 0, 1, 0, time.UTC), Command: "heal", Type: "unhealthy", App: "db", Target: "shop-db-0-123", Reason: "probe failed"},
}

type recorder struct {
	mu     sync.Mutex
	bodies []string
}

func (r *recorder) handler(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	r.mu.Unlock()
}

func hook(yaml string) *spec.Hook {
	s, err := spec.Parse("t.yaml", []byte("hooks:\n  - "+yaml+"\n"))
	if err != nil {
		panic(err)
	}
	return s.Hooks[0]
}

func TestWebhookJSONAndFilter(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(rec.handler))
	defer srv.Close()
	errs := Fire(context.Background(), []*spec.Hook{hook("{url: " + srv.URL + ", events: [replace]}")}, events)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(rec.bodies) != 1 {
		t.Fatalf("want only the replace event, got %v", rec.bodies)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(rec.bodies[0]), &got); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"time", "command", "type", "app", "target", "container", "reason"} {
		if got[field] == nil || got[field] == "" {
			t.Errorf("payload lacks %q: %s", field, rec.bodies[0])
		}
	}
}

func TestSlackPayload(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(rec.handler))
	defer srv.Close()
	if errs := Fire(context.Background(), []*spec.Hook{hook("{url: " + srv.URL + ", format: slack}")}, events[:1]); len(errs) != 0 {
		t.Fatal(errs)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(rec.bodies[0]), &got); err != nil || len(got) != 1 ||
		!strings.Contains(got["text"], "web replace shop-web-0-abc: failed its health check") {
		t.Errorf("slack payload %q (%v)", rec.bodies[0], err)
	}
}

func TestCommandHookGetsEventOnStdin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "events")
	errs := Fire(context.Background(), []*spec.Hook{hook(`{command: [sh, -c, "cat >> ` + out + `; echo >> ` + out + `"]}`)}, events)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"type":"unhealthy"`) {
		t.Errorf("got %q", b)
	}
}

func TestFailuresAreReturnedNotFatal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer func() {
		close(hang) // before Close, which waits for the handler
		slow.Close()
	}()
	hooks := []*spec.Hook{
		hook("{url: " + srv.URL + "}"),
		hook("{url: " + slow.URL + ", timeout: 200ms}"),
		hook("{command: [false]}"),
	}
	errs := Fire(context.Background(), hooks, events)
	if len(errs) != 3 {
		t.Fatalf("want 3 hook errors, got %v", errs)
	}
	joined := ""
	for _, e := range errs {
		joined += e.Error() + "\n"
	}
	for _, want := range []string{"status 500", "context deadline exceeded", "exit status 1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors lack %q:\n%s", want, joined)
		}
	}
}

// TestCommandHookTimeoutHolds: a command hook whose child sleeps 70s and
// keeps the output pipe open is stopped at the hook's 1s timeout, child
// and all (before, the pass waited the 70s).
func TestCommandHookTimeoutHolds(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	errs := Fire(context.Background(), []*spec.Hook{hook(`{command: [sh, -c, "sleep 70 & echo $! > ` + pidFile + `; wait; true"], timeout: 1s}`)}, events[:1])
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the hook held the pass %s past its 1s timeout", took)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "context deadline exceeded") {
		t.Fatalf("want one deadline error, got %v", errs)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for i := 0; pid > 0 && i < 200; i++ {
		if st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil || strings.Contains(string(st), ") Z") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the hook's child (pid %d) outlived the timeout", pid)
}
