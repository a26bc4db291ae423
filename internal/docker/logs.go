package docker

// logs.go reads a container's logs (baton logs) and what a daemon says
// about itself (baton doctor).

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// maxLogLine bounds one log line; longer lines are cut there.
const maxLogLine = 1 << 20

// Logs calls each for every line the container printed, in order per
// stream, with the daemon's timestamp. With o.Follow it keeps reading
// until the container stops or ctx ends (no timeout applies then).
func (e *Engine) Logs(ctx context.Context, id string, o fleet.LogOptions, each func(fleet.LogLine)) error {
	if !o.Follow {
		var cancel context.CancelFunc
		ctx, cancel = e.bound(ctx, 1)
		defer cancel()
	}
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: o.Follow, Tail: "all"}
	if o.Tail >= 0 {
		opts.Tail = strconv.Itoa(o.Tail)
	}
	if !o.Since.IsZero() {
		opts.Since = o.Since.UTC().Format(time.RFC3339Nano)
	}
	rc, err := e.cli.ContainerLogs(ctx, id, opts)
	if err != nil {
		return e.wrap("logs of "+short(id), err)
	}
	defer rc.Close()
	// A non-TTY container's log is one multiplexed stream: split it.
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	var mu sync.Mutex
	var wg sync.WaitGroup
	scan := func(r io.Reader, stream string) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), maxLogLine)
		for sc.Scan() {
			l := parseLogLine(sc.Text(), stream)
			mu.Lock()
			each(l)
			mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, r)
	}
	wg.Add(2)
	go scan(outR, "stdout")
	go scan(errR, "stderr")
	_, copyErr := stdcopy.StdCopy(outW, errW, rc)
	outW.Close()
	errW.Close()
	wg.Wait()
	if copyErr != nil && !errors.Is(copyErr, context.Canceled) && ctx.Err() == nil {
		return e.wrap("logs of "+short(id), copyErr)
	}
	return nil
}

// parseLogLine splits the daemon's RFC 3339 timestamp off a line.
func parseLogLine(s, stream string) fleet.LogLine {
	l := fleet.LogLine{Stream: stream, Text: s}
	if ts, rest, ok := strings.Cut(s, " "); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			l.Time, l.Text = t.UTC(), rest
		}
	}
	return l
}

// Info says what the daemon is: its version, the API version the client
// negotiated, its clock and its swarm state.
func (e *Engine) Info(ctx context.Context) (fleet.Daemon, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	info, err := e.cli.Info(ctx)
	if err != nil {
		return fleet.Daemon{}, e.wrap("info", err)
	}
	d := fleet.Daemon{Name: info.Name, ServerVersion: info.ServerVersion, APIVersion: e.cli.ClientVersion(),
		OS: info.OSType, Arch: info.Architecture, Swarm: string(info.Swarm.LocalNodeState)}
	if t, err := time.Parse(time.RFC3339Nano, info.SystemTime); err == nil {
		d.SystemTime = t.UTC()
	}
	return d, nil
}
