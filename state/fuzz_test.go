package state

import (
	"encoding/json"
	"testing"
)

// FuzzDecode: the state decoder never panics; what it accepts is safe for
// every state method a pass calls (no nil entry, no negative count), and
// re-encodes and decodes again.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version": 1}`))
	f.Add([]byte(`{"version": 1, "apps": {"web": {"last_action": "x", "attempts": ["2026-11-23T12:00:00Z"]}}, "probes": {"abc": {"failures": 2, "successes": 0, "last_at": "2026-11-23T12:00:00Z"}}}`))
	f.Add([]byte(`{"version": 2}`))
	f.Add([]byte(`{"version": 1, "mods": {"a.jar": {"url": "http://127.0.0.1/a", "sha256": "", "size": 3, "fetched_at": "2026-11-23T12:00:00Z", "checked_at": "2026-11-23T12:00:00Z"}}}`))
	f.Add([]byte(`{"version": 1, "apps": {"web": null}}`))
	f.Add([]byte(`{"version": 1, "apps": {"web": {"autoscale": {"desired": 2, "recommendations": [{"at": "2026-11-23T12:00:00Z", "replicas": 3}]}}}, "probes": {"x": null}, "runs": {"scale": 4}}`))
	f.Add([]byte(`{"version": 1, "access_log": {"path": "/x", "dev": 1, "ino": 2, "offset": 7, "at": "2026-11-23T12:00:00Z"}, "balancer": {"/a": {"tested": "h", "reloaded": "h"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode("fuzz.json", data)
		if err != nil {
			return
		}
		exercise(t, s)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("accepted state does not re-encode: %v", err)
		}
		if _, err := Decode("again.json", b); err != nil {
			t.Fatalf("re-encoded state does not decode: %v\n%s", err, b)
		}
	})
}
