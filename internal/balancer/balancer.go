// Package balancer owns the balancer's config file: it writes a rendered
// config atomically, runs the test command, restores the previous bytes
// when the test fails, and reloads.
//
// This file enforces the rule "never replace a working config with one that
// fails the test": the new bytes are in place only between the write and
// the test, and a failed test puts the old bytes back byte for byte (or
// removes the file if there was none) before returning.
package balancer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
	"github.com/baton-orchestrator/baton/state"
)

// Config says where the file lives and how to test and reload it.
type Config struct {
	Path   string   // absolute path of the file baton owns
	Test   []string // argv, run without a shell
	Reload []string // argv, run without a shell
	Dir    string   // working directory of the commands
	// Timeout bounds each command; 0 means 30s.
	Timeout time.Duration
}

// Result says what Apply did.
type Result struct {
	Changed  bool // the file's bytes changed
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

// Current returns the file's bytes and whether it exists.
func Current(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	return b, true, nil
}

// NeedsApply reports whether Apply would change or reload anything.
func NeedsApply(old []byte, existed bool, rendered []byte, st *state.Balancer) bool {
	return !existed || !bytes.Equal(old, rendered) || st.Reloaded != Hash(rendered)
}

// Apply makes the file hold rendered and the balancer run it. It writes
// only when the bytes differ, and reloads only when they differ from the
// last successful reload recorded in st (which it updates).
func Apply(ctx context.Context, c Config, rendered []byte, st *state.Balancer, now time.Time) (Result, error) {
	var res Result
	// A killed pass may have left a temporary file beside the config; every
	// write of it happens under the state lock the caller holds.
	atomicfile.RemoveLeftovers(c.Path)
	old, existed, err := Current(c.Path)
	if err != nil {
		return res, err
	}
	if !NeedsApply(old, existed, rendered, st) {
		return res, nil
	}
	if !existed || !bytes.Equal(old, rendered) {
		perm := os.FileMode(0o644)
		if fi, err := os.Stat(c.Path); err == nil {
			perm = fi.Mode().Perm()
		}
		if err := atomicfile.WriteFile(c.Path, rendered, perm); err != nil {
			return res, fmt.Errorf("write %s: %w", c.Path, err)
		}
		if err := run(ctx, c, "test", c.Test); err != nil {
			if rerr := restore(c.Path, old, existed, perm); rerr != nil {
				return res, errors.Join(err, rerr)
			}
			return res, fmt.Errorf("%w\nthe previous %s was kept", err, c.Path)
		}
		res.Changed = true
	}
	if err := run(ctx, c, "reload", c.Reload); err != nil {
		return res, err
	}
	res.Reloaded = true
	st.Reloaded = Hash(rendered)
	st.ReloadedAt = now.UTC()
	return res, nil
}

func restore(path string, old []byte, existed bool, perm os.FileMode) error {
	if !existed {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove rejected %s: %w", path, err)
		}
		return nil
	}
	if err := atomicfile.WriteFile(path, old, perm); err != nil {
		return fmt.Errorf("restore previous %s: %w", path, err)
	}
	return nil
}

func run(ctx context.Context, c Config, what string, argv []string) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return &CommandError{What: what, Argv: argv, Output: out.String(), Err: err}
	}
	return nil
}
