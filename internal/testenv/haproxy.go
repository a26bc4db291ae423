package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// HAProxy is a private haproxy in master-worker mode (-W), loading a base
// file (global, defaults) and every *.cfg in its conf.d, where baton
// writes. A reload is SIGUSR2 to the master: new workers take over the
// listening sockets (expose-fd listeners) and old ones finish their
// connections, as `systemctl reload haproxy` does on Debian.
type HAProxy struct {
	Dir    string // conf.d/baton.cfg is the fragment baton owns
	Listen string // 127.0.0.1:PORT, for the spec's nginx.listen
	cmd    *exec.Cmd
}

// Conf is the fragment baton owns.
func (h *HAProxy) Conf() string { return filepath.Join(h.Dir, "conf.d", "baton.cfg") }

// Test is the test argv for the spec: the whole configuration, as the
// master loads it.
func (h *HAProxy) Test() []string {
	return []string{"haproxy", "-c", "-q", "-f", filepath.Join(h.Dir, "base.cfg"), "-f", filepath.Join(h.Dir, "conf.d") + "/"}
}

// Reload is the reload argv for the spec (the shell's kill: a fresh Debian
// may have no kill program).
func (h *HAProxy) Reload() []string {
	return []string{"sh", "-c", "kill -USR2 " + strconv.Itoa(h.cmd.Process.Pid)}
}

// StartHAProxy starts haproxy -W from a temporary directory and stops it
// when the test ends.
func StartHAProxy(t testing.TB) *HAProxy {
	t.Helper()
	Tool(t, "haproxy")
	dir := t.TempDir()
	h := &HAProxy{Dir: dir, Listen: fmt.Sprintf("127.0.0.1:%d", FreePort(t))}
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf(`global
    pidfile %[1]s/haproxy.pid
    stats socket %[1]s/admin.sock mode 600 level admin expose-fd listeners
    log stderr format raw daemon notice

defaults
    mode http
    log global
    timeout connect 5s
    timeout client 30s
    timeout server 30s
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "base.cfg"), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	h.cmd = exec.Command("haproxy", "-W", "-f", filepath.Join(dir, "base.cfg"), "-f", filepath.Join(dir, "conf.d")+"/")
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
	})
	// The master is up once it wrote its socket.
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(filepath.Join(dir, "admin.sock")); err == nil {
			return h
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "haproxy.log"))
			t.Fatalf("haproxy exited at start:\n%s", b)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("haproxy did not start within 5s")
	return nil
}

// Log is what haproxy printed so far.
func (h *HAProxy) Log() string {
	b, _ := os.ReadFile(filepath.Join(h.Dir, "haproxy.log"))
	return string(b)
}

// Blackhole returns an address on 127.0.0.1 that accepts no connection: a
// listening socket whose accept queue is full and never drained, so the
// kernel drops further SYNs and a connect waits until its timeout — what a
// partitioned node looks like to a balancer.
func Blackhole(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue: connect until a connect times out.
	for i := 0; i < 16; i++ {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("%s still accepts connections after 16", addr)
	return ""
}

// Load writes config as the fragment baton owns, checks it with haproxy -c
// and reloads, waiting (at most 10 s) until the master reports the new
// workers loaded.
func (h *HAProxy) Load(t testing.TB, config []byte) {
	t.Helper()
	if err := os.WriteFile(h.Conf(), config, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := Run(t, "", h.Test()...); code != 0 {
		t.Fatalf("haproxy -c: %s%s", out, errOut)
	}
	before := strings.Count(h.Log(), "Loading success.")
	if _, errOut, code := Run(t, "", h.Reload()...); code != 0 {
		t.Fatalf("reload haproxy: %s", errOut)
	}
	deadline := wall.Now().Add(10 * time.Second) // the one wall clock (internal/clock)
	for strings.Count(h.Log(), "Loading success.") <= before {
		if wall.Now().After(deadline) {
			t.Fatalf("haproxy did not load the new config:\n%s", h.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
