package main

// load.go holds the endpoints that make load for the autoscaling tests,
// each bounded whatever the query asks:
//
//	GET /load/cpu?ms=200              burn CPU for ms milliseconds (at most 2000), then answer
//	GET /load/memory?mb=40&for=10s    hold mb MiB, touched (at most 256), for a while (at most 60s),
//	                                  replacing what an earlier call holds (the same size again
//	                                  only extends the while); answers at once
//	GET /load/slow?ms=300             answer after ms milliseconds (at most 5000): latency, and
//	                                  a request in flight for that long

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

func registerLoad(mux *http.ServeMux) {
	mux.HandleFunc("/load/cpu", loadCPU)
	mux.HandleFunc("/load/memory", loadMemory)
	mux.HandleFunc("/load/slow", loadSlow)
}

// queryInt reads a whole-number query parameter, clamped to [0, most].
func queryInt(r *http.Request, name string, def, most int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil {
		n = def
	}
	return min(max(n, 0), most)
}

var sink uint64 // keeps the CPU burn from being optimized away

func loadCPU(w http.ResponseWriter, r *http.Request) {
	d := time.Duration(queryInt(r, "ms", 100, 2000)) * time.Millisecond
	x := uint64(1)
	for end := time.Now().Add(d); time.Now().Before(end) && r.Context().Err() == nil; {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink += x
	fmt.Fprintf(w, "burned %s\n", d)
}

var held struct {
	sync.Mutex
	b     []byte
	timer *time.Timer
}

func loadMemory(w http.ResponseWriter, r *http.Request) {
	mb := queryInt(r, "mb", 16, 256)
	d, err := time.ParseDuration(r.URL.Query().Get("for"))
	if err != nil || d <= 0 {
		d = 10 * time.Second
	}
	d = min(d, time.Minute)
	held.Lock()
	defer held.Unlock()
	if held.timer != nil {
		held.timer.Stop()
	}
	if len(held.b) != mb<<20 { // the same size again only re-arms the timer
		held.b = nil
		runtime.GC() // never hold the old and the new at once
		held.b = make([]byte, mb<<20)
		for i := 0; i < len(held.b); i += 4096 {
			held.b[i] = 1 // touch every page: resident, not just reserved
		}
	}
	held.timer = time.AfterFunc(d, func() {
		held.Lock()
		held.b = nil
		held.Unlock()
		runtime.GC()
		debug.FreeOSMemory() // give the pages back, so the usage falls
	})
	fmt.Fprintf(w, "holding %d MiB for %s\n", mb, d)
}

func loadSlow(w http.ResponseWriter, r *http.Request) {
	d := time.Duration(queryInt(r, "ms", 100, 5000)) * time.Millisecond
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
	fmt.Fprintf(w, "slept %s\n", d)
}
