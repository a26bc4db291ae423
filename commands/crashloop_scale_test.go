package commands_test

import (
	"strings"
	"testing"
	"time"
)

// TestInProcessScaleBacksOffACrashingReplica: a replica that exits soon
// after every start (within stable_after) is an attempt against its slot
// whether scale or heal starts it again, so cron's scale alone never
// retries it more than crashloop_attempts times per window; its start's
// reason names the exit; the crash loop is one incident.
func TestInProcessScaleBacksOffACrashingReplica(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: 1, health: {type: http, path: /, backoff: 10s, backoff_max: 1m, crashloop_attempts: 3, crashloop_window: 10m}}\n")
	crash := func() {
		for _, c := range a.fake.Containers {
			if c.State == "running" {
				c.State = "exited"
			}
		}
	}
	var outs []string
	for i := 0; i < 20; i++ {
		out, errOut, code := a.run("scale")
		if code != 0 && code != 3 {
			t.Fatalf("pass %d: exit %d\n%s%s", i+1, code, out, errOut)
		}
		outs = append(outs, out)
		crash()
		a.clock.Advance(5 * time.Second)
	}
	if n := a.fake.Count("start "); n > 3+1 {
		t.Errorf("scale started the crashing replica %d times in 100s; crashloop_attempts is 3\n%s", n, strings.Join(outs, "---\n"))
	}
	if !strings.Contains(strings.Join(outs, ""), "exited with code 1") {
		t.Errorf("no start names the exit:\n%s", strings.Join(outs, "---\n"))
	}
	if b, _ := a.eventsOf("crashloop"); b != 1 {
		t.Errorf("%d crashloop incidents began, want 1\n%s", b, strings.Join(outs, "---\n"))
	}
}

// TestInProcessABrokenImageIsOneIncidentAcrossScaleAndHeal: a replica
// whose start fails before a container exists (a missing image) backs
// off in scale; heal, which acts only on slots that have a container,
// does not end that hold, so cron's scale and heal together give one
// incident, not an end and a beginning per pair of passes.
func TestInProcessABrokenImageIsOneIncidentAcrossScaleAndHeal(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: 1, health: {type: http, path: /, backoff: 30s}}\n")
	a.fake.Fail["start web"] = errorString("pull access denied for web:1")
	printed := 0
	for i := 0; i < 10; i++ {
		for _, p := range []string{"scale", "heal"} {
			out, _, _ := a.run(p)
			if out != "" {
				printed++
			}
		}
		a.clock.Advance(time.Second)
	}
	began, ended := a.eventsOf("hold")
	if began != 1 || ended != 0 {
		t.Errorf("10 scale+heal pairs over one broken image: %d holds began, %d ended; want 1, 0", began, ended)
	}
	if printed > 2 {
		t.Errorf("%d of 20 passes printed something; a known hold is quiet", printed)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// TestInProcessAKnownIncidentIsNotSaidAgainWithANewFailure: once a crash
// loop is known, a pass in which another app's start fails says that
// failure only (the exit code is 3 for both).
func TestInProcessAKnownIncidentIsNotSaidAgainWithANewFailure(t *testing.T) {
	a := newInproc(t)
	a.write(`"true"`, "apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: 1, health: {type: http, path: /, backoff: 1h, crashloop_attempts: 1, crashloop_window: 1h}}\n")
	for i := 0; i < 4; i++ { // the replica keeps exiting: the crash loop becomes known
		a.run("scale")
		for _, c := range a.fake.Containers {
			if c.State == "running" {
				c.State = "exited"
			}
		}
		a.clock.Advance(time.Second)
	}
	if b, _ := a.eventsOf("crashloop"); b != 1 {
		t.Fatalf("%d crash loops began, want 1", b)
	}
	a.write(`"true"`, "apps:\n  - {name: web, image: \"web:1\", port: 8080, replicas: 1, health: {type: http, path: /, backoff: 1h, crashloop_attempts: 1, crashloop_window: 1h}}\n  - {name: api, image: \"api:1\", port: 8080}\n")
	a.fake.Fail["start api"] = errorString("no such image api:1")
	_, errOut, code := a.run("scale")
	if code != 3 || !strings.Contains(errOut, "1 of 1 actions failed; the next pass retries") || strings.Contains(errOut, "crash-looping") {
		t.Errorf("a new failure beside a known crash loop: exit %d\n%s", code, errOut)
	}
}
