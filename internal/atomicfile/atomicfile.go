// Package atomicfile is the one way baton replaces a file it owns: the state
// file, balancer configs and their last good copies, the textfile metrics
// and the files of the mod cache. It is the only importer of renameio.
//
// This file enforces four rules:
//   - a write is whole or absent: the bytes go to a temporary file in the
//     destination's directory, which is fsynced, renamed over the
//     destination, and the directory fsynced; a crash or a full disk leaves
//     the old bytes or the new ones, never a mix;
//   - never through a symlink: a destination that is a symlink, or anything
//     but a regular file, is refused with an error naming it. rename(2)
//     itself never follows a symlink, so one swapped in after the check is
//     replaced as a name, its target never written;
//   - the replaced file keeps its owner (uid and gid) and mode; perm is for
//     a new file only, and a replacement whose owner cannot be kept (baton
//     not root) is refused rather than silently changing hands;
//   - one naming rule for temporary files, "." + the destination's name +
//     decimal digits (renameio's), and one function, RemoveLeftovers, that
//     removes those a killed process left behind.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/renameio/v2"
)

// special are the mode bits kept besides the permissions.
const special = os.ModeSetuid | os.ModeSetgid | os.ModeSticky

// File is a pending replacement of a destination: write to it, then Commit
// or Discard. It is not safe for concurrent use.
type File struct {
	pf   *renameio.PendingFile
	path string
	done bool
}

// Create starts replacing path. An existing destination must be a regular
// file (never a symlink); its owner and mode carry over to the new bytes.
// A new file gets perm (less the umask).
func Create(path string, perm os.FileMode) (*File, error) {
	fi, err := Check(path)
	if err != nil {
		return nil, err
	}
	mode := perm & (os.ModePerm | special)
	if fi != nil {
		mode = fi.Mode() & (os.ModePerm | special)
	}
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithPermissions(mode))
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	f := &File{pf: pf, path: path}
	if fi != nil {
		if err := f.keep(fi); err != nil {
			f.Discard()
			return nil, err
		}
	}
	return f, nil
}

// keep gives the temporary file the owner and mode of the file it replaces.
// chown clears the set-id bits, so the mode is set after it.
func (f *File) keep(old os.FileInfo) error {
	want, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	cur, err := f.pf.Stat()
	if err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	have, ok := cur.Sys().(*syscall.Stat_t)
	if ok && (have.Uid != want.Uid || have.Gid != want.Gid) {
		if err := f.pf.Chown(int(want.Uid), int(want.Gid)); err != nil {
			return fmt.Errorf("refusing to replace %s: cannot keep its owner (uid %d, gid %d): %w", f.path, want.Uid, want.Gid, err)
		}
	}
	if err := f.pf.Chmod(old.Mode() & (os.ModePerm | special)); err != nil {
		return fmt.Errorf("write %s: keep mode: %w", f.path, err)
	}
	return nil
}

// Write appends to the pending bytes.
func (f *File) Write(b []byte) (int, error) {
	n, err := f.pf.Write(b)
	if err != nil {
		err = fmt.Errorf("write %s: %w", f.path, err)
	}
	return n, err
}

// Commit makes the written bytes the destination's: fsync the file, rename
// it over the destination, fsync the directory. On an error before the
// rename the destination is as it was and the temporary file is gone.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("write %s: already committed or discarded", f.path)
	}
	f.done = true
	if err := f.pf.CloseAtomicallyReplace(); err != nil {
		_ = f.pf.Cleanup()
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("write %s: the new bytes are in place but their directory did not sync: %w", f.path, err)
	}
	return nil
}

// Discard drops the pending bytes; the destination stays as it was. It is
// a no-op after Commit.
func (f *File) Discard() {
	if !f.done {
		f.done = true
		_ = f.pf.Cleanup()
	}
}

// WriteFile replaces path with data by the rules of the package.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Discard()
		return err
	}
	return f.Commit()
}

// Check returns the destination's info when it is a regular file, nil when
// it does not exist, and an error naming it when it is a symlink or not a
// regular file.
func Check(path string) (os.FileInfo, error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	case fi.Mode()&os.ModeSymlink != 0:
		target, _ := os.Readlink(path)
		return nil, &RefusedError{Path: path, Why: fmt.Sprintf("it is a symlink (to %q); baton never writes or reads through one", target)}
	case !fi.Mode().IsRegular():
		return nil, &RefusedError{Path: path, Why: "not a regular file (" + kind(fi.Mode()) + ")"}
	}
	return fi, nil
}

// RefusedError says a path is not a regular file baton may use.
type RefusedError struct {
	Path string
	Why  string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("refusing %s: %s", e.Path, e.Why) }

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}

// Read returns the bytes of the regular file at path, at most max of them.
// It refuses a symlink, a FIFO, a device or a directory without blocking
// on it (O_NOFOLLOW|O_NONBLOCK, then fstat), and a file larger than max. A
// missing file is an error satisfying errors.Is(err, fs.ErrNotExist).
func Read(path string, max int64) ([]byte, error) { return readFile(path, max, syscall.O_NOFOLLOW) }

// ReadInput is Read for a file baton only reads (the spec, an env_file):
// a symlink to a regular file is followed (inputs may live in a config
// checkout); a FIFO, a device or a directory is still refused without
// blocking, and a file over max bytes too.
func ReadInput(path string, max int64) ([]byte, error) { return readFile(path, max, 0) }

func readFile(path string, max int64, follow int) ([]byte, error) {
	fh, err := os.OpenFile(path, os.O_RDONLY|follow|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		if _, cerr := Check(path); cerr != nil {
			return nil, cerr
		}
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &RefusedError{Path: path, Why: "not a regular file (" + kind(fi.Mode()) + ")"}
	}
	if fi.Size() > max {
		return nil, &RefusedError{Path: path, Why: fmt.Sprintf("%d bytes, over the %d-byte limit", fi.Size(), max)}
	}
	b, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, &RefusedError{Path: path, Why: fmt.Sprintf("over the %d-byte limit", max)}
	}
	return b, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}

// IsTemp reports whether name (a file name, no directory) is a temporary
// file of a write of the file named base: "." + base + decimal digits.
func IsTemp(name, base string) bool {
	suffix, ok := strings.CutPrefix(name, "."+base)
	return ok && suffix != "" && strings.Trim(suffix, "0123456789") == ""
}

// RemoveLeftovers removes the temporary files that writes of paths left
// behind when their process was killed between creating and renaming them,
// and returns the ones it removed. It reads each directory once. Call it
// only while holding the lock under which every write of these paths
// happens (baton's state lock), so that no live write is touched.
func RemoveLeftovers(paths ...string) []string {
	byDir := map[string][]string{}
	for _, p := range paths {
		dir, base := filepath.Split(p)
		if dir == "" {
			dir = "."
		}
		byDir[dir] = append(byDir[dir], base)
	}
	var removed []string
	for dir, bases := range byDir {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			for _, base := range bases {
				if IsTemp(e.Name(), base) {
					p := filepath.Join(dir, e.Name())
					if os.Remove(p) == nil {
						removed = append(removed, p)
					}
					break
				}
			}
		}
	}
	return removed
}
