package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHTTPCheckSendsItsHeadersHostIncluded: a replica that routes by
// virtual host answers the check only when the check's Host header reaches
// it; the other headers arrive as written.
func TestHTTPCheckSendsItsHeadersHostIncluded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "shop.example.com" || r.Header.Get("X-Probe") != "yes" || r.URL.Path != "/healthz" {
			http.Error(w, "wrong host "+r.Host, http.StatusMisdirectedRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	p := New(nil)
	for _, c := range []struct {
		name    string
		headers map[string]string
		ok      bool
	}{
		{"Host and another header reach the replica", map[string]string{"Host": "shop.example.com", "X-Probe": "yes"}, true},
		{"the header name's case does not matter", map[string]string{"host": "shop.example.com", "x-probe": "yes"}, true},
		{"without Host the replica answers 421", map[string]string{"X-Probe": "yes"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := p.Do(context.Background(), Target{Addr: addr, Check: Check{Type: "http", Path: "/healthz", Headers: c.headers, Timeout: 2 * time.Second}})
			if (err == nil) != c.ok {
				t.Errorf("got %v, want ok=%v", err, c.ok)
			}
		})
	}
}
