package spec

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Limits of the files a spec reads at load.
const (
	MaxSpecFile = 16 << 20 // the spec itself
	MaxEnvFile  = 4 << 20  // one env_file
)

// readInput reads a file the spec names (or the spec itself): a symlink is
// followed (inputs may live in a config checkout), but a FIFO, a device,
// a socket or a directory is refused without blocking on it (O_NONBLOCK,
// then fstat), and so is a file over max bytes — validate never hangs on
// `env_file: [/dev/stdin]` nor reads /dev/zero until memory runs out.
func readInput(path string, max int64) ([]byte, error) {
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	switch {
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	case fi.Size() > max:
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit", path, fi.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s grew past the %d-byte limit while read", path, max)
	}
	return data, nil
}
