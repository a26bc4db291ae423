// An app's identity: the hashes that say which replicas run the current spec.

package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/baton-orchestrator/baton/internal/imageref"
)

// HashOf is the spec hash of what runs for the app: of its containers (on
// the spec's network) or of its Swarm tasks (whose network is Swarm's).
// A loaded spec never changes, so the hashes are computed once (Load),
// not per container per pass.
func (s *Spec) HashOf(a *App) string {
	if h, ok := s.hashes[a.Name]; ok && s.App(a.Name) == a {
		return h
	}
	if a.OnSwarm() {
		return a.Hash("")
	}
	return a.Hash(s.Docker.Network)
}

// rememberHashes computes every app's hash once the spec is complete.
func (s *Spec) rememberHashes() {
	s.hashes = nil
	hashes := make(map[string]string, len(s.Apps))
	for _, a := range s.Apps {
		hashes[a.Name] = s.HashOf(a)
	}
	s.hashes = hashes
}

// Hash identifies the container-relevant part of an app's spec: a running
// container whose hash differs is outdated and gets rolled. Replicas, lb and
// health settings are not part of it: changing them never restarts a
// container. The image enters normalized (imageref.Normalize: the familiar
// spelling with an explicit tag), so "docker.io/team/app:1" and
// "team/app:1" hash alike, and so do "nginx" and "nginx:latest".
func (a *App) Hash(network string) string {
	stack := a.stackPart()
	// encoding/json sorts map keys, so the encoding is canonical.
	b, _ := json.Marshal(struct {
		Image   string
		Command []string
		Args    []string
		Env     map[string]string
		Port    int
		Memory  int64
		CPU     int64
		Labels  map[string]string
		Network string
		Reserve int64      `json:",omitempty"`
		Stack   *stackHash `json:",omitempty"`
		Swarm   *swarmHash `json:",omitempty"`
	}{imageref.Normalize(a.Image), orNil(a.Command), orNil(a.Args), orNilMap(a.Environment()), a.Port, a.Resources.Memory.Bytes, a.Resources.CPU.Milli, orNilMap(a.Labels), network, a.Resources.ReserveMemory.Bytes, stack, a.swarmPart()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// orNil and orNilMap make an empty list or map hash as an absent one:
// `env: {}` and no env are the same container.
func orNil(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

func orNilMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
