package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CA is a certificate authority made by the openssl command for one test:
// nothing is checked in, every key is new.
type CA struct {
	Dir  string
	Cert string // the CA certificate, for curl --cacert
	key  string
	n    int
}

// NewCA makes a self-signed CA in a temporary directory.
func NewCA(t testing.TB) *CA {
	t.Helper()
	Tool(t, "openssl")
	dir := t.TempDir()
	ca := &CA{Dir: dir, Cert: filepath.Join(dir, "ca.crt"), key: filepath.Join(dir, "ca.key")}
	openssl(t, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", ca.key, "-out", ca.Cert, "-days", "2", "-subj", "/CN=baton test CA "+filepath.Base(dir),
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	return ca
}

// Issue writes a new key and a certificate for names (DNS names, "*."
// wildcards allowed) signed by the CA to certPath and keyPath, creating
// their directories. keyPath "" appends the key to the certificate file.
// It returns the certificate's serial number, to tell a renewal apart.
func (ca *CA) Issue(t testing.TB, certPath, keyPath string, names ...string) string {
	t.Helper()
	ca.n++
	work := filepath.Join(ca.Dir, fmt.Sprintf("issue-%d", ca.n))
	if err := os.MkdirAll(work, 0o700); err != nil {
		t.Fatal(err)
	}
	key, csr, crt := filepath.Join(work, "k.pem"), filepath.Join(work, "r.csr"), filepath.Join(work, "c.pem")
	ext := filepath.Join(work, "ext.cnf")
	sans := make([]string, len(names))
	for i, n := range names {
		sans[i] = "DNS:" + n
	}
	if err := os.WriteFile(ext, []byte("subjectAltName="+strings.Join(sans, ",")+"\nextendedKeyUsage=serverAuth\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openssl(t, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", key, "-out", csr, "-subj", "/CN="+names[0])
	openssl(t, "x509", "-req", "-in", csr, "-CA", ca.Cert, "-CAkey", ca.key, "-CAcreateserial",
		"-out", crt, "-days", "2", "-extfile", ext)
	serial := strings.TrimPrefix(strings.TrimSpace(openssl(t, "x509", "-in", crt, "-noout", "-serial")), "serial=")
	certPEM, err := os.ReadFile(crt)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if keyPath == "" {
		writeFile(t, certPath, append(certPEM, keyPEM...), 0o600)
	} else {
		writeFile(t, certPath, certPEM, 0o644)
		writeFile(t, keyPath, keyPEM, 0o600)
	}
	return strings.ToLower(serial)
}

// writeFile replaces path's contents in place, as a renewal tool that
// writes over the old files does.
func writeFile(t testing.TB, path string, b []byte, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, perm); err != nil {
		t.Fatal(err)
	}
}

func openssl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Serial is the serial number of the first certificate in a PEM file, as
// Issue returns it.
func Serial(t testing.TB, certPath string) string {
	t.Helper()
	out := openssl(t, "x509", "-in", certPath, "-noout", "-serial")
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(out), "serial="))
}
