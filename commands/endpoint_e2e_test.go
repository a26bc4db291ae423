package commands_test

// Docker endpoints (issue #18, acceptance 7): a pass against ssh:// (a
// local sshd on 127.0.0.1 the test starts, with a key it makes) converges
// like one against the local socket, and Docker contexts made by the
// docker CLI select the endpoint as they do for docker.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// localDaemon is the test daemon's unix socket path.
func localDaemon() string {
	h := os.Getenv("DOCKER_HOST")
	if h == "" {
		return "/var/run/docker.sock"
	}
	return strings.TrimPrefix(h, "unix://")
}

// batonEnv runs baton with the environment env (DOCKER_HOST,
// DOCKER_CONTEXT and DOCKER_CONFIG come only from env).
func (e *e2e) batonEnv(env []string, args ...string) (string, string, int) {
	e.t.Helper()
	var clean []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "DOCKER_HOST" && k != "DOCKER_CONTEXT" && k != "DOCKER_CONFIG" && !strings.HasPrefix(k, "BATON_") {
			clean = append(clean, kv)
		}
	}
	cmd := exec.Command(e.bin, append([]string{"--spec", e.spec, "--state", e.state}, args...)...)
	cmd.Dir, cmd.Env = e.dir, append(clean, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func (e *e2e) mustBatonEnv(code int, env []string, args ...string) string {
	e.t.Helper()
	out, errOut, got := e.batonEnv(env, args...)
	if got != code {
		e.t.Fatalf("baton %v (env %v): exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, env, got, code, out, errOut)
	}
	return out
}

func TestSSHEndpointConvergesLikeTheSocket(t *testing.T) {
	e := newE2E(t)
	sshd := testenv.StartSSHD(t)
	url := sshd.URL("root")
	if sock := localDaemon(); sock != "/var/run/docker.sock" {
		url += sock
	}
	path := "PATH=" + sshd.Bin() + ":" + os.Getenv("PATH")
	e.writeSpec(2, "baton-test:v1", "")

	out := e.mustBatonEnv(0, []string{path}, "--docker-host", url, "scale")
	if n := len(e.running()); n != 2 || !strings.Contains(out, "start") {
		t.Fatalf("scale over ssh: %d running\n%s\nsshd:\n%s", n, out, sshd.Log())
	}
	if !strings.Contains(sshd.Log(), "Accepted publickey for root from 127.0.0.1") {
		t.Fatalf("the pass did not go through sshd:\n%s", sshd.Log())
	}
	if got := e.responders(20); len(got) != 2 {
		t.Errorf("nginx does not route to both replicas started over ssh: %v", got)
	}
	// Converged like the local socket: a pass on the socket has nothing
	// to do, and status reads the same over either.
	if out := e.mustBaton(0, "scale"); out != "" {
		t.Errorf("the local pass after the ssh pass acted:\n%s", out)
	}
	apps := func(out string) string {
		var st struct{ Apps json.RawMessage }
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		return string(st.Apps)
	}
	viaSSH := apps(e.mustBatonEnv(0, []string{path}, "-H", url, "status", "-o", "json"))
	local := apps(e.mustBaton(0, "status", "-o", "json"))
	if viaSSH != local {
		t.Errorf("status over ssh differs from the socket's:\n%s\nvs\n%s", viaSSH, local)
	}
	// A roll over ssh, and a heal pass: the same as on the socket.
	e.writeSpec(2, "baton-test:v2", "")
	e.mustBatonEnv(0, []string{path}, "scale", "--docker-host", url)
	if imgs := e.running(); len(imgs) != 2 || imgs[0] != "baton-test:v2" || imgs[1] != "baton-test:v2" {
		t.Errorf("after a roll over ssh: %v", imgs)
	}
	if out := e.mustBatonEnv(0, []string{path}, "-H", url, "heal"); out != "" {
		t.Errorf("heal over ssh on a healthy fleet printed:\n%s", out)
	}
	// An ssh endpoint that refuses: exit 1, named once, with the reason.
	bad := strings.Replace(url, "root@", "nobody-here@", 1)
	_, errOut, code := e.batonEnv([]string{path}, "-H", bad, "status")
	if code != 1 || strings.Count(errOut, bad) != 1 {
		t.Errorf("a refused ssh endpoint: exit %d\n%s", code, errOut)
	}
}

func TestDockerContextSelectsTheEndpoint(t *testing.T) {
	e := newE2E(t)
	docker := testenv.Tool(t, "docker")
	cfg := t.TempDir()
	ctxRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command(docker, args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	gone := filepath.Join(e.dir, "gone.sock")
	ctxRun("context", "create", "here", "--docker", "host=unix://"+localDaemon())
	ctxRun("context", "create", "nowhere", "--docker", "host=unix://"+gone)
	conf := "DOCKER_CONFIG=" + cfg
	e.writeSpec(1, "baton-test:v1", "")

	// DOCKER_CONTEXT selects the endpoint.
	e.mustBatonEnv(0, []string{conf, "DOCKER_CONTEXT=here"}, "scale")
	if n := len(e.running()); n != 1 {
		t.Fatalf("DOCKER_CONTEXT=here: %d running", n)
	}
	_, errOut, code := e.batonEnv([]string{conf, "DOCKER_CONTEXT=nowhere"}, "status")
	if code != 1 || strings.Count(errOut, gone) != 1 || !strings.Contains(errOut, `docker context "nowhere"`) {
		t.Errorf("DOCKER_CONTEXT=nowhere: exit %d\n%s", code, errOut)
	}
	// `docker context use` is read from config.json; DOCKER_CONTEXT,
	// --context and DOCKER_HOST override it, as for docker.
	ctxRun("context", "use", "nowhere")
	if _, errOut, code := e.batonEnv([]string{conf}, "status"); code != 1 || !strings.Contains(errOut, gone) {
		t.Errorf("current context nowhere: exit %d\n%s", code, errOut)
	}
	e.mustBatonEnv(0, []string{conf, "DOCKER_CONTEXT=here"}, "status")
	e.mustBatonEnv(0, []string{conf}, "status", "--context", "here")
	e.mustBatonEnv(0, []string{conf, "DOCKER_HOST=unix://" + localDaemon()}, "status")
	e.mustBatonEnv(0, []string{conf, "DOCKER_CONTEXT=default"}, "status")
	// --context beats DOCKER_HOST; --docker-host with --context is refused.
	if _, errOut, code := e.batonEnv([]string{conf, "DOCKER_HOST=unix://" + localDaemon()}, "--context", "nowhere", "status"); code != 1 || !strings.Contains(errOut, gone) {
		t.Errorf("--context over DOCKER_HOST: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := e.batonEnv([]string{conf}, "--context", "here", "-H", "unix://"+localDaemon(), "status"); code != 1 || !strings.Contains(errOut, "either give --docker-host or --context") {
		t.Errorf("--context with --docker-host: exit %d\n%s", code, errOut)
	}
	// A context that does not exist, and a context that points nowhere in
	// JSON: one object naming it.
	if _, errOut, code := e.batonEnv([]string{conf, "DOCKER_CONTEXT=missing"}, "status"); code != 1 || !strings.Contains(errOut, `docker context "missing" (from DOCKER_CONTEXT)`) {
		t.Errorf("a missing context: exit %d\n%s", code, errOut)
	}
	out, _, code := e.batonEnv([]string{conf, "DOCKER_CONTEXT=nowhere"}, "scale", "-o", "json")
	if je, _ := oneObject(t, out); code != 1 || !strings.Contains(je.Error, gone) {
		t.Errorf("-o json, context nowhere: exit %d\n%s", code, out)
	}

	// An ssh context, as `docker context create --docker host=ssh://...` makes it.
	sshd := testenv.StartSSHD(t)
	url := sshd.URL("root")
	if sock := localDaemon(); sock != "/var/run/docker.sock" {
		url += sock
	}
	ctxRun("context", "create", "over-ssh", "--docker", "host="+url)
	e.writeSpec(2, "baton-test:v1", "")
	e.mustBatonEnv(0, []string{conf, "PATH=" + sshd.Bin() + ":" + os.Getenv("PATH")}, "-c", "over-ssh", "scale")
	if n := len(e.running()); n != 2 || !strings.Contains(sshd.Log(), "Accepted publickey for root") {
		t.Errorf("--context over-ssh: %d running\n%s", n, sshd.Log())
	}
}
