package testenv

// sshd.go runs a private OpenSSH server on 127.0.0.1 for the ssh://
// endpoint tests: its own host key, a client key made for the test, and
// an ssh client configuration that trusts exactly that host key. Nothing
// outside the test's directories is used but /run/sshd (sshd's privilege
// separation directory, created when missing).

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SSHD is a running sshd and a client set up to reach it.
type SSHD struct {
	Port int
	// Dir holds the keys, the configurations and ssh, a wrapper of the
	// ssh client that uses ClientConfig: put Dir/bin first in PATH and
	// every `ssh` (docker's connection helper's too) reaches this server
	// with the test's key.
	Dir          string
	ClientConfig string
}

// Bin is the directory with the ssh wrapper.
func (s *SSHD) Bin() string { return filepath.Join(s.Dir, "bin") }

// URL is the ssh:// address of the server for user.
func (s *SSHD) URL(user string) string { return fmt.Sprintf("ssh://%s@127.0.0.1:%d", user, s.Port) }

// StartSSHD starts sshd on a free port of 127.0.0.1 and stops it when the
// test ends.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	if testing.Short() {
		Missing(t, "-short")
	}
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		Missing(t, "sshd is not installed (openssh-server)")
	}
	keygen := Tool(t, "ssh-keygen")
	client := Tool(t, "ssh")
	dir := t.TempDir()
	s := &SSHD{Port: FreePort(t), Dir: dir, ClientConfig: filepath.Join(dir, "ssh_config")}
	run := func(argv ...string) {
		t.Helper()
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	run(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host_key"))
	run(keygen, "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "client_key"))
	pub, err := os.ReadFile(filepath.Join(dir, "client_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("authorized_keys", string(pub), 0o600)
	write("sshd_config", fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding no
X11Forwarding no
`, s.Port, filepath.Join(dir, "host_key"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys")), 0o600)
	hostPub, err := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(hostPub))
	write("known_hosts", fmt.Sprintf("[127.0.0.1]:%d %s %s\n", s.Port, fields[0], fields[1]), 0o600)
	write("ssh_config", fmt.Sprintf(`Host *
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
`, filepath.Join(dir, "client_key"), filepath.Join(dir, "known_hosts")), 0o600)
	if err := os.MkdirAll(s.Bin(), 0o755); err != nil {
		t.Fatal(err)
	}
	write("bin/ssh", fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", client, s.ClientConfig), 0o755)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	logFile, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	deadline := wall.Now().Add(10 * time.Second) // the one wall clock (internal/clock)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if wall.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("sshd did not listen on 127.0.0.1:%d: %v\n%s", s.Port, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// Log is what sshd printed so far.
func (s *SSHD) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "sshd.log"))
	return string(b)
}
