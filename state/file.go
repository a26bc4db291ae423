package state

// file.go is the state file on disk: the lock on its sidecar file, and
// reading, decoding and saving it (the rules in state.go's comment).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
)

// LockedError says another process holds the lock. Exit code 75.
type LockedError struct {
	LockFile string
	Holder   string // "pid 1234" when the holder wrote it, else ""
	Waited   time.Duration
}

func (e *LockedError) Error() string {
	who := ""
	if e.Holder != "" {
		who = " by " + e.Holder
	}
	return fmt.Sprintf("state is locked%s: %s (waited %s)", who, e.LockFile, e.Waited)
}

// File is an open, locked state file. Close releases the lock.
type File struct {
	path string
	lock *flock.Flock
}

// Open takes the exclusive lock on path's sidecar lock file, waiting up to
// timeout (0 means one try). It creates the directory if needed.
func Open(ctx context.Context, path string, timeout time.Duration) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	lockPath := path + ".lock"
	if _, err := atomicfile.Check(lockPath); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	fl := flock.New(lockPath, flock.SetFlag(os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK))
	ok, err := fl.TryLock()
	if err == nil && !ok && timeout > 0 {
		lctx, cancel := context.WithTimeout(ctx, timeout)
		ok, err = fl.TryLockContext(lctx, 50*time.Millisecond)
		cancel()
		if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
			err = nil
		}
	}
	if errors.Is(err, unix.ELOOP) {
		err = fmt.Errorf("it is a symlink; baton never opens one there: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if !ok {
		return nil, &LockedError{LockFile: lockPath, Holder: holder(lockPath), Waited: timeout}
	}
	writeHolder(fl, lockPath)
	// Any temporary file of a save is a leftover of a killed process: all
	// saves happen under this lock.
	atomicfile.RemoveLeftovers(path)
	return &File{path: path, lock: fl}, nil
}

// writeHolder records "pid N" in the lock file for the next process's
// message. The content is advisory only; the flock is the lock. It writes
// only to the very file it locked, opened without following a symlink and
// without truncating on open: a file swapped in under the name is left
// alone.
func writeHolder(fl *flock.Flock, lockPath string) {
	locked, err := fl.Stat()
	if err != nil {
		return
	}
	f, err := os.OpenFile(lockPath, os.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || !os.SameFile(fi, locked) {
		return
	}
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+"\n"), 0)
	}
}

func holder(lockPath string) string {
	b, err := atomicfile.Read(lockPath, 64)
	if err != nil {
		return ""
	}
	h := strings.TrimSpace(string(b))
	if !strings.HasPrefix(h, "pid ") || len(h) > 32 {
		return ""
	}
	return h
}

// Path is the state file's path.
func (f *File) Path() string { return f.path }

// Load reads the state (see Read).
func (f *File) Load() (*State, error) { return Read(f.path) }

// Read reads the state at path without the lock (a save replaces the file
// atomically, so a reader sees a whole version). A missing file is an
// empty state; a symlink, a FIFO, a device, a file over MaxBytes, or an
// unreadable, corrupt, invalid or future-version file is an error naming
// it. It never blocks on what is at path.
func Read(path string) (*State, error) {
	b, err := atomicfile.Read(path, MaxBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return Decode(path, b)
}

// Decode parses state bytes read from path (for messages).
func Decode(path string, b []byte) (*State, error) {
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("state %s is corrupt (%v); baton will not overwrite it: move it aside to start from an empty state", path, err)
	}
	if probe.Version == nil {
		return nil, fmt.Errorf("state %s has no version field; baton will not overwrite it", path)
	}
	if *probe.Version > Version {
		return nil, fmt.Errorf("state %s is version %d, newer than this baton understands (%d); upgrade baton", path, *probe.Version, Version)
	}
	if *probe.Version < 1 {
		return nil, fmt.Errorf("state %s has invalid version %d", path, *probe.Version)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	s := New()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("state %s is corrupt (%v); baton will not overwrite it: move it aside to start from an empty state", path, err)
	}
	if err := s.normalize(); err != nil {
		return nil, fmt.Errorf("state %s is invalid: %v; baton will not overwrite it: fix it or move it aside to start from an empty state", path, err)
	}
	return s, nil
}

// Save writes the state atomically.
func (f *File) Save(s *State) error {
	s.Version = Version
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := WriteFile(f.path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// Close releases the lock.
func (f *File) Close() error { return f.lock.Unlock() }

// WriteFile replaces path with data through the one atomic writer
// (internal/atomicfile): whole or not at all, never through a symlink,
// keeping the owner and mode of the file it replaces.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return atomicfile.WriteFile(path, data, perm)
}
