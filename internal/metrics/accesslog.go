// Package metrics gathers what the autoscaler decides on: request rate,
// p95 latency and errors per app from the balancer's access log, read
// incrementally between passes.
//
// This file enforces "never count a line twice": the read position (file
// identity and offset) lives in the state file; only whole lines are
// consumed; a rotation by rename finishes the old file (found beside it as
// PATH.1) before starting the new one, and a truncation (copytruncate)
// starts again from the top.
package metrics

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/baton-orchestrator/baton/state"
)

// Format is the nginx log_format baton's templates declare.
const Format = `baton1 $msec $baton_app $status $request_time`

// AppSample is what the new lines say about one app.
type AppSample struct {
	Requests  int
	Errors    int       // 5xx answers
	Latencies []float64 // seconds
}

// P95 returns the 95th percentile latency in milliseconds (nearest rank).
func (a *AppSample) P95() float64 {
	if len(a.Latencies) == 0 {
		return 0
	}
	l := append([]float64(nil), a.Latencies...)
	sort.Float64s(l)
	i := int(0.95*float64(len(l))+0.999999) - 1
	return l[max(0, min(i, len(l)-1))] * 1000
}

// Mean returns the mean latency in seconds.
func (a *AppSample) Mean() float64 {
	if len(a.Latencies) == 0 {
		return 0
	}
	var s float64
	for _, v := range a.Latencies {
		s += v
	}
	return s / float64(len(a.Latencies))
}

// ParseLine parses one access-log line in Format; ok is false for any
// other line (they are skipped, never an error).
func ParseLine(line string) (app string, status int, seconds float64, ok bool) {
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "baton1" {
		return "", 0, 0, false
	}
	status, err := strconv.Atoi(f[3])
	if err != nil || status < 100 || status > 599 {
		return "", 0, 0, false
	}
	seconds, err = strconv.ParseFloat(f[4], 64)
	if err != nil || seconds < 0 || seconds > 86400 {
		return "", 0, 0, false
	}
	if f[2] == "" || f[2] == "-" {
		return "", 0, 0, false
	}
	return f[2], status, seconds, true
}

func identity(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

// maxRead bounds one pass's read, so a huge backlog cannot stall a pass;
// the rest is read by the next pass.
const maxRead = 256 << 20

// Read consumes the lines written since pos and returns the samples per
// app, the new position and the time the lines cover. A first read (no
// position) only records where the file ends: it has no interval to divide
// by.
func Read(path string, pos *state.LogPos, now time.Time) (map[string]*AppSample, *state.LogPos, time.Duration, error) {
	samples := map[string]*AppSample{}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return samples, pos, 0, nil // nginx has not logged yet
	}
	if err != nil {
		return nil, pos, 0, fmt.Errorf("access log: %w", err)
	}
	dev, ino := identity(fi)
	next := &state.LogPos{Path: path, Dev: dev, Ino: ino, At: now.UTC()}
	if pos == nil || pos.Path != path {
		next.Offset = fi.Size()
		return samples, next, 0, nil
	}
	start := pos.Offset
	if pos.Dev != dev || pos.Ino != ino {
		// Rotated by rename: finish the old file if it is beside the new one.
		if old, err := os.Stat(path + ".1"); err == nil {
			if d, i := identity(old); d == pos.Dev && i == pos.Ino {
				if _, err := consume(path+".1", pos.Offset, samples); err != nil {
					return nil, pos, 0, err
				}
			}
		}
		start = 0
	} else if fi.Size() < start {
		start = 0 // truncated in place (copytruncate)
	}
	end, err := consume(path, start, samples)
	if err != nil {
		return nil, pos, 0, err
	}
	next.Offset = end
	return samples, next, now.Sub(pos.At), nil
}

// consume reads whole lines from offset and returns the offset after the
// last whole line.
func consume(path string, offset int64, samples map[string]*AppSample) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return offset, fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, fmt.Errorf("access log: %w", err)
	}
	r := bufio.NewReaderSize(io.LimitReader(f, maxRead), 64<<10)
	pos := offset
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// A partial last line is left for the next pass.
			return pos, nil
		}
		pos += int64(len(line))
		app, status, secs, ok := ParseLine(line)
		if !ok {
			continue
		}
		s := samples[app]
		if s == nil {
			s = &AppSample{}
			samples[app] = s
		}
		s.Requests++
		if status >= 500 {
			s.Errors++
		}
		s.Latencies = append(s.Latencies, secs)
	}
}
