package plan

import (
	"bytes"

	"github.com/baton-orchestrator/baton/internal/balancer"
	"github.com/baton-orchestrator/baton/state"
)

// BalancerChange is a balancer sync to make: the config to put in place,
// test and reload.
type BalancerChange struct {
	Path     string
	Rendered []byte
	// Write: the bytes on disk differ from the render (or there is no
	// file yet); otherwise they only need testing and a reload.
	Write bool
	// Diff is the unified diff from the file to the render, for dry runs.
	Diff string
	// Files are the files the config references (certificates, keys),
	// whose contents are part of what is tested and reloaded.
	Files []string
}

// SyncBalancer decides whether the balancer config at path must change:
// its bytes differ from the render, or the bytes and referenced files
// (digest: balancer.Digest of rendered and files) are not the ones last
// tested and reloaded — a pass that died before its test or reload, or a
// renewed certificate.
func SyncBalancer(path string, current []byte, existed bool, rendered []byte, files []string, digest string, st *state.Balancer) (Step, bool) {
	if !balancer.Behind(current, existed, rendered, st, digest) {
		return Step{}, false
	}
	ch := &BalancerChange{Path: path, Rendered: rendered, Write: !existed || !bytes.Equal(current, rendered),
		Diff: balancer.Diff(path, path+" (new)", current, rendered), Files: files}
	reason := "membership or config changed"
	if !ch.Write {
		reason = "the config on disk or a file it references was not tested and reloaded as it is"
	}
	return Step{Kind: Sync, Type: "balancer", Target: path, Reason: reason, Do: ch}, true
}
