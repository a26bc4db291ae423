package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/state"
)

// TestWhyForgetsAHoldOnceEveryReplicaIsReady: a slot's crash-loop
// attempts stay in the state for their window, but once every wanted
// replica is ready they are not why anything is wrong: WHY is empty
// (status used to say "crash-looping" next to 2/2 ready).
func TestWhyForgetsAHoldOnceEveryReplicaIsReady(t *testing.T) {
	s := testSpec(t, "apps:\n  - {name: web, image: \"web:1\", replicas: 2, health: {crashloop_attempts: 2, crashloop_window: 10m, backoff: 1m}}\n")
	st := &state.State{}
	for i := 0; i < 3; i++ {
		st.AddSlotAttempt("web", 0, t0.Add(-time.Duration(i)*time.Minute), 10*time.Minute, s.HashOf(s.App("web")))
	}
	for _, c := range []struct {
		ready int
		want  string
	}{{1, "crash-looping"}, {2, ""}} {
		why := Why(StatusInput{Spec: s, State: st, Apps: []AppStatus{{App: "web", Want: 2, Running: c.ready, Ready: c.ready, Current: c.ready}}}, t0)["web"]
		if (c.want == "") != (why == "") || !strings.Contains(why, c.want) {
			t.Errorf("%d of 2 ready: WHY %q, want %q", c.ready, why, c.want)
		}
	}
}
