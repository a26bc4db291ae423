package commands_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLogsOfRealReplicas: two real replicas print on stdout; baton logs
// shows each line once under its replica, --tail and -f work against the
// daemon.
func TestLogsOfRealReplicas(t *testing.T) {
	e := newE2E(t)
	e.writeSpec(2, "baton-test:v1", "")
	e.mustBaton(0, "scale")
	var st struct {
		Replicas []struct {
			Replica int
			Addr    string
		}
	}
	if err := json.Unmarshal([]byte(e.mustBaton(0, "status", "-o", "json")), &st); err != nil || len(st.Replicas) != 2 {
		t.Fatalf("status: %v %+v", err, st)
	}
	flood := func() {
		t.Helper()
		for _, r := range st.Replicas {
			resp, err := http.Get("http://" + r.Addr + "/log/flood?bytes=1024&seconds=1")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	flood()
	line := strings.Repeat("x", 1023)
	out := e.mustBaton(0, "logs", "web")
	if strings.Count(out, "web-0 | "+line+"\n") != 1 || strings.Count(out, "web-1 | "+line+"\n") != 1 {
		t.Errorf("logs web:\n%s", out)
	}
	if out := e.mustBaton(0, "logs", "web", "--tail", "1"); strings.Count(out, "\n") != 2 {
		t.Errorf("--tail 1:\n%s", out)
	}
	// -f prints what comes, until interrupted (exit 0).
	cmd := exec.Command(e.bin, "--spec", e.spec, "--state", e.state, "logs", "-f", "--since", "1s", "web")
	var fout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &fout, &fout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	flood()
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("logs -f after SIGINT: %v\n%s", err, fout.String())
	}
	if strings.Count(fout.String(), line) < 2 {
		t.Errorf("logs -f saw %d lines:\n%s", strings.Count(fout.String(), line), fout.String())
	}
}
