package templates

// The spec fuzzers' end: any spec validate accepts renders a config the
// balancer's own check accepts (issue 14, acceptance 2).
//
// nginx -t and haproxy -c take 10-30 ms each, far slower than a render, so
// they do not run on every input: every input is rendered and checked for
// its structure, and the real check runs on each input whose config has a
// shape not seen before in this process (its quoted strings and names
// collapsed, the characters inside the quotes kept as a set), up to
// BATON_FUZZ_CHECKS per process (default 64). The seed corpus (the good
// and bad specs, the golden specs, the hostile examples) is few inputs of
// many shapes, so `go test` checks all of it for real; a short `make fuzz`
// run spends about a second per worker on real checks and the rest on
// finding inputs that validate accepts.

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/internal/testenv"
)

// realCheck runs nginx -t or haproxy -c on rendered configs in a private
// directory, at most once per config shape and budget times per process.
type realCheck struct {
	mu     sync.Mutex
	dir    string
	seen   map[[32]byte]bool
	budget int
	err    error
}

var checker realCheck

var (
	quotedRe  = regexp.MustCompile(`"(\\.|[^"\\\n])*"|'[^'\n]*'`)
	commentRe = regexp.MustCompile(`(?m)^[ \t]*#.*$`)
	wordRe    = regexp.MustCompile(`[A-Za-z0-9_]+`)
)

// shape is what the real check's verdict can depend on.
func shape(kind string, config []byte) [32]byte {
	chars := map[rune]bool{}
	config = commentRe.ReplaceAll(config, nil)
	for _, q := range quotedRe.FindAllString(string(config), -1) {
		for _, r := range q {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", r) {
				chars[r] = true
			}
		}
	}
	var cs []string
	for r := range chars {
		cs = append(cs, string(r))
	}
	sort.Strings(cs)
	body := quotedRe.ReplaceAllString(string(config), `"Q"`)
	body = wordRe.ReplaceAllString(body, "w")
	return sha256.Sum256([]byte(kind + "\x00" + strings.Join(cs, "") + "\x00" + body))
}

// errBusyPort is a check that failed only because a port it binds was
// taken meanwhile (nginx -t binds its listeners).
var errBusyPort = fmt.Errorf("a listen port is in use")

// check runs the balancer's check on config when its shape is new (or
// again is set) and the budget allows; it reports whether it ran.
func (c *realCheck) check(t *testing.T, kind string, config []byte, again bool) (bool, error) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[[32]byte]bool{}
		c.budget = 64
		if f := flag.Lookup("test.fuzz"); f == nil || f.Value.String() == "" {
			c.budget = 1 << 30 // not fuzzing: the seed corpus, all of it
		}
		if n, err := strconv.Atoi(os.Getenv("BATON_FUZZ_CHECKS")); err == nil {
			c.budget = n
		}
		c.dir, c.err = os.MkdirTemp("", "baton-fuzz-check-")
		if c.err == nil {
			c.err = writeCheckPrefix(c.dir)
		}
	}
	if c.err != nil {
		t.Fatal(c.err)
	}
	key := shape(kind, config)
	if (c.seen[key] && !again) || c.budget <= 0 {
		return false, nil
	}
	c.seen[key] = true
	c.budget--
	var cmd *exec.Cmd
	if kind == spec.KindHAProxy {
		frag := filepath.Join(c.dir, "baton.cfg")
		if err := os.WriteFile(frag, config, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command("haproxy", "-c", "-q", "-f", filepath.Join(c.dir, "base.cfg"), "-f", frag)
	} else {
		if err := os.WriteFile(filepath.Join(c.dir, "conf.d", "baton.conf"), config, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command("nginx", "-t", "-q", "-p", c.dir+"/", "-c", "nginx.conf", "-e", "stderr")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(out), "Address already in use") {
			return true, errBusyPort
		}
		t.Fatalf("validate accepted a spec whose %s config fails the balancer's check: %v\n%s\n%s", kind, err, out, config)
	}
	return true, nil
}

