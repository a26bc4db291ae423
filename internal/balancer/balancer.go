// Package balancer owns the balancer's config file: it writes a rendered
// config atomically, runs the test command, restores the last good bytes
// when the test fails, and reloads.
//
// This file enforces two rules.
//
// Never reload untested bytes: bytes are reloaded only after a test of
// exactly those bytes succeeded, and the state records which bytes were
// tested (Balancer.Tested), not only which were reloaded. A pass that finds
// bytes on disk that were never tested (a pass killed while its test ran,
// a hand edit) tests them before anything reloads them.
//
// Never leave a config that failed the test: the last bytes that passed
// are kept beside the file (GoodPath: ".<name>.baton-good", hidden, so an
// "include conf.d/*" does not read it), and a failed test puts back the
// previous bytes when they had passed, else that last good copy, else
// removes the file (when nothing known good ever was there).
package balancer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
	"github.com/baton-orchestrator/baton/internal/proc"
	"github.com/baton-orchestrator/baton/state"
)

// MaxConfig bounds the bytes read back from a config file.
const MaxConfig = 64 << 20

// Config says where the file lives and how to test and reload it.
type Config struct {
	Path   string   // absolute path of the file baton owns
	Test   []string // argv, run without a shell
	Reload []string // argv, run without a shell
	Dir    string   // working directory of the commands
	// Timeout bounds each command (its whole process group is killed at
	// it); 0 means 30s.
	Timeout time.Duration
	// Files the config makes the balancer load (certificates, keys): their
	// contents are part of the config's Digest.
	Files []string
}

// Result says what Apply did.
type Result struct {
	Changed  bool // the file's bytes changed
	Tested   bool // the test command ran on the new bytes and passed
	Reloaded bool // the reload command ran and succeeded
}

// CommandError carries the balancer's own message.
type CommandError struct {
	What   string // "test" or "reload"
	Argv   []string
	Output string
	Err    error
}

func (e *CommandError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out != "" {
		out = ":\n" + indent(out)
	}
	return fmt.Sprintf("%s command %q failed (%v)%s", e.What, strings.Join(e.Argv, " "), e.Err, out)
}

func (e *CommandError) Unwrap() error { return e.Err }

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// Hash is the hex sha256 of config bytes, as kept in the state file.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// GoodPath is where the last config bytes that passed the test are kept:
// beside the file, hidden.
func GoodPath(path string) string {
	dir, base := filepath.Split(path)
	return filepath.Join(dir, "."+base+".baton-good")
}

// Current returns the file's bytes and whether it exists. A symlink or
// anything but a regular file is refused.
func Current(path string) ([]byte, bool, error) {
	b, err := atomicfile.Read(path, MaxConfig)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return b, true, nil
}

// NeedsApply reports whether Apply would change, test or reload anything;
// files are the ones the config references (Config.Files).
func NeedsApply(old []byte, existed bool, rendered []byte, st *state.Balancer, files ...string) bool {
	return Behind(old, existed, rendered, st, Digest(rendered, files))
}

// Behind is NeedsApply for the rendered bytes' digest h (Digest), without
// reading anything: the file is missing or differs from the render, or
// its digest is not the one last tested and reloaded.
func Behind(old []byte, existed bool, rendered []byte, st *state.Balancer, h string) bool {
	return !existed || !bytes.Equal(old, rendered) || st.Tested != h || st.Reloaded != h
}

