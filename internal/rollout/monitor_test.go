package rollout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/clock"
	"github.com/baton-orchestrator/baton/internal/plan"
)

// rollout runs a rollout of 3 outdated replicas with the world's clock
// stamping new containers.
func rollout(t *testing.T, w *world) Report {
	t.Helper()
	s, _, members := setup(t, 3, old("o0", 0), old("o1", 1), old("o2", 2))
	for _, m := range members {
		w.routed[m.ID] = true
	}
	r := w.runner(s)
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w.clock = fake
	r.Clock = recClock{fake, w}
	actions := plan.Scale(s, plan.Desired(s, nil, nil), members, map[string]bool{"o0": true, "o1": true, "o2": true})
	return r.Run(context.Background(), actions, members)
}

func pausedBy(rep Report) (done, paused int) {
	for _, o := range rep.Outcomes {
		var na *plan.NotAttempted
		switch {
		case o.Err == nil:
			done++
		case errors.As(o.Err, &na) && na.Paused:
			paused++
		}
	}
	return done, paused
}

func TestARolloutWatchesEachNewReplicaBeforeTheNext(t *testing.T) {
	_, w, _ := setup(t, 3)
	rep := rollout(t, w)
	if done, _ := pausedBy(rep); done != 3 {
		t.Fatalf("a healthy rollout replaced %d of 3: %+v", done, rep.Outcomes)
	}
	// The new replica's monitor (5s from its start) runs out after the
	// 3s drain: 2s more before the next replacement starts.
	log := strings.Join(w.log, "\n")
	if !strings.Contains(log, "stop o0\ndrain 2s\nstart new2-web-1") || !strings.Contains(log, "stop o1\ndrain 2s\nstart new3-web-2") {
		t.Errorf("want the rest of update.monitor (5s) before the 2nd and the 3rd replacement:\n%s", log)
	}
}

func TestANewReplicaThatExitsInItsMonitorStopsTheRollout(t *testing.T) {
	_, w, _ := setup(t, 3)
	w.exits = map[string]bool{"web-0": true} // the first new replica dies after it got ready
	rep := rollout(t, w)
	done, paused := pausedBy(rep)
	if done != 1 || paused != 2 {
		t.Fatalf("want the first replacement done and the other two paused, got %d done, %d paused: %+v", done, paused, rep.Outcomes)
	}
	if w.stopped[len(w.stopped)-1] != "o0" || len(w.stopped) != 1 {
		t.Errorf("only o0 may be stopped, the older replicas keep serving: %v", w.stopped)
	}
}

func TestANewReplicaThatNeverGetsReadyStopsTheRollout(t *testing.T) {
	_, w, _ := setup(t, 3)
	w.failWait["web-0"] = true
	rep := rollout(t, w)
	done, paused := pausedBy(rep)
	if done != 0 || paused != 2 {
		t.Fatalf("want 1 failed and 2 paused replacements: %d done, %d paused", done, paused)
	}
	for _, id := range w.stopped {
		if strings.HasPrefix(id, "o") {
			t.Errorf("old replica %s stopped", id)
		}
	}
	var nr *plan.NotReady
	if !errors.As(rep.Outcomes[0].Err, &nr) {
		t.Errorf("the first replacement failed for the new replica itself: %v", rep.Outcomes[0].Err)
	}
}
