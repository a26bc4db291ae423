package spec

import "github.com/baton-orchestrator/baton/internal/atomicfile"

// Limits of the files a spec reads at load.
const (
	MaxSpecFile = 16 << 20 // the spec itself
	MaxEnvFile  = 4 << 20  // one env_file
)

// readInput reads a file the spec names (or the spec itself) with
// atomicfile.ReadInput: a symlink is followed, but a FIFO, a device, a
// socket or a directory is refused without blocking on it, and so is a
// file over max bytes — validate never hangs on `env_file: [/dev/stdin]`
// nor reads /dev/zero until memory runs out.
func readInput(path string, max int64) ([]byte, error) { return atomicfile.ReadInput(path, max) }
