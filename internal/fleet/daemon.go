package fleet

import "time"

// Daemon is what a Docker daemon says about itself (doctor's checks).
type Daemon struct {
	Name          string // the host's name
	ServerVersion string // e.g. 20.10.24
	APIVersion    string // the API version the client negotiated, e.g. 1.41
	OS, Arch      string
	// SystemTime is the daemon's clock when it answered (zero when it
	// did not say).
	SystemTime time.Time
	Swarm      string // inactive, active, ...
}

// LogOptions select a container's log lines.
type LogOptions struct {
	Follow bool
	// Since keeps lines at or after this time (zero: all).
	Since time.Time
	// Tail keeps the last N lines (negative: all).
	Tail int
}

// LogLine is one line a container printed.
type LogLine struct {
	Time   time.Time // as the daemon stamped it
	Stream string    // stdout or stderr
	Text   string    // without the newline
}
