package plan

import (
	"fmt"
	"sort"
	"time"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// ModFileObs is what a pass saw of one destination on disk.
type ModFileObs struct {
	Exists bool
	Size   int64
}

// ModAction is one step of a mods refresh.
type ModAction struct {
	Kind   string // fetch or prune
	Dest   string
	URL    string
	SHA256 string // the checksum the body must have, when the spec sets one
	// Conditional sends the recorded ETag and Last-Modified, so an
	// unchanged remote answers 304 and nothing is written.
	Conditional bool
	Reason      string
}

// RefreshMods decides which entries are due and which files to prune.
//
// Rules:
//   - an entry is fetched when baton never downloaded it, its file is
//     missing, its URL or its spec checksum changed, or its interval has
//     passed since it was last checked;
//   - the fetch is conditional (ETag, Last-Modified) only when the file is
//     there and was downloaded from the same URL with a matching checksum;
//   - a file is pruned only when baton downloaded it (it is in the state)
//     and its entry left the list; files put there by anyone else are never
//     touched.
func RefreshMods(m *spec.Mods, onDisk map[string]ModFileObs, recorded map[string]*state.Mod, now time.Time) []ModAction {
	var out []ModAction
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Dest] = true
		rec := recorded[f.Dest]
		obs := onDisk[f.Dest]
		a := ModAction{Kind: "fetch", Dest: f.Dest, URL: f.URL, SHA256: f.SHA256}
		switch {
		case rec == nil:
			a.Reason = "never downloaded by baton"
		case !obs.Exists:
			a.Reason = "the file is missing"
		case rec.URL != f.URL:
			a.Reason = fmt.Sprintf("URL changed from %s", rec.URL)
		case f.SHA256 != "" && rec.SHA256 != f.SHA256:
			a.Reason = "the spec's checksum changed"
		case now.Sub(rec.CheckedAt) >= f.Interval.D:
			a.Reason = fmt.Sprintf("last checked %s ago (interval %s)", now.Sub(rec.CheckedAt).Round(time.Second), f.Interval.D)
			a.Conditional = rec.ETag != "" || rec.LastModified != ""
		default:
			continue
		}
		out = append(out, a)
	}
	var gone []string
	for dest := range recorded {
		if !listed[dest] {
			gone = append(gone, dest)
		}
	}
	sort.Strings(gone)
	for _, dest := range gone {
		out = append(out, ModAction{Kind: "prune", Dest: dest, URL: recorded[dest].URL, Reason: "downloaded by baton and no longer in the list"})
	}
	return out
}
