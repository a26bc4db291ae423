package docker

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lyingDaemon serves the Docker API on a unix socket: /_ping answers, and
// every other call gets a 200 with a JSON body cut short.
func lyingDaemon(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			_, _ = w.Write([]byte("OK"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"Id": "abc", "Names": ["/x"`))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "unix://" + sock
}

// TestErrorsNameTheDaemon: a daemon answering broken JSON gives errors that
// name it (before: "list containers: unexpected EOF", no socket), for every
// kind of call.
func TestErrorsNameTheDaemon(t *testing.T) {
	host := lyingDaemon(t)
	e, err := New(host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	calls := map[string]func() error{
		"list containers": func() error { _, err := e.List(ctx, "p", ""); return err },
		"list all":        func() error { _, err := e.ListAll(ctx); return err },
		"list images":     func() error { _, err := e.Images(ctx); return err },
		"list volumes":    func() error { _, err := e.Volumes(ctx); return err },
		"stats":           func() error { _, err := e.Stats(ctx, "abc"); return err },
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s: a broken answer was taken", name)
			continue
		}
		if !strings.Contains(err.Error(), host) {
			t.Errorf("%s: the error does not name the daemon %s: %v", name, host, err)
		}
	}
}
