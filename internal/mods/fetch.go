// Package mods keeps the files of the mod cache fresh.
//
// This file enforces two rules. Nothing leaves the cache directory: a
// destination is resolved inside it one directory at a time, a symlink on
// the way is followed only when it resolves inside the cache, a missing
// directory is created only once every directory above it was found
// inside the cache (so a refused path creates nothing anywhere), and the
// destination itself must not be a symlink. And the old file stays on any
// failure: a body is streamed through the one atomic writer
// (internal/atomicfile) and committed only after the size cap and the
// checksum held; the temporary files of a killed pass are removed by the
// next pass that touches the destination.
package mods

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/atomicfile"
	"github.com/baton-orchestrator/baton/internal/clock"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/state"
)

// Fetcher downloads entries into Dir.
type Fetcher struct {
	Client  *http.Client
	Dir     string
	MaxSize int64
	Timeout time.Duration // per attempt
	Retries int           // extra attempts after a transient failure
	// Backoff is the wait before retry k (1-based); nil means 1s·2^(k-1).
	Backoff func(k int) time.Duration
	// Progress, when set, is told the bytes received so far (total -1 when
	// unknown), at most every 200ms by Clock (nil: the wall clock).
	Progress func(dest string, done, total int64)
	Clock    clock.Clock
}

// Result is the outcome of one fetch.
type Result struct {
	Status   string // downloaded or not-modified
	Mod      state.Mod
	Bytes    int64
	Attempts int
}

// permanent marks failures that a retry cannot fix (4xx, checksum, size).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// errNoParent says a destination's directory does not exist (and was not
// to be created).
var errNoParent = errors.New("its directory does not exist")

// Path resolves dest inside dir, creating its missing parent directories
// inside the cache, and refuses any path that would leave dir through a
// symlink (before creating anything).
func Path(dir, dest string) (string, error) { return resolve(dir, dest, true) }

// resolve walks dest's directories from the cache root with Lstat: a real
// directory is entered, a symlink is entered only when it resolves inside
// the cache, a missing one is created (create) or ends the walk with
// errNoParent.
func resolve(dir, dest string, create bool) (string, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	clean := filepath.Clean(dest)
	if !within(root, filepath.Join(root, clean)) || clean == "." {
		return "", fmt.Errorf("%q leaves the cache directory", dest)
	}
	cur := root
	parts := strings.Split(filepath.ToSlash(clean), "/")
	for _, part := range parts[:len(parts)-1] {
		next := filepath.Join(cur, part)
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := os.Mkdir(next, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", err
			}
			cur = next
		case errors.Is(err, fs.ErrNotExist):
			return "", errNoParent
		case err != nil:
			return "", err
		case fi.Mode()&os.ModeSymlink != 0:
			real, err := filepath.EvalSymlinks(next)
			if err != nil {
				return "", fmt.Errorf("refusing %q: %s is a symlink that does not resolve: %w", dest, next, err)
			}
			if !within(root, real) {
				return "", fmt.Errorf("refusing %q: its directory resolves to %s, outside the cache directory", dest, real)
			}
			if rfi, err := os.Stat(real); err != nil || !rfi.IsDir() {
				return "", fmt.Errorf("refusing %q: %s is not a directory", dest, next)
			}
			cur = real
		case !fi.IsDir():
			return "", fmt.Errorf("refusing %q: %s is not a directory", dest, next)
		default:
			cur = next
		}
	}
	target := filepath.Join(cur, parts[len(parts)-1])
	if fi, err := os.Lstat(target); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return "", fmt.Errorf("refusing %q: it is a symlink", dest)
	}
	return target, nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// RemoveLeftovers removes the temporary files that a killed pass left
// beside the destinations (the atomic writer's, and the ".baton-<name>-N"
// files of baton versions before it), and returns what it removed. A
// destination whose directory is missing or outside the cache is skipped,
// and nothing is created. Call it under the state lock.
func RemoveLeftovers(dir string, dests []string) []string {
	var paths []string
	var removed []string
	for _, d := range dests {
		p, err := resolve(dir, d, false)
		if err != nil {
			continue
		}
		paths = append(paths, p)
		removed = append(removed, removeLegacy(p)...)
	}
	return append(removed, atomicfile.RemoveLeftovers(paths...)...)
}

// removeLegacy removes ".baton-<name>-<digits>", the temporary files of
// the hand-made writer this package had before internal/atomicfile.
func removeLegacy(path string) []string {
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), ".baton-"+base+"-")
		if ok && rest != "" && strings.Trim(rest, "0123456789") == "" && e.Type().IsRegular() {
			if os.Remove(filepath.Join(dir, e.Name())) == nil {
				removed = append(removed, filepath.Join(dir, e.Name()))
			}
		}
	}
	return removed
}

