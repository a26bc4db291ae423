package state

// This file enforces the event log's rules: append-only JSON lines, written
// only while the state lock is held (through File), rotated by size so it
// never grows without bound, and each append is one write(2) of whole lines
// so a crash never leaves half a line followed by more lines.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
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
}

// Event log limits: the live file is rotated past MaxEventBytes, and
// EventFiles rotated files are kept (.1 newest).
const (
	MaxEventBytes = 4 << 20
	EventFiles    = 3
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
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	path := f.Events()
	if fi, err := os.Stat(path); err == nil && fi.Size()+int64(buf.Len()) > MaxEventBytes {
		if err := rotate(path); err != nil {
			return err
		}
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	if _, err := out.Write(buf.Bytes()); err != nil {
		out.Close()
		return fmt.Errorf("event log %s: %w", path, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("event log %s: %w", path, err)
	}
	return out.Close()
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

// ReadEvents returns the events of the log beside statePath, oldest first,
// across rotated files. It needs no lock: lines are appended whole. A line
// that does not parse (a torn last line after a crash) is skipped.
func ReadEvents(statePath string) ([]Event, error) {
	path := EventsPath(statePath)
	var out []Event
	for i := EventFiles; i >= 0; i-- {
		p := path
		if i > 0 {
			p = fmt.Sprintf("%s.%d", path, i)
		}
		fh, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				out = append(out, e)
			}
		}
		err = sc.Err()
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("read events %s: %w", p, err)
		}
	}
	return out, nil
}
