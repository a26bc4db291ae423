package commands_test

// Helpers of the edge end-to-end tests (TLS, WebSockets, HAProxy): a spec
// writer for any balancer and any lb section, curl, and a minimal
// WebSocket client on the standard library.

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// edgeBalancer is the balancer a spec drives.
type edgeBalancer struct {
	kind, conf, listen string
	test, reload       []string
}

func nginxBalancer(n *testenv.Nginx) edgeBalancer {
	return edgeBalancer{kind: "nginx", conf: n.Conf(), listen: n.Listen, test: n.Test(), reload: n.Reload()}
}

func haproxyBalancer(h *testenv.HAProxy) edgeBalancer {
	return edgeBalancer{kind: "haproxy", conf: h.Conf(), listen: h.Listen, test: h.Test(), reload: h.Reload()}
}

// edgeApp is one app of an edge spec.
type edgeApp struct {
	name, image string
	replicas    int
	lb          string // the lb mapping, YAML flow style
	drain       string // default 500ms
	extra       string // more lines for the app, indented by 4
}

// writeEdgeSpec writes e.spec for balancer b (nginxExtra: more lines for
// the nginx section, indented by 2) and apps.
func (e *e2e) writeEdgeSpec(b edgeBalancer, nginxExtra string, apps ...edgeApp) {
	e.t.Helper()
	q := func(argv []string) string {
		j, _ := json.Marshal(argv)
		return string(j)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "project: %s\nnginx:\n  kind: %s\n  config: %s\n  test: %s\n  reload: %s\n  listen: %s\n%sapps:\n",
		e.project, b.kind, b.conf, q(b.test), q(b.reload), b.listen, nginxExtra)
	for _, a := range apps {
		if a.drain == "" {
			a.drain = "500ms"
		}
		fmt.Fprintf(&sb, `  - name: %s
    image: %s
    pull: never
    port: 8080
    replicas: %d
    stop_grace: 5s
    drain: %s
    lb: %s
    health: {type: http, path: /healthz, timeout: 1s, ready_timeout: 20s}
%s`, a.name, a.image, a.replicas, a.drain, a.lb, a.extra)
	}
	if err := os.WriteFile(e.spec, []byte(sb.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// curl runs curl with args and returns stdout and the exit code; stderr is
// in the failure message of callers.
func curl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	testenv.Tool(t, "curl")
	return testenv.Run(t, "", append([]string{"curl", "-sS", "--max-time", "10"}, args...)...)
}

// wsClient is a minimal WebSocket client (RFC 6455): text frames out,
// frames in, the closing handshake.
type wsClient struct {
	conn net.Conn
	r    *bufio.Reader
	// Hello is the server's first message ("hello from web-1 (v1)").
	Hello string
}

// dialWS opens a WebSocket to ws://addr/ws with the Host header host.
func dialWS(addr, host string) (*wsClient, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", host, key)
	c := &wsClient{conn: conn, r: bufio.NewReader(conn)}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := c.r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		conn.Close()
		return nil, fmt.Errorf("upgrade answered %q: %v", strings.TrimSpace(status), err)
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	op, msg, err := c.read()
	if err != nil || op != 1 {
		conn.Close()
		return nil, fmt.Errorf("no hello: op %d %q %v", op, msg, err)
	}
	c.Hello = string(msg)
	_ = conn.SetReadDeadline(time.Time{})
	return c, nil
}

// Echo sends msg and reads the server's answer.
func (c *wsClient) Echo(msg string) (string, error) {
	if err := c.write(1, []byte(msg)); err != nil {
		return "", err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	op, b, err := c.read()
	if err != nil {
		return "", err
	}
	if op != 1 {
		return "", fmt.Errorf("got opcode %d (%q), want a text frame", op, b)
	}
	return string(b), nil
}

// errReset is returned when the connection was reset instead of closed.
var errReset = errors.New("connection reset")

// AwaitClose waits up to d for the server's close frame, answers it and
// waits for the server to end the TCP connection. It returns the close
// code; an error when the connection ended without a close frame or was
// reset.
func (c *wsClient) AwaitClose(d time.Duration) (int, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	op, b, err := c.read()
	if err != nil {
		if errors.Is(err, syscall.ECONNRESET) {
			return 0, errReset
		}
		return 0, fmt.Errorf("no close frame: %w", err)
	}
	if op != 8 || len(b) < 2 {
		return 0, fmt.Errorf("got opcode %d (%q), want a close frame", op, b)
	}
	code := int(binary.BigEndian.Uint16(b))
	_ = c.write(8, b[:2])
	// After the closing handshake the server closes TCP: EOF, not a reset.
	if _, err := c.r.ReadByte(); !errors.Is(err, io.EOF) {
		if errors.Is(err, syscall.ECONNRESET) {
			return code, errReset
		}
		return code, fmt.Errorf("after the close frame: %v, want EOF", err)
	}
	return code, nil
}

func (c *wsClient) Close() { c.conn.Close() }

func (c *wsClient) write(op byte, payload []byte) error {
	hdr := []byte{0x80 | op}
	n := len(payload)
	switch {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	default:
		hdr = append(hdr, 0x80|126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	hdr = append(hdr, key[:]...)
	body := make([]byte, n)
	for i := range payload {
		body[i] = payload[i] ^ key[i%4]
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write(append(hdr, body...))
	return err
}

func (c *wsClient) read() (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return 0, nil, err
	}
	op, n := h[0]&0x0f, int(h[1]&0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(b[:]))
	case 127:
		return 0, nil, errors.New("frame too large for this client")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return 0, nil, err
	}
	return op, b, nil
}