// writeCheckPrefix lays out an nginx prefix (with the larger
// server_names_hash_bucket_size that host names past 46 characters need,
// as docs/spec.md says) and an HAProxy base file in dir.
func writeCheckPrefix(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		return err
	}
	conf := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
    server_names_hash_bucket_size 512;
    client_body_temp_path %[1]s/tmp;
    proxy_temp_path %[1]s/tmp;
    fastcgi_temp_path %[1]s/tmp;
    uwsgi_temp_path %[1]s/tmp;
    scgi_temp_path %[1]s/tmp;
    include %[1]s/conf.d/*.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "base.cfg"), []byte(haproxyBase), 0o644)
}

// fuzzCA is one openssl-made CA per fuzz process, and one certificate made
// by it that every referenced certificate file gets a copy of.
var fuzzCA struct {
	once      sync.Once
	cert, key []byte
	err       error
}

func fuzzCertificate(t *testing.T) ([]byte, []byte) {
	t.Helper()
	fuzzCA.once.Do(func() {
		dir, err := os.MkdirTemp("", "baton-fuzz-ca-")
		if err != nil {
			fuzzCA.err = err
			return
		}
		c, k := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
		out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
			"-keyout", k, "-out", c, "-days", "2", "-subj", "/CN=fuzz.invalid").CombinedOutput()
		if err != nil {
			fuzzCA.err = fmt.Errorf("openssl: %v\n%s", err, out)
			return
		}
		fuzzCA.cert, _ = os.ReadFile(c)
		fuzzCA.key, _ = os.ReadFile(k)
	})
	if fuzzCA.err != nil {
		t.Fatal(fuzzCA.err)
	}
	return fuzzCA.cert, fuzzCA.key
}

// rehome moves every file the view makes the balancer open (certificates,
// keys, the access log) under root, keeping each path's characters, and
// creates them: a fuzzed spec may name any absolute path.
func rehome(t *testing.T, v *plan.LBView, root string) {
	t.Helper()
	cert, key := fuzzCertificate(t)
	move := func(p string) string { return filepath.Join(root, p) }
	write := func(p string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Skipf("the file system refuses %q: %v", p, err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Skipf("the file system refuses %q: %v", p, err)
		}
	}
	if v.AccessLog != "" {
		v.AccessLog = move(v.AccessLog)
		write(v.AccessLog, nil)
	}
	moved := map[string]string{}
	for i := range v.Servers {
		tls := v.Servers[i].TLS
		if tls == nil {
			continue
		}
		c := *tls
		c.Cert = move(tls.Cert)
		if v.Kind == spec.KindHAProxy || tls.Key == tls.Cert {
			write(c.Cert, append(append([]byte{}, cert...), key...))
			c.Key = tls.Key
			if tls.Key != "" {
				c.Key = c.Cert
			}
		} else {
			c.Key = move(tls.Key)
			write(c.Cert, cert)
			write(c.Key, key)
		}
		moved[tls.Cert] = c.Cert
		v.Servers[i].TLS = &c
	}
	for i, f := range v.TLSCerts {
		v.TLSCerts[i] = moved[f]
	}
}

// localAddr is a free address on this machine of addr's family, for "".
func localAddr(t *testing.T, addr string) string {
	t.Helper()
	if addr == "" {
		return ""
	}
	network, local := "tcp4", "127.0.0.1:0"
	if h, _, err := net.SplitHostPort(addr); err == nil && strings.Contains(h, ":") {
		network, local = "tcp6", "[::1]:0"
	}
	l, err := net.Listen(network, local)
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	defer l.Close()
	return l.Addr().String()
}

// renderChecked renders s with one member per app for both balancers' view
// of it and checks the config: its structure always, the real check when
// the shape is new.
func renderChecked(t *testing.T, s *spec.Spec, addr string) {
	t.Helper()
	var ms []fleet.Container
	for i, a := range s.Apps {
		if a.LB != nil {
			ms = append(ms, fleet.Container{ID: fmt.Sprint(i), App: a.Name, State: "running", Addr: addr})
		}
	}
	v := plan.Balancer(s, ms)
	rehome(t, &v, t.TempDir())
	listen, listenTLS := v.Listen, v.ListenTLS
	tmpl := ForKind(v.Kind)
	text, _ := Builtin(tmpl)
	tm, err := Parse(tmpl, text)
	if err != nil {
		t.Fatal(err)
	}
	for try := 0; ; try++ {
		if v.Kind == spec.KindNginx {
			// nginx -t binds its listeners, and a spec may name any
			// address: free ones on this machine stand in.
			// Two free ports picked one after the other can be the same one
			// (the first listener is closed): pick again until they differ.
			v.Listen, v.ListenTLS = localAddr(t, listen), localAddr(t, listenTLS)
			for i := 0; i < 20 && v.ListenTLS != "" && v.ListenTLS == v.Listen; i++ {
				v.ListenTLS = localAddr(t, listenTLS)
			}
		}
		out, err := Render(tm, v)
		if err != nil {
			t.Fatal(err)
		}
		if try == 0 {
			checkStructure(t, v, out, addr)
		}
		if _, err := checker.check(t, v.Kind, out, try > 0); err == nil || try == 3 {
			if err != nil {
				t.Fatalf("%v, 4 times", err)
			}
			return
		}
	}
}

// checkStructure checks what holds for every nginx config: values are
// single tokens or quoted, so outside quotes braces balance and there is
// one server block per server.
func checkStructure(t *testing.T, v plan.LBView, out []byte, addr string) {
	t.Helper()
	if v.Kind == spec.KindNginx {
		body := commentRe.ReplaceAllString(strings.ReplaceAll(string(out), addr, "ADDR"), "")
		body = quotedRe.ReplaceAllString(body, `"Q"`)
		if strings.Count(body, "{") != strings.Count(body, "}") {
			t.Fatalf("unbalanced braces:\n%s", out)
		}
		if n := strings.Count(body, "\nserver {"); n != len(v.Servers) {
			t.Fatalf("%d server blocks for %d servers:\n%s", n, len(v.Servers), out)
		}
	}
}

// FuzzRender feeds hostile values for the app name, hosts, path, listen
// addresses, spec directory, access log and certificate path through the
// spec (as a user would write them) and renders what validates, for nginx
// or HAProxy.
func FuzzRender(f *testing.F) {
	f.Add("web", "example.com", "/", "127.0.0.1:8080", "", "site", "logs/a.log", "", false, "127.0.0.1:32768")
	f.Add("a;b", "x.com; return 200", "/a{b", "127.0.0.1:80; evil", "127.0.0.1:443", "x; return 200 pwned; #", "a b.log", "c.pem", false, "1.2.3.4:5")
	f.Add("web", "*.example.com", "/api/v1", "[::1]:8080", "[::1]:8443", "my sites", "", "certs/w.crt", true, "[::1]:1")
	f.Add("web", "a.example.com,b.example.com", "/", "0.0.0.0:80", "0.0.0.0:443", "}; server { listen 1; }", "/var/log/$host.log", "/etc/ssl/a'b.pem", false, "127.0.0.1:1")
	f.Add("api", "*.a.example.com,a.example.com", "/%7e~+-._", "127.0.0.1:80", "127.0.0.2:80", "ünï €", "l.log", "/etc/ssl/x y.pem", true, "127.0.0.1:2")
	f.Fuzz(func(t *testing.T, name, hosts, path, listen, listenTLS, dir, accessLog, cert string, haproxy bool, addr string) {
		kind := spec.KindNginx
		if haproxy {
			kind = spec.KindHAProxy
			accessLog = "" // validate refuses an access log for HAProxy
		}
		hostList := strings.Split(hosts, ",")
		if hosts == "" {
			hostList = nil
		}
		tls := ""
		if cert != "" {
			tls = fmt.Sprintf(", tls: {cert: %q}", cert)
		}
		hq := make([]string, len(hostList))
		for i, h := range hostList {
			hq[i] = strconv.Quote(h)
		}
		y := fmt.Sprintf("nginx: {kind: %s, config: c.conf, test: [t], reload: [r], listen: %q, listen_tls: %q, access_log: %q}\napps:\n  - {name: %q, image: img, port: 80, lb: {host: [%s], path: %q%s}}\n",
			kind, listen, listenTLS, accessLog, name, strings.Join(hq, ", "), path, tls)
		if strings.ContainsAny(dir, "/\x00") || dir == "." || dir == ".." {
			dir = "d"
		}
		s, err := spec.Parse(filepath.Join(t.TempDir(), dir, "baton.yaml"), []byte(y))
		if err != nil {
			return
		}
		// Addresses come from Docker as IP:port, never from the spec.
		if h, p, err := net.SplitHostPort(addr); err != nil || net.ParseIP(h) == nil || p == "" || strings.Trim(p, "0123456789") != "" || len(p) > 5 {
			addr = "127.0.0.1:32768"
		}
		renderChecked(t, s, addr)
	})
}

// FuzzSpecConfig: any spec text validate accepts, read from a directory of
// any name, renders a config its balancer's check accepts.
func FuzzSpecConfig(f *testing.F) {
	for _, dir := range []string{"../testdata/specs/good", "../testdata/specs/bad", "../testdata/demo"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add("site", b)
			}
		}
	}
	for _, c := range goldenCases {
		f.Add(goldenRoot, []byte(c.spec))
	}
	for _, d := range hostileDirs {
		f.Add(d.name, []byte(goldenTLSSpec))
	}
	f.Fuzz(func(t *testing.T, dir string, data []byte) {
		if strings.ContainsAny(dir, "/\x00") || dir == "" || dir == "." || dir == ".." {
			dir = "d"
		}
		s, err := spec.Parse(filepath.Join(t.TempDir(), dir, "baton.yaml"), data)
		if err != nil || s.Nginx == nil {
			return
		}
		renderChecked(t, s, "127.0.0.1:32768")
	})
}

func TestRealCheckBudgetIsPerShape(t *testing.T) {
	a := shape("nginx", []byte(`server { listen 127.0.0.1:80; access_log "/a b/c.log"; }`))
	b := shape("nginx", []byte(`server { listen 10.0.0.1:8080; access_log "/x y/zz.log"; }`))
	c := shape("nginx", []byte(`server { listen 127.0.0.1:80; access_log "/a;b/c.log"; }`))
	if a != b {
		t.Error("configs differing only in names and numbers have different shapes")
	}
	if a == c {
		t.Error("a new character inside a quote is not a new shape")
	}
	testenv.Tool(t, "nginx")
}
