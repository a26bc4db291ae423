// Package proc runs the external commands a spec names (the balancer's
// test and reload, command hooks, external scalers): an argv, no shell,
// with a deadline that holds.
//
// This file enforces the deadline. The command runs in a process group of
// its own; at the deadline (or when the context ends) the whole group gets
// SIGKILL, not only its leader, so a child of a shell script dies too; and
// Run stops waiting for the output pipes a short while after the leader
// exited (exec.Cmd.WaitDelay), so a background child that keeps them open
// cannot hold a pass either. Such a child, still in the group when Run
// gives up on the pipes, is killed as well: when Run returns, nothing it
// started holds its output. A daemon that left the group (setsid, as
// nginx does) is not touched.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// WaitDelay is how long Run waits for the output pipes to close after the
// command's leader exited (or was killed).
const WaitDelay = time.Second

// DefaultMaxOutput caps each captured stream when Options.MaxOutput is 0.
const DefaultMaxOutput = 64 << 10

// Options says how to run a command.
type Options struct {
	Dir     string        // working directory; empty: baton's own
	Stdin   []byte        // nil: no input
	Timeout time.Duration // 0: only the context bounds the command
	// MaxOutput caps each captured stream; what is past it is dropped
	// (and counted in the text as "[N bytes dropped]").
	MaxOutput int
	// Combined sends stderr into the stdout buffer, interleaved.
	Combined bool
}

// TimeoutError says the deadline passed and the group was killed.
type TimeoutError struct {
	Argv  []string
	After time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%q timed out after %s; its process group was killed", strings.Join(e.Argv, " "), e.After)
}

// Unwrap makes the error satisfy errors.Is(err, context.DeadlineExceeded).
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Run runs argv and returns what it wrote to stdout and stderr (stderr is
// empty with Combined). The error is a *TimeoutError at the deadline, an
// *exec.ExitError for a non-zero exit, the context's error when it ended
// first, or why the command could not start.
func Run(ctx context.Context, argv []string, o Options) (stdout, stderr []byte, err error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, nil, errors.New("empty command")
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	max := o.MaxOutput
	if max <= 0 {
		max = DefaultMaxOutput
	}
	out, errOut := &capped{max: max}, &capped{max: max}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = o.Dir
	if o.Stdin != nil {
		cmd.Stdin = bytes.NewReader(o.Stdin)
	}
	cmd.Stdout, cmd.Stderr = out, errOut
	if o.Combined {
		cmd.Stderr = out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = WaitDelay
	err = cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		// The leader exited 0 but something it started kept the pipes
		// open: the exit status is the answer, the straggler goes.
		_ = killGroup(cmd)
		err = nil
	}
	if err != nil && ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && o.Timeout > 0 {
			err = &TimeoutError{Argv: argv, After: o.Timeout}
		} else {
			err = fmt.Errorf("%w (its process group was killed)", ctx.Err())
		}
	}
	return out.bytes(), errOut.bytes(), err
}

// Combined runs argv with stdout and stderr in one buffer.
func Combined(ctx context.Context, argv []string, o Options) ([]byte, error) {
	o.Combined = true
	out, _, err := Run(ctx, argv, o)
	return out, err
}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// capped keeps the first max bytes written to it and counts the rest.
type capped struct {
	buf     bytes.Buffer
	max     int
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room >= len(p) {
		c.buf.Write(p)
	} else {
		if room > 0 {
			c.buf.Write(p[:room])
		}
		c.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}

func (c *capped) bytes() []byte {
	if c.dropped == 0 {
		return c.buf.Bytes()
	}
	return append(c.buf.Bytes(), fmt.Sprintf("\n[%d bytes dropped]", c.dropped)...)
}
