// Package mods keeps the files of the mod cache fresh.
//
// This file enforces two rules. Nothing leaves the cache directory: a
// destination is resolved inside it, its parent must resolve (through any
// symlinks) to a directory inside it, and the destination itself must not
// be a symlink. And the old file stays on any failure: a body is streamed
// to a temporary file in the same directory, checked against the size cap
// and the checksum, fsynced and only then renamed over the old file.
package mods

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	// unknown).
	Progress func(dest string, done, total int64)
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

// Path resolves dest inside dir, creating its parent directories, and
// refuses any path that would leave dir through a symlink.
func Path(dir, dest string) (string, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	target := filepath.Join(root, dest)
	if !within(root, target) {
		return "", fmt.Errorf("%q leaves the cache directory", dest)
	}
	parent := filepath.Dir(target)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(parent)
	if err != nil {
		return "", err
	}
	if !within(root, real) {
		return "", fmt.Errorf("refusing %q: its directory resolves to %s, outside the cache directory", dest, real)
	}
	if fi, err := os.Lstat(target); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return "", fmt.Errorf("refusing %q: it is a symlink", dest)
	}
	return filepath.Join(real, filepath.Base(target)), nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// Fetch runs one fetch action. prev is the state record, nil when none.
func (f *Fetcher) Fetch(ctx context.Context, a plan.ModAction, prev *state.Mod, now time.Time) (Result, error) {
	target, err := Path(f.Dir, a.Dest)
	if err != nil {
		return Result{}, err
	}
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
	tmp, err := os.CreateTemp(filepath.Dir(target), ".baton-"+filepath.Base(target)+"-*")
	if err != nil {
		return permanent{err}
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	var body io.Reader = io.LimitReader(resp.Body, f.MaxSize+1)
	if f.Progress != nil {
		body = &progressReader{r: body, dest: a.Dest, total: resp.ContentLength, report: f.Progress}
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), body)
	if err != nil {
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
	if err := tmp.Chmod(0o644); err != nil {
		return permanent{err}
	}
	if err := tmp.Sync(); err != nil {
		return permanent{err}
	}
	if err := tmp.Close(); err != nil {
		return permanent{err}
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return permanent{err}
	}
	keep = true
	if d, err := os.Open(filepath.Dir(target)); err == nil {
		_ = d.Sync() // make the rename durable
		d.Close()
	}
	res.Status, res.Bytes = "downloaded", n
	res.Mod = state.Mod{URL: a.URL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
		SHA256: sum, Size: n, FetchedAt: now.UTC(), CheckedAt: now.UTC()}
	return nil
}

// Prune removes a file baton downloaded (never following a symlink out).
func Prune(dir, dest string) error {
	target, err := Path(dir, dest)
	if err != nil {
		return err
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Stat observes a destination.
func Stat(dir, dest string) plan.ModFileObs {
	fi, err := os.Lstat(filepath.Join(dir, dest))
	if err != nil || !fi.Mode().IsRegular() {
		return plan.ModFileObs{}
	}
	return plan.ModFileObs{Exists: true, Size: fi.Size()}
}

type progressReader struct {
	r      io.Reader
	dest   string
	done   int64
	total  int64
	last   time.Time
	report func(dest string, done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if time.Since(p.last) > 200*time.Millisecond || err == io.EOF {
		p.last = time.Now()
		p.report(p.dest, p.done, p.total)
	}
	return n, err
}
