package balancer

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
	"github.com/baton-orchestrator/baton/state"
)

// helperJob is what the helper process applies: the pass that gets killed.
type helperJob struct {
	Config   Config
	Rendered []byte
	State    state.Balancer
}

// TestMain runs the helper pass when asked to: Apply with a test command
// that blocks until the process is killed.
func TestMain(m *testing.M) {
	if job := os.Getenv("BATON_BALANCER_HELPER"); job != "" {
		var j helperJob
		b, err := os.ReadFile(job)
		if err == nil {
			err = json.Unmarshal(b, &j)
		}
		if err != nil {
			os.Exit(2)
		}
		_, _ = Apply(context.Background(), j.Config, j.Rendered, &j.State, now)
		os.Exit(3) // the test command never returns: never reached
	}
	os.Exit(m.Run())
}

// killedPass runs Apply(rendered) in a helper process whose test command
// blocks, and SIGKILLs it (and the blocked test's process group) once the
// test runs: the new bytes are on disk, the state as before.
func killedPass(t *testing.T, n *testenv.Nginx, rendered []byte, st state.Balancer) {
	t.Helper()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "test.pid")
	job := helperJob{
		Config:   Config{Path: n.Conf(), Dir: n.Dir, Reload: n.Reload(), Timeout: time.Minute, Test: []string{"sh", "-c", "echo $$ > " + pidFile + "; exec sleep 60"}},
		Rendered: rendered,
		State:    st,
	}
	b, _ := json.Marshal(job)
	jobFile := filepath.Join(dir, "job.json")
	if err := os.WriteFile(jobFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BATON_BALANCER_HELPER="+jobFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	for deadline := time.Now().Add(30 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the helper pass never ran its test command")
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	_ = syscall.Kill(-pid, syscall.SIGKILL) // the orphaned test command
	if got, _ := os.ReadFile(n.Conf()); string(got) != string(rendered) {
		t.Fatalf("the killed pass did not leave its bytes: %q", got)
	}
}

func nginxServer(n *testenv.Nginx, body string) []byte {
	return []byte("upstream baton_web { server 127.0.0.1:1; }\nserver {\n    listen " + n.Listen + ";\n    location / { return 200 \"" + body + "\\n\"; }\n}\n")
}

// TestKilledDuringTestAgainstRealNginx: a pass killed while the test
// command runs leaves its bytes on disk and the state as before. The next
// pass tests those bytes before any reload: rejected ones are replaced by
// the last good config (nginx keeps serving it, nginx -t passes), accepted
// ones are reloaded; and a new render that fails restores the last good
// config, not the killed pass's bytes. The good copy is hidden, so even an
// "include conf.d/*" does not read it (it would duplicate the upstream).
func TestKilledDuringTestAgainstRealNginx(t *testing.T) {
	n := testenv.StartNginx(t)
	main := filepath.Join(n.Dir, "nginx.conf")
	conf, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, []byte(strings.Replace(string(conf), "conf.d/*.conf;", "conf.d/*;", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	reload, reloads := counter(t)
	reload = []string{"sh", "-c", reload[2] + " && exec \"$0\" \"$@\"", n.Reload()[0]}
	reload = append(reload, n.Reload()[1:]...)
	c := Config{Path: n.Conf(), Test: n.Test(), Reload: reload, Dir: n.Dir}
	st := &state.Balancer{}
	good := nginxServer(n, "good")
	if _, err := Apply(context.Background(), c, good, st, now); err != nil {
		t.Fatal(err)
	}
	waitBody(t, "http://"+n.Listen+"/", "good\n")
	bad := []byte("server {\n    listen " + n.Listen + ";\n    location / { return 200 \"bad\"; \n")

	t.Run("rejected bytes are replaced by the last good config", func(t *testing.T) {
		before := *st
		killedPass(t, n, bad, before)
		r0 := reloads()
		_, err := Apply(context.Background(), c, bad, st, now)
		if err == nil || !strings.Contains(err.Error(), "[emerg]") || !strings.Contains(err.Error(), "last good config") {
			t.Fatalf("want nginx's [emerg] and the last good config restored, got %v", err)
		}
		if b, _ := os.ReadFile(n.Conf()); string(b) != string(good) {
			t.Errorf("the rejected bytes stayed: %q", b)
		}
		if reloads() != r0 || *st != before {
			t.Errorf("untested bytes were reloaded (%d reloads) or the state changed: %+v", reloads()-r0, st)
		}
		if _, errOut, code := testenv.Run(t, n.Dir, n.Test()...); code != 0 {
			t.Errorf("nginx -t fails after the restore:\n%s", errOut)
		}
		waitBody(t, "http://"+n.Listen+"/", "good\n")
	})

	t.Run("a new render that fails restores the last good, not the killed pass's bytes", func(t *testing.T) {
		killedPass(t, n, nginxServer(n, "killed"), *st)
		_, err := Apply(context.Background(), c, bad, st, now)
		if err == nil || !strings.Contains(err.Error(), "[emerg]") {
			t.Fatalf("want nginx's [emerg], got %v", err)
		}
		if b, _ := os.ReadFile(n.Conf()); string(b) != string(good) {
			t.Errorf("got %q, want the last good config", b)
		}
		waitBody(t, "http://"+n.Listen+"/", "good\n")
	})

	t.Run("accepted bytes are tested, then reloaded", func(t *testing.T) {
		next := nginxServer(n, "next")
		killedPass(t, n, next, *st)
		r0 := reloads()
		r, err := Apply(context.Background(), c, next, st, now)
		if err != nil || !r.Tested || !r.Reloaded || r.Changed || reloads() != r0+1 {
			t.Fatalf("got %+v %v (%d reloads)", r, err, reloads()-r0)
		}
		if st.Tested != Hash(next) || st.Reloaded != Hash(next) {
			t.Errorf("state %+v", st)
		}
		if g, _ := os.ReadFile(GoodPath(n.Conf())); string(g) != string(next) {
			t.Errorf("good copy %q", g)
		}
		waitBody(t, "http://"+n.Listen+"/", "next\n")
	})
}
