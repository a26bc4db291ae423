// Package testenv is baton's test harness: it finds the real parts the
// integration tests run against (a Docker engine, nginx, haproxy, the
// baton binary) and starts private instances of them in temporary
// directories.
//
// Under CI (CI=true) a missing part fails the test: integration tests must
// never pass by skipping there. Elsewhere they skip with the command that
// provides the part (`make test` does).
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CI reports whether the tests run under CI.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing fails the test under CI and skips it elsewhere. Under -short
// every integration test skips, CI or not: -short asks for the tests that
// need no real parts.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
	msg := fmt.Sprintf(format, args...) + " (make test installs and starts it)"
	if CI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Tool returns the path of a command, or fails/skips when it is absent.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed", name)
	}
	return p
}

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Docker checks that a Docker engine answers and returns its host for
// baton's --docker-host (empty: the default).
func Docker(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		Missing(t, "-short")
	}
	Tool(t, "docker")
	out, err := exec.Command("docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput()
	if err != nil {
		Missing(t, "no Docker engine answers (%s)", strings.TrimSpace(string(out)))
	}
	return os.Getenv("DOCKER_HOST")
}

// Image checks that a test image exists (make test builds baton-test:v1,
// :v2 and :hc, the last with a Docker HEALTHCHECK) and builds it when it
// does not.
func Image(t testing.TB, ref string) {
	t.Helper()
	imageMu.Lock()
	defer imageMu.Unlock()
	if exec.Command("docker", "image", "inspect", ref).Run() == nil {
		return
	}
	version := ref[strings.LastIndex(ref, ":")+1:]
	args := []string{ref, version}
	if version == "hc" {
		args = append(args, "healthcheck")
	}
	out, err := exec.Command(filepath.Join(Root(), "scripts", "build-image.sh"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("build image %s: %v\n%s", ref, err, out)
	}
}

var imageMu sync.Mutex

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Baton builds the baton binary once per test process and returns its path.
func Baton(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "baton-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "baton")
		cmd := exec.Command("go", "build", "-race", "-o", binPath, ".")
		if os.Getenv("BATON_TEST_NORACE") != "" {
			cmd = exec.Command("go", "build", "-o", binPath, ".")
		}
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Nginx is a private nginx running from a prefix in a temporary directory.
type Nginx struct {
	Dir    string // the prefix; baton's include file is Dir/conf.d/baton.conf
	Listen string // 127.0.0.1:PORT, for the spec's nginx.listen
}

// Conf is the include file baton owns.
func (n *Nginx) Conf() string { return filepath.Join(n.Dir, "conf.d", "baton.conf") }

// Test and Reload are the argv lists for the spec.
func (n *Nginx) Test() []string {
	return []string{"nginx", "-t", "-q", "-p", n.Dir + "/", "-c", "nginx.conf", "-e", "stderr"}
}

// Reload is the reload argv for the spec.
func (n *Nginx) Reload() []string {
	return []string{"nginx", "-s", "reload", "-p", n.Dir + "/", "-c", "nginx.conf", "-e", "stderr"}
}

// StartNginx lays out a prefix with scripts/nginx-prefix.sh, starts nginx
// and stops it when the test ends.
func StartNginx(t testing.TB) *Nginx {
	t.Helper()
	if testing.Short() {
		Missing(t, "-short")
	}
	Tool(t, "nginx")
	dir := t.TempDir()
	n := &Nginx{Dir: dir, Listen: fmt.Sprintf("127.0.0.1:%d", FreePort(t))}
	out, err := exec.Command(filepath.Join(Root(), "scripts", "nginx-prefix.sh"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("start nginx: %v\n%s", err, out)
	}
	t.Cleanup(func() { stopNginx(dir) })
	return n
}

// stopNginx stops the nginx of prefix dir by signalling its master: `nginx
// -s quit` parses the configuration first and gives up when it no longer
// loads (a certificate a test removed), which left masters running — and
// holding every file descriptor they inherited, such as a test runner's
// lock.
func stopNginx(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "nginx.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		_ = exec.Command("nginx", "-s", "quit", "-p", dir+"/", "-c", "nginx.conf", "-e", "stderr").Run()
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGKILL} {
		if syscall.Kill(pid, sig) != nil {
			return // gone
		}
		for i := 0; i < 100; i++ {
			if syscall.Kill(pid, 0) != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Run runs a command and returns stdout, stderr and the exit code.
func Run(t testing.TB, dir string, argv ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %v: %v", argv, err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}
