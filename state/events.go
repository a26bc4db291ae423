package state

// This file enforces the event log's rules: append-only JSON lines, written
// only while the state lock is held (through File), rotated by size so it
// never grows without bound, never through a symlink, and each append is
// whole or absent: a torn tail a crash left (bytes after the last newline)
// is cut before the next append, and an append that fails part way (a full
// disk) is truncated back, so no event is ever glued to a torn line. A line
// is at most MaxEventLine bytes (long fields are cut to fit), and a reader
// skips and reports a longer one instead of failing.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
)

// Event is one line of the event log: an action a pass took or a condition
// it found, with its reason.
type Event struct {
	Time      time.Time `json:"time"`
	Command   string    `json:"command"`
	Type      string    `json:"type"` // start, replace, remove, hold, crashloop, unhealthy, ...
	App       string    `json:"app,omitempty"`
	Target    string    `json:"target,omitempty"`
	Container string    `json:"container,omitempty"` // the container started, when one was
	Reason    string    `json:"reason"`
	Error     string    `json:"error,omitempty"`
	// Resolved marks the end of an incident of this type (a crash loop, a
	// paused rollout, panic routing, a node down).
	Resolved bool `json:"resolved,omitempty"`
}

// Event log limits: the live file is rotated past MaxEventBytes, and
// EventFiles rotated files are kept (.1 newest).
// A line longer than MaxEventLine is skipped by readers; AppendEvents
// cuts an event's reason and error to MaxEventField bytes each so that its
// own lines always fit.
const (
	MaxEventBytes = 4 << 20
	EventFiles    = 3
	MaxEventLine  = 1 << 20
	MaxEventField = 64 << 10
)

// EventsPath is the event log beside a state file: state.json →
// state.events.jsonl.
func EventsPath(statePath string) string {
	return strings.TrimSuffix(statePath, ".json") + ".events.jsonl"
}

// Events is the event log of this state file.
func (f *File) Events() string { return EventsPath(f.path) }

// AppendEvents appends events to the log, rotating it first when it would
// pass MaxEventBytes. The caller holds the lock (File is the lock).
func (f *File) AppendEvents(events []Event) error {
	if len(events) == 0 {
		return nil
	}
	var buf bytes.Buffer
	for _, e := range events {
		e.Reason, e.Error = cut(e.Reason), cut(e.Error)
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	path := f.Events()
	fi, err := atomicfile.Check(path)
	if err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	if fi != nil && fi.Size()+int64(buf.Len()) > MaxEventBytes {
		if err := rotate(path); err != nil {
			return err
		}
	}
	out, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
	if err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	defer out.Close()
	if fi, err = out.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("event log %s: not a regular file", path)
	}
	size, err := cutTornTail(out, fi.Size())
	if err != nil {
		return fmt.Errorf("event log %s: %w", path, err)
	}
	if _, err := out.Write(buf.Bytes()); err != nil {
		// Whole or not at all: cut what part of it got written.
		_ = out.Truncate(size)
		return fmt.Errorf("event log %s: %w", path, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("event log %s: %w", path, err)
	}
	return nil
}

// cut shortens a field to MaxEventField bytes (on a rune boundary).
func cut(s string) string {
	if len(s) <= MaxEventField {
		return s
	}
	n := MaxEventField - 32
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + fmt.Sprintf(" [%d bytes cut]", len(s)-n)
}

// cutTornTail truncates the file back to its last newline when it does not
// end with one (a crash in the middle of an append), and returns its size.
func cutTornTail(f *os.File, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		return size, nil
	}
	keep := int64(0)
	chunk := make([]byte, 64<<10)
	for end := size; end > 0 && keep == 0; {
		start := max(end-int64(len(chunk)), 0)
		b := chunk[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			keep = start + int64(i) + 1
		}
		end = start
	}
	if err := f.Truncate(keep); err != nil {
		return 0, err
	}
	return keep, nil
}

func rotate(path string) error {
	for i := EventFiles; i >= 1; i-- {
		from := path
		if i > 1 {
			from = fmt.Sprintf("%s.%d", path, i-1)
		}
		if err := os.Rename(from, fmt.Sprintf("%s.%d", path, i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate event log: %w", err)
		}
	}
	return nil
}

// Skipped is a line of the log a reader left out.
type Skipped struct {
	File  string
	Line  int
	Bytes int
	Why   string // "longer than MaxEventLine" or "not an event"
}

func (k Skipped) String() string {
	return fmt.Sprintf("%s:%d: skipped a line of %d bytes: %s", k.File, k.Line, k.Bytes, k.Why)
}

// ReadEvents returns the events of the log beside statePath, oldest first,
// across rotated files (see ReadEventLog; skipped lines are dropped).
func ReadEvents(statePath string) ([]Event, error) {
	events, _, err := ReadEventLog(statePath)
	return events, err
}

// ReadEventLog returns the events of the log beside statePath, oldest
// first, across rotated files, and the lines it skipped: one that does not
// parse (a torn last line after a crash) or is longer than MaxEventLine
// (read past without holding it in memory). It needs no lock: lines are
// appended whole.
func ReadEventLog(statePath string) ([]Event, []Skipped, error) {
	path := EventsPath(statePath)
	var out []Event
	var skipped []Skipped
	for i := EventFiles; i >= 0; i-- {
		p := path
		if i > 0 {
			p = fmt.Sprintf("%s.%d", path, i)
		}
		fh, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("refusing %s: it is a symlink", p)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read events: %w", err)
		}
		if fi, err := fh.Stat(); err != nil || !fi.Mode().IsRegular() {
			fh.Close()
			return nil, nil, fmt.Errorf("read events: refusing %s: not a regular file", p)
		}
		err = eachLine(fh, MaxEventLine, func(n int, line []byte, size int) {
			if line == nil {
				skipped = append(skipped, Skipped{File: p, Line: n, Bytes: size, Why: fmt.Sprintf("longer than %d bytes", MaxEventLine)})
				return
			}
			var e Event
			if json.Unmarshal(line, &e) != nil {
				skipped = append(skipped, Skipped{File: p, Line: n, Bytes: size, Why: "not an event (a torn write?)"})
				return
			}
			out = append(out, e)
		})
		fh.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("read events %s: %w", p, err)
		}
	}
	return out, skipped, nil
}

// eachLine calls f for each line of r (without its newline) with its
// number; a line longer than limit is read past and given as nil with its
// size. Empty lines are skipped.
func eachLine(r io.Reader, limit int, f func(n int, line []byte, size int)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	size, n := 0, 0
	over := false
	for {
		chunk, err := br.ReadSlice('\n')
		size += len(chunk)
		if !over {
			if size > limit+1 { // +1: the newline
				over, long = true, nil
			} else {
				long = append(long, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if size > 0 {
			n++
			line := bytes.TrimSuffix(long, []byte("\n"))
			switch {
			case over:
				f(n, nil, size)
			case len(bytes.TrimSpace(line)) > 0:
				f(n, line, size)
			}
		}
		long, size, over = long[:0], 0, false
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
