// Command app is baton's demo and test server: a tiny HTTP server built
// statically into a FROM scratch image. It answers who it is, so requests
// through the balancer show which replica served them.
//
//	GET /          "hello from web-1 (v1)"
//	GET /healthz   200, or what /control/health set
//	GET /control/health?status=500   make /healthz answer 500 from now on
//	GET /control/hang                make /healthz hang
//	GET /control/oom                 allocate memory until the kernel kills the process
//	GET /data/append?line=TEXT       append TEXT and a newline to DATA_FILE (fsynced)
//	GET /data/read                   DATA_FILE's content
//	GET /fetch?url=URL               GET URL from inside the container, answer its body (for name resolution on a network)
//	GET /log/flood?bytes=N&seconds=S print N bytes per second on stdout for S seconds; answers when done
//	GET /headers, GET /ws            forwarded headers, a WebSocket echo (edge.go)
//	GET /load/...                    CPU, memory and slow requests on demand (load.go)
//
// On SIGTERM it closes its WebSockets (1001), finishes its requests and
// exits 0.
//
// "app check" GETs its own /healthz and exits 0 on 200, 1 otherwise: the
// command for exec probes and the image HEALTHCHECK (the image has no shell).
//
// Environment: PORT (default 8080), VERSION (default "v1"), DATA_FILE
// (default /data/log), BATON_APP and
// BATON_REPLICA (set by baton), HEALTH_DELAY (e.g. 2s: /healthz fails until
// this long after start), EXIT_AFTER (e.g. 0s: exit 1 this long after start),
// BALLAST_MB (e.g. 150: hold that much memory, touched, for as long as it runs).
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ballast is memory held on purpose (BALLAST_MB), for memory-pressure tests.
var ballast []byte

func main() {
	port := env("PORT", "8080")
	if len(os.Args) > 1 && os.Args[1] == "check" {
		client := http.Client{Timeout: 2 * time.Second}
		resp, err := client.Get("http://127.0.0.1:" + port + "/healthz")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			fmt.Fprintln(os.Stderr, "healthz answered", resp.StatusCode)
			os.Exit(1)
		}
		return
	}
	version := env("VERSION", "v1")
	who := env("BATON_APP", "app") + "-" + env("BATON_REPLICA", "0")
	started := time.Now()
	var healthStatus atomic.Int64
	healthStatus.Store(200)
	var hang atomic.Bool
	if mb, err := strconv.Atoi(os.Getenv("BALLAST_MB")); err == nil && mb > 0 {
		ballast = make([]byte, mb<<20)
		for i := 0; i < len(ballast); i += 4096 {
			ballast[i] = 1
		}
	}
	delay, _ := time.ParseDuration(os.Getenv("HEALTH_DELAY"))
	if d, err := time.ParseDuration(os.Getenv("EXIT_AFTER")); err == nil {
		go func() {
			time.Sleep(d)
			fmt.Fprintln(os.Stderr, "exiting as EXIT_AFTER says")
			os.Exit(1)
		}()
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s (%s)\n", who, version)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			<-r.Context().Done()
			return
		}
		if time.Since(started) < delay {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(int(healthStatus.Load()))
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/control/health", func(w http.ResponseWriter, r *http.Request) {
		if s, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil && s >= 100 && s <= 599 {
			healthStatus.Store(int64(s))
		}
		fmt.Fprintln(w, "health status", healthStatus.Load())
	})
	mux.HandleFunc("/control/hang", func(w http.ResponseWriter, r *http.Request) {
		hang.Store(true)
		fmt.Fprintln(w, "healthz hangs from now on")
	})
	mux.HandleFunc("/control/oom", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "allocating")
		go func() {
			var hog [][]byte
			for {
				b := make([]byte, 1<<20)
				for i := range b {
					b[i] = 1 // touch every page
				}
				hog = append(hog, b)
			}
		}()
	})
	addEdgeHandlers(mux, who+" ("+version+")")
	stackHandlers(mux)
	registerLoad(mux)
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := serveUntilTerm(srv); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// stackHandlers are the endpoints of the stack tests: data on a volume,
// name resolution on a network, a log flood for log caps.
func stackHandlers(mux *http.ServeMux) {
	file := env("DATA_FILE", "/data/log")
	var mu sync.Mutex
	mux.HandleFunc("/data/append", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, err = fmt.Fprintln(f, r.URL.Query().Get("line"))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "appended")
	})
	mux.HandleFunc("/data/read", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		b, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("/fetch", func(w http.ResponseWriter, r *http.Request) {
		client := http.Client{Timeout: 3 * time.Second}
		resp, err := client.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	})
	mux.HandleFunc("/log/flood", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
		secs, _ := strconv.Atoi(r.URL.Query().Get("seconds"))
		n, secs = min(max(n, 0), 16<<20), min(max(secs, 0), 300)
		line := strings.Repeat("x", 1023) + "\n"
		total := 0
		for s := 0; s < secs; s++ {
			next := time.Now().Add(time.Second)
			for b := 0; b < n; b += len(line) {
				k, _ := os.Stdout.WriteString(line)
				total += k
			}
			time.Sleep(time.Until(next))
		}
		fmt.Fprintf(w, "printed %d bytes\n", total)
	})
}
