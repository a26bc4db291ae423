// Inside a running container: exec, stats and exit status.

package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/docker/docker/api/types/container"
)

// Inspect returns how a container stands or ended. Heal calls it only for
// containers that are not running (to name OOM kills) and for new
// containers it waits on; observation stays one list call.
func (e *Engine) Inspect(ctx context.Context, id string) (fleet.Exit, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	ins, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return fleet.Exit{}, e.wrap(fmt.Sprintf("inspect container %s", short(id)), err)
	}
	return exitOf(ins), nil
}

func exitOf(ins container.InspectResponse) fleet.Exit {
	var x fleet.Exit
	if ins.ContainerJSONBase == nil || ins.State == nil {
		return x
	}
	st := ins.State
	x.State = string(st.Status)
	x.ExitCode = st.ExitCode
	x.OOMKilled = st.OOMKilled
	x.Error = st.Error
	if st.Health != nil {
		x.Health = string(st.Health.Status)
	}
	if t, err := time.Parse(time.RFC3339Nano, st.FinishedAt); err == nil && t.Year() > 1 {
		x.FinishedAt = t.UTC()
	}
	return x
}

// Exec runs argv inside a running container and returns nil when it exits
// 0. The command's combined output (first 512 bytes) is in the error.
func (e *Engine) Exec(ctx context.Context, id string, argv []string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	created, err := e.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return e.wrap(fmt.Sprintf("exec in %s", short(id)), err)
	}
	att, err := e.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return e.wrap(fmt.Sprintf("exec in %s", short(id)), err)
	}
	defer att.Close()
	// The hijacked connection ignores ctx: close it when ctx ends so a
	// hanging command cannot outlive the probe's timeout.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			att.Close()
		case <-done:
		}
	}()
	out, _ := io.ReadAll(io.LimitReader(att.Reader, 64<<10))
	if ctx.Err() != nil {
		return fmt.Errorf("exec %q: %w", strings.Join(argv, " "), ctx.Err())
	}
	ins, err := e.cli.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return e.wrap(fmt.Sprintf("exec in %s", short(id)), err)
	}
	if ins.Running {
		return fmt.Errorf("exec %q still running", strings.Join(argv, " "))
	}
	if ins.ExitCode != 0 {
		msg := strings.TrimSpace(stripStreamHeaders(out))
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return fmt.Errorf("exec %q exited %d: %s", strings.Join(argv, " "), ins.ExitCode, msg)
	}
	return nil
}

// stripStreamHeaders removes Docker's 8-byte multiplexing headers from an
// attached non-TTY stream, keeping the text.
func stripStreamHeaders(b []byte) string {
	var out []byte
	for len(b) >= 8 && (b[0] == 1 || b[0] == 2) && b[1] == 0 && b[2] == 0 && b[3] == 0 {
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		b = b[8:]
		if n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return string(append(out, b...))
}

// Stats returns a container's cumulative CPU time and memory use from one
// one-shot stats call (no two-second sampling: the CPU rate is computed
// from the counter's difference between passes).
func (e *Engine) Stats(ctx context.Context, id string) (fleet.Usage, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	r, err := e.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return fleet.Usage{}, e.wrap(fmt.Sprintf("stats of %s", short(id)), err)
	}
	defer r.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&s); err != nil {
		return fleet.Usage{}, e.wrap(fmt.Sprintf("stats of %s", short(id)), err)
	}
	return usageOf(s), nil
}

// usageOf converts a stats reading. Page cache is reclaimable, so it is
// not memory in use: cgroup v1 reports it as "cache", v2 as
// "inactive_file" (what docker stats subtracts). A reading without a time
// keeps a zero At, which no CPU rate is drawn from.
func usageOf(s container.StatsResponse) fleet.Usage {
	mem := s.MemoryStats.Usage
	if c, ok := s.MemoryStats.Stats["cache"]; ok && c < mem {
		mem -= c
	} else if c, ok := s.MemoryStats.Stats["inactive_file"]; ok && c < mem {
		mem -= c
	}
	var at time.Time
	if !s.Read.IsZero() {
		at = s.Read.UTC()
	}
	return fleet.Usage{CPUNanos: s.CPUStats.CPUUsage.TotalUsage, MemBytes: mem, MemLimit: s.MemoryStats.Limit, At: at}
}
