// Package state is baton's state file: a versioned JSON document that holds
// only what Docker cannot tell (balancer hashes, last actions, restart
// attempts per replica slot, paused rollouts, open incidents, probe
// counters, autoscaler memory, log positions, image last use, download
// validators, node labels baton set, counters for the metrics), and the
// event log beside it.
//
// The package enforces four rules (file.go and validate.go carry them out):
//   - the lock is an flock on a sidecar "<state>.lock" file, never on the
//     state file itself, because an atomic save replaces the state file's
//     inode and a lock on the old inode would protect nothing; the lock
//     file is opened without following a symlink (one there is refused),
//     so the holder's pid is never written into another file;
//   - every save goes through the one atomic writer (internal/atomicfile):
//     whole or not at all, never through a symlink, owner and mode kept;
//   - the state is read only from a regular file of at most MaxBytes,
//     without following a symlink or blocking on a FIFO;
//   - a corrupt, future-version or invalid file (see validate) is an error
//     naming the file, never silently replaced.
package state

import (
	"time"
)

// Version is the state file schema this build reads and writes.
const Version = 1

// MaxBytes bounds the state file baton reads: a state of thousands of
// containers is a few MiB.
const MaxBytes = 64 << 20

// State is the whole state file.
type State struct {
	Version int `json:"version"`
	// Apps is per-app memory, keyed by app name.
	Apps map[string]*App `json:"apps,omitempty"`
	// Balancer is keyed by the absolute path of the config file baton owns.
	Balancer map[string]*Balancer `json:"balancer,omitempty"`
	// Probes holds heal's consecutive probe results, keyed by container ID,
	// so a failure threshold of 3 means 3 failing heal passes in a row
	// whatever runs them.
	Probes map[string]*Probe `json:"probes,omitempty"`
	// Incidents are the conditions passes reported and that still hold
	// (a crash loop, a paused rollout, panic routing, a node down), so
	// each is one event when it begins and one when it ends.
	Incidents map[string]*Incident `json:"incidents,omitempty"`
	// ImagesLastUsed is when gc last saw each image (by ID) in use: keep-N
	// counts from last use, not from build time (moby #28497). It is the
	// memory of gc.scope host: every image on the host.
	ImagesLastUsed map[string]time.Time `json:"images_last_used,omitempty"`
	// ProjectImages is the same memory for gc.scope project (the default):
	// only the images gc counted as this project's. A key of its own, so
	// the host-wide memory of a state written before scopes existed is
	// never taken for the project's.
	ProjectImages map[string]time.Time `json:"project_images,omitempty"`
	// Mods remembers each downloaded file of the mod cache, by destination.
	Mods map[string]*Mod `json:"mods,omitempty"`
	// NodeLabels are the label keys baton set on each Swarm node (by node
	// ID): only these are ever removed, unless asked otherwise.
	NodeLabels map[string][]string `json:"node_labels,omitempty"`
	// Restarted is when labels sync last restarted each dependent service.
	Restarted map[string]time.Time `json:"restarted,omitempty"`
	// Moved is when rebalance last moved each service (by name); the
	// latest of them starts the global cooldown.
	Moved map[string]time.Time `json:"moved,omitempty"`
	// Runs counts the passes of each command that saved the state.
	Runs map[string]int `json:"runs,omitempty"`
	// AccessLog is how far scale has read the balancer's access log.
	AccessLog *LogPos `json:"access_log,omitempty"`
	// CPU is each container's CPU counter at the last pass, so CPU is a
	// rate between passes, not a two-second sample per container.
	CPU map[string]CPUSample `json:"cpu,omitempty"`
	// Counters are the Prometheus counters the textfile metrics carry
	// (baton_actions_total, ...): metric name → label set (as written in
	// the textfile, e.g. `command="scale",app="web"`) → count. Only ever
	// incremented, so a scrape between two passes misses nothing.
	Counters map[string]map[string]uint64 `json:"counters,omitempty"`
}

// Count adds n to the counter metric{labels}.
func (s *State) Count(metric, labels string, n uint64) {
	if n == 0 {
		return
	}
	if s.Counters == nil {
		s.Counters = map[string]map[string]uint64{}
	}
	if s.Counters[metric] == nil {
		s.Counters[metric] = map[string]uint64{}
	}
	s.Counters[metric][labels] += n
}

// LogPos is a read position in a file that may be rotated.
type LogPos struct {
	Path   string    `json:"path"`
	Dev    uint64    `json:"dev"`
	Ino    uint64    `json:"ino"`
	Offset int64     `json:"offset"`
	At     time.Time `json:"at"`
}

// CPUSample is a container's cumulative CPU time at a moment.
type CPUSample struct {
	Nanos uint64    `json:"nanos"`
	At    time.Time `json:"at"`
}

