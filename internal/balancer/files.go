package balancer

// This file enforces the rule that the files a config makes the balancer
// load (certificates and keys, listed by plan.LBView.Files) are part of
// what is tested and reloaded: the digest the state records for a config
// covers their contents, so a certificate renewed on disk is tested and
// reloaded by the next pass, and one that fails the test is never
// reloaded. Only digests are kept: no certificate or key material is ever
// logged, recorded or shown.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxReferenced bounds the bytes read from one referenced file.
const maxReferenced = 16 << 20

// Digest is what the state records for a config (Tested, Reloaded): the
// Hash of its bytes when it references no file, else a hash of the bytes
// and of each file's path and contents. A missing file, or one baton may
// not read (then its identity: device, inode, size, modification time),
// has a digest of its own too, so creating or replacing it is a change.
func Digest(rendered []byte, files []string) string {
	if len(files) == 0 {
		return Hash(rendered)
	}
	h := sha256.New()
	h.Write(rendered)
	for _, f := range files {
		fmt.Fprintf(h, "\x00file %q\x00%s", f, fileDigest(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileDigest(path string) string {
	fi, err := os.Stat(path) // certbot's live/ names are symlinks: follow them
	if errors.Is(err, fs.ErrNotExist) {
		return "absent"
	}
	if err != nil {
		return "stat error: " + err.Error()
	}
	if !fi.Mode().IsRegular() {
		return "not a regular file: " + fi.Mode().String()
	}
	identity := fmt.Sprintf("size %d mtime %d", fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		identity = fmt.Sprintf("dev %d ino %d %s", st.Dev, st.Ino, identity)
	}
	f, err := os.Open(path)
	if err != nil {
		return "unreadable, " + identity
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, io.LimitReader(f, maxReferenced)); err != nil {
		return "read error, " + identity
	}
	return "sha256 " + hex.EncodeToString(sum.Sum(nil))
}