// Fetch runs one fetch action. prev is the state record, nil when none.
func (f *Fetcher) Fetch(ctx context.Context, a plan.ModAction, prev *state.Mod, now time.Time) (Result, error) {
	target, err := Path(f.Dir, a.Dest)
	if err != nil {
		return Result{}, err
	}
	RemoveLeftovers(f.Dir, []string{a.Dest})
	var res Result
	for attempt := 0; ; attempt++ {
		res.Attempts = attempt + 1
		err = f.attempt(ctx, a, prev, target, now, &res)
		var perm permanent
		if err == nil || errors.As(err, &perm) || attempt >= f.Retries || ctx.Err() != nil {
			return res, err
		}
		wait := time.Second << attempt
		if f.Backoff != nil {
			wait = f.Backoff(attempt + 1)
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(wait):
		}
	}
}

func (f *Fetcher) attempt(ctx context.Context, a plan.ModAction, prev *state.Mod, target string, now time.Time, res *Result) error {
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return permanent{err}
	}
	req.Header.Set("User-Agent", "baton-mods")
	if a.Conditional && prev != nil {
		if prev.ETag != "" {
			req.Header.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			req.Header.Set("If-Modified-Since", prev.LastModified)
		}
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && a.Conditional && prev != nil:
		res.Status = "not-modified"
		res.Mod = *prev
		res.Mod.CheckedAt = now.UTC()
		return nil
	case resp.StatusCode >= 500:
		return fmt.Errorf("GET %s: status %d", a.URL, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return permanent{fmt.Errorf("GET %s: status %d", a.URL, resp.StatusCode)}
	}
	if resp.ContentLength > f.MaxSize {
		return permanent{fmt.Errorf("GET %s: body of %d bytes is over the %d-byte cap; the old file stays", a.URL, resp.ContentLength, f.MaxSize)}
	}
	tmp, err := atomicfile.Create(target, 0o644)
	if err != nil {
		return permanent{err}
	}
	defer tmp.Discard() // a no-op once committed
	h := sha256.New()
	var body io.Reader = io.LimitReader(resp.Body, f.MaxSize+1)
	if f.Progress != nil {
		clk := f.Clock
		if clk == nil {
			clk = clock.Real{}
		}
		body = &progressReader{r: body, dest: a.Dest, total: resp.ContentLength, report: f.Progress, clock: clk}
	}
	n, err := io.Copy(io.MultiWriter(markWriter{tmp}, h), body)
	if err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return permanent{fmt.Errorf("%w; the old file stays", err)}
		}
		return fmt.Errorf("GET %s: body cut after %d bytes: %w; the old file stays", a.URL, n, err)
	}
	if n > f.MaxSize {
		return permanent{fmt.Errorf("GET %s: body is over the %d-byte cap; the old file stays", a.URL, f.MaxSize)}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("GET %s: got %d of %d bytes; the old file stays", a.URL, n, resp.ContentLength)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if a.SHA256 != "" && sum != a.SHA256 {
		return permanent{fmt.Errorf("GET %s: sha256 %s does not match the spec's %s; the old file stays", a.URL, sum, a.SHA256)}
	}
	if err := tmp.Commit(); err != nil {
		return permanent{err}
	}
	res.Status, res.Bytes = "downloaded", n
	res.Mod = state.Mod{URL: a.URL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
		SHA256: sum, Size: n, FetchedAt: now.UTC(), CheckedAt: now.UTC()}
	return nil
}

// Prune removes a file baton downloaded (never following a symlink out,
// never creating a directory: a file whose directory is gone is pruned
// already), and the temporary files a killed pass left beside it.
func Prune(dir, dest string) error {
	target, err := resolve(dir, dest, false)
	if errors.Is(err, errNoParent) {
		return nil
	}
	if err != nil {
		return err
	}
	RemoveLeftovers(dir, []string{dest})
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Stat observes a destination (resolved as Path does, creating nothing).
func Stat(dir, dest string) plan.ModFileObs {
	target, err := resolve(dir, dest, false)
	if err != nil {
		return plan.ModFileObs{}
	}
	fi, err := os.Lstat(target)
	if err != nil || !fi.Mode().IsRegular() {
		return plan.ModFileObs{}
	}
	return plan.ModFileObs{Exists: true, Size: fi.Size()}
}

// writeError marks a failure to write the temporary file (a full disk), so
// it is not mistaken for a cut body and retried.
type writeError struct{ error }

func (e *writeError) Unwrap() error { return e.error }

type markWriter struct{ w io.Writer }

func (m markWriter) Write(b []byte) (int, error) {
	n, err := m.w.Write(b)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

type progressReader struct {
	r      io.Reader
	dest   string
	done   int64
	total  int64
	last   time.Time
	report func(dest string, done, total int64)
	clock  clock.Clock
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if now := p.clock.Now(); now.Sub(p.last) > 200*time.Millisecond || err == io.EOF {
		p.last = now
		p.report(p.dest, p.done, p.total)
	}
	return n, err
}