// Mod is what baton knows of one file it downloaded into the mod cache.
// Only files recorded here are ever pruned.
type Mod struct {
	URL          string    `json:"url"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	SHA256       string    `json:"sha256"`
	Size         int64     `json:"size"`
	FetchedAt    time.Time `json:"fetched_at"`
	CheckedAt    time.Time `json:"checked_at"`
}

// App remembers what Docker cannot tell about one app.
type App struct {
	LastAction   string    `json:"last_action,omitempty"`
	LastActionAt time.Time `json:"last_action_at,omitempty"`
	// Attempts was the app-wide attempt history of state files written
	// before backoff counted per replica slot (Slots); it is read and
	// ignored.
	Attempts []time.Time `json:"attempts,omitempty"`
	// Autoscale is the autoscaler's memory for the app.
	Autoscale *Autoscale `json:"autoscale,omitempty"`
	// Slots are the times of recent crash-loop attempts per replica slot
	// (its index), within the crash-loop window, made at the spec hash
	// SlotsHash (health.go): a new spec starts every slot afresh.
	Slots     map[string][]time.Time `json:"slots,omitempty"`
	SlotsHash string                 `json:"slots_hash,omitempty"`
	// Paused is the app's rollout that stopped because its new version
	// did not get ready or crash-looped.
	Paused *Pause `json:"paused,omitempty"`
}

// Autoscale is what the autoscaler keeps between passes.
type Autoscale struct {
	Desired    int       `json:"desired"`
	Recs       []Rec     `json:"recommendations,omitempty"` // within the stabilization windows
	LastUp     time.Time `json:"last_up,omitzero"`
	LastDown   time.Time `json:"last_down,omitzero"`
	LastChange time.Time `json:"last_change,omitzero"`
	// Rates and Daily are a predictive policy's request-rate history: the
	// rates of the last passes (its trend, within the trend window and at
	// most 64) and the rate by time of day (one slot per 5 minutes, at most
	// 288), for the same time on earlier days.
	Rates []Rate `json:"rates,omitempty"`
	Daily []Slot `json:"daily,omitempty"`
}

// Rate is the request rate one pass saw.
type Rate struct {
	At  time.Time `json:"at"`
	RPS float64   `json:"rps"`
}

// Slot is the request rate in one 5-minute slot of the day (in the
// policy's time zone): Mean over the passes of Day so far, and Past, the
// rate in this slot on the Days earlier days seen (each finished day
// weighs half of what Past held).
type Slot struct {
	Slot int     `json:"slot"` // minutes since midnight / 5: 0..287
	Day  string  `json:"day"`  // the local date of Mean, YYYY-MM-DD
	Mean float64 `json:"mean"`
	N    int     `json:"n"`
	Past float64 `json:"past,omitempty"`
	Days int     `json:"days,omitempty"`
}

// Rec is one recorded recommendation.
type Rec struct {
	At       time.Time `json:"at"`
	Replicas int       `json:"replicas"`
}

// Probe is one container's run of probe results.
type Probe struct {
	Failures  int       `json:"failures"`
	Successes int       `json:"successes"`
	LastError string    `json:"last_error,omitempty"`
	LastAt    time.Time `json:"last_at"`
	// FailingSince is when the current run of failures began.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// InRotation says the balancer routes to the container; Ever that it
	// ever did (only those are routed to under panic).
	InRotation bool `json:"in_rotation,omitempty"`
	Ever       bool `json:"ever,omitempty"`
}

// Balancer remembers which config bytes were tested and which reloaded.
// Bytes are reloaded only after a test of exactly those bytes succeeded.
type Balancer struct {
	// Tested is the sha256 of the config bytes whose test last succeeded.
	// A file whose bytes do not match it (a pass killed while its test
	// ran, a hand edit) is tested before anything reloads it.
	Tested   string    `json:"tested,omitempty"`
	TestedAt time.Time `json:"tested_at,omitzero"`
	// Reloaded is the sha256 of the config bytes last reloaded successfully.
	// A file whose bytes were tested but not reloaded (a pass killed between
	// test and reload) is reloaded by the next pass.
	Reloaded   string    `json:"reloaded,omitempty"`
	ReloadedAt time.Time `json:"reloaded_at,omitempty"`
}

// New returns an empty state of the current version.
func New() *State {
	return &State{Version: Version, Apps: map[string]*App{}, Balancer: map[string]*Balancer{}, Probes: map[string]*Probe{}}
}

// App returns the record for app, or nil; s may be nil.
func (s *State) App(app string) *App {
	if s == nil {
		return nil
	}
	return s.Apps[app]
}

// AppState returns the record for app, creating it.
func (s *State) AppState(app string) *App {
	if s.Apps == nil {
		s.Apps = map[string]*App{}
	}
	a := s.Apps[app]
	if a == nil {
		a = &App{}
		s.Apps[app] = a
	}
	return a
}

// GCMemory is gc's last-use memory for a gc.scope ("host" or "project").
func (s *State) GCMemory(scope string) map[string]time.Time {
	if scope == "host" {
		return s.ImagesLastUsed
	}
	return s.ProjectImages
}

// SetGCMemory replaces gc's last-use memory for a gc.scope.
func (s *State) SetGCMemory(scope string, m map[string]time.Time) {
	if scope == "host" {
		s.ImagesLastUsed = m
	} else {
		s.ProjectImages = m
	}
}

// BalancerState returns the record for the config at path, creating it.
func (s *State) BalancerState(path string) *Balancer {
	if s.Balancer == nil {
		s.Balancer = map[string]*Balancer{}
	}
	b := s.Balancer[path]
	if b == nil {
		b = &Balancer{}
		s.Balancer[path] = b
	}
	return b
}
