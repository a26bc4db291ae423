package main

// The edge endpoints of the test server: what a balancer in front of it
// forwards, and a WebSocket echo (a minimal RFC 6455 server on the
// standard library). On SIGTERM the server closes every WebSocket with
// close code 1001 ("going away"), finishes its requests and exits 0, as an
// app drained by baton does.
//
//	GET /headers   the forwarded headers the request carried, one per line
//	GET /ws        WebSocket: first "hello from web-1 (v1)", then every text
//	               message back as "echo: <message>"

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// addEdgeHandlers adds /headers and /ws to mux; whoami names the replica.
func addEdgeHandlers(mux *http.ServeMux, whoami string) {
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host: %s\n", r.Host)
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Real-IP", "Connection", "Upgrade"} {
			fmt.Fprintf(w, "%s: %s\n", strings.ToLower(h), r.Header.Get(h))
		}
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { serveWebSocket(w, r, whoami) })
}

// sockets are the open WebSockets, closed with 1001 on SIGTERM.
var sockets = struct {
	sync.Mutex
	m  map[*wsConn]bool
	wg sync.WaitGroup
}{m: map[*wsConn]bool{}}

type wsConn struct {
	mu      sync.Mutex // serialises writes
	conn    net.Conn
	closing bool // we sent a close frame
}

func (c *wsConn) write(op byte, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return errors.New("closing")
	}
	if op == 8 {
		c.closing = true
	}
	return writeFrame(c.conn, op, payload, false)
}

func serveWebSocket(w http.ResponseWriter, r *http.Request, whoami string) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "a WebSocket upgrade was expected", http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
	if err := rw.Flush(); err != nil {
		conn.Close()
		return
	}
	c := &wsConn{conn: conn}
	sockets.Lock()
	sockets.m[c] = true
	sockets.wg.Add(1)
	sockets.Unlock()
	defer func() {
		sockets.Lock()
		delete(sockets.m, c)
		sockets.Unlock()
		conn.Close()
		sockets.wg.Done()
	}()
	if c.write(1, []byte("hello from "+whoami)) != nil {
		return
	}
	for {
		op, payload, err := readFrame(rw.Reader)
		if err != nil {
			return
		}
		switch op {
		case 1: // text
			if c.write(1, append([]byte("echo: "), payload...)) != nil {
				return
			}
		case 9: // ping
			_ = c.write(10, payload)
		case 8: // close: answer it unless we started it, then end the connection
			_ = c.write(8, payload)
			return
		}
	}
}

// serveUntilTerm runs srv until SIGTERM, then closes the WebSockets with
// 1001, lets requests finish (at most 5 s) and returns.
func serveUntilTerm(srv *http.Server) error {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-term:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	sockets.Lock()
	for c := range sockets.m {
		_ = c.write(8, closePayload(1001, "going away"))
	}
	sockets.Unlock()
	done := make(chan struct{})
	go func() { sockets.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return <-shut
}

func closePayload(code uint16, reason string) []byte {
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, code)
	return append(b, reason...)
}

// writeFrame writes one unfragmented frame; a client masks its frames.
func writeFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	hdr := []byte{0x80 | op, 0}
	n := len(payload)
	switch {
	case n < 126:
		hdr[1] = byte(n)
	case n < 1<<16:
		hdr[1] = 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr[1] = 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	body := payload
	if mask {
		hdr[1] |= 0x80
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		hdr = append(hdr, key[:]...)
		body = make([]byte, n)
		for i := range payload {
			body[i] = payload[i] ^ key[i%4]
		}
	}
	_, err := w.Write(append(hdr, body...))
	return err
}

// readFrame reads one frame (at most 1 MiB), unmasking it.
func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	op, n := h[0]&0x0f, uint64(h[1]&0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, errors.New("frame too large")
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return op, payload, nil
}