// Apply makes the file hold rendered and the balancer run it. It writes
// only when the bytes differ, tests bytes that were not tested (new or
// found on disk), and reloads only tested bytes that differ from the last
// successful reload. It records both in st.
func Apply(ctx context.Context, c Config, rendered []byte, st *state.Balancer, now time.Time) (Result, error) {
	var res Result
	// A killed pass may have left temporary files beside the config and its
	// good copy; every write of them happens under the state lock the
	// caller holds.
	atomicfile.RemoveLeftovers(c.Path, GoodPath(c.Path))
	old, existed, err := Current(c.Path)
	if err != nil {
		return res, err
	}
	h := c.digest(rendered)
	if !Behind(old, existed, rendered, st, h) {
		return res, nil
	}
	same := existed && bytes.Equal(old, rendered)
	if !same || st.Tested != h {
		var back fallback
		if same {
			// Untested bytes equal to the render: test them in place.
			if back, err = c.lastGood(); err != nil {
				return res, err
			}
			if back.remove && st.Reloaded == h {
				back = fallback{keep: true, what: "the balancer last reloaded these bytes, so " + c.Path + " was kept"}
			}
		} else {
			if back, err = c.previous(ctx, old, existed, st, now); err != nil {
				return res, err
			}
			if err := atomicfile.WriteFile(c.Path, rendered, 0o644); err != nil {
				return res, err
			}
		}
		if err := c.run(ctx, "test", c.Test); err != nil {
			if rerr := back.restore(c.Path); rerr != nil {
				return res, errors.Join(err, rerr)
			}
			if same && len(c.Files) > 0 {
				back.what += "; the files it references (certificates, keys) changed since their last test: the balancer keeps running what it loaded at its last reload"
			}
			return res, fmt.Errorf("%w\n%s", err, back.what)
		}
		st.Tested, st.TestedAt = h, now.UTC()
		res.Changed, res.Tested = !same, true
		if err := atomicfile.WriteFile(GoodPath(c.Path), rendered, 0o644); err != nil {
			return res, fmt.Errorf("keep the last good config: %w", err)
		}
		if st.Reloaded == h {
			return res, nil // the balancer already runs these bytes
		}
	}
	if err := c.run(ctx, "reload", c.Reload); err != nil {
		return res, err
	}
	res.Reloaded = true
	st.Reloaded = h
	st.ReloadedAt = now.UTC()
	return res, nil
}

// fallback is what a failed test puts back: bytes, no file, or (keep)
// the file as it is.
type fallback struct {
	bytes  []byte
	remove bool
	keep   bool
	what   string // for the error message
}

func (f fallback) restore(path string) error {
	if f.keep {
		return nil
	}
	if f.remove {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove rejected %s: %w", path, err)
		}
		return nil
	}
	if err := atomicfile.WriteFile(path, f.bytes, 0o644); err != nil {
		return fmt.Errorf("restore %s: %w", path, err)
	}
	return nil
}

// lastGood is the fallback for untested bytes: the last good copy, or no
// file when there is none.
func (c Config) lastGood() (fallback, error) {
	good, ok, err := Current(GoodPath(c.Path))
	if err != nil {
		return fallback{}, err
	}
	if ok {
		return fallback{bytes: good, what: "the last good config (" + GoodPath(c.Path) + ") was restored"}, nil
	}
	return fallback{remove: true, what: "no config ever passed the test here, so the rejected " + c.Path + " was removed"}, nil
}

// previous decides what to restore when new bytes replace old ones: the
// old bytes when they passed the test (made the good copy first, so a kill
// at any later point finds it), else the last good copy, else the old
// bytes when the balancer last reloaded them (a state written before baton
// recorded tests), else — first contact with a file baton never wrote —
// the old bytes if they pass the test now, else no file.
func (c Config) previous(ctx context.Context, old []byte, existed bool, st *state.Balancer, now time.Time) (fallback, error) {
	kept := fallback{bytes: old, what: "the previous " + c.Path + " was kept"}
	if !existed {
		good, err := c.lastGood()
		if err != nil || !good.remove {
			return good, err
		}
		return fallback{remove: true, what: "there was no previous file, so the rejected one was removed"}, nil
	}
	if st.Tested == c.digest(old) {
		return kept, c.keepGood(old)
	}
	good, err := c.lastGood()
	if err != nil || !good.remove {
		return good, err
	}
	if st.Reloaded == c.digest(old) {
		return kept, nil
	}
	if err := c.run(ctx, "test", c.Test); err != nil {
		return fallback{remove: true, what: "the previous " + c.Path + " had never been tested and fails the test too, so the file was removed"}, nil
	}
	st.Tested, st.TestedAt = c.digest(old), now.UTC()
	return kept, c.keepGood(old)
}

// keepGood makes b the good copy unless it already is.
func (c Config) keepGood(b []byte) error {
	good, ok, err := Current(GoodPath(c.Path))
	if err != nil {
		return err
	}
	if ok && bytes.Equal(good, b) {
		return nil
	}
	if err := atomicfile.WriteFile(GoodPath(c.Path), b, 0o644); err != nil {
		return fmt.Errorf("keep the last good config: %w", err)
	}
	return nil
}

// digest is the Digest of config bytes b with c's files.
func (c Config) digest(b []byte) string { return Digest(b, c.Files) }

func (c Config) run(ctx context.Context, what string, argv []string) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	out, err := proc.Combined(ctx, argv, proc.Options{Dir: c.Dir, Timeout: timeout})
	if err != nil {
		return &CommandError{What: what, Argv: argv, Output: string(out), Err: err}
	}
	return nil
}
