package state

import (
	"strconv"
	"time"
)

// Pause is a rollout that stopped: the spec hash it was rolling to, since
// when and why.
type Pause struct {
	Hash   string    `json:"hash"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
}

// Incident is a condition a pass reported that still holds.
type Incident struct {
	Type   string    `json:"type"`
	App    string    `json:"app,omitempty"`
	Target string    `json:"target,omitempty"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	// By is the pass that found it; an incident only that pass can see
	// (a wait for dependencies heal's replacement hit) is judged by it.
	By string `json:"by,omitempty"`
}

// HasIncident reports whether an incident of type typ is known.
func (s *State) HasIncident(typ string) bool {
	for _, inc := range s.Incidents {
		if inc.Type == typ {
			return true
		}
	}
	return false
}

// SlotAttempts returns the recent attempts at replica slot of app.
func (s *State) SlotAttempts(app string, replica int) []time.Time {
	if a := s.App(app); a != nil {
		return a.Slots[strconv.Itoa(replica)]
	}
	return nil
}

// AddSlotAttempt records an attempt at replica slot of app at now, made
// at the app's spec hash, forgetting the slot's attempts older than window
// and every attempt made at another hash.
func (s *State) AddSlotAttempt(app string, replica int, now time.Time, window time.Duration, hash string) {
	a := s.AppState(app)
	if a.Slots == nil || a.SlotsHash != hash {
		a.Slots, a.SlotsHash = map[string][]time.Time{}, hash
	}
	k := strconv.Itoa(replica)
	var kept []time.Time
	for _, t := range a.Slots[k] {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	a.Slots[k] = append(kept, now.UTC())
}

// ResetSlot forgets a slot's attempts: its replica served long enough.
func (s *State) ResetSlot(app string, replica int) {
	if a := s.App(app); a != nil {
		delete(a.Slots, strconv.Itoa(replica))
	}
}
