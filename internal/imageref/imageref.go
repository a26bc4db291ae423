// Package imageref normalizes image references so that baton compares
// images, not spellings: "nginx", "nginx:latest", "library/nginx" and
// "docker.io/library/nginx:latest" are one image. It is the only importer
// of github.com/distribution/reference.
//
// This file enforces that every comparison of image references in baton
// (gc's in-use check, the spec hash, status) goes through Parse: the
// registry (docker.io) and the "library/" of official images are implicit,
// a reference without tag or digest means ":latest", and a digest pins the
// image whatever the tag says.
package imageref

import (
	"fmt"

	"github.com/distribution/reference"
)

// Ref is a parsed image reference.
type Ref struct {
	// Name is the fully qualified repository (docker.io/library/nginx);
	// empty for an image ID.
	Name string
	// Tag is the tag, "latest" when neither a tag nor a digest was written.
	Tag string
	// Digest is the manifest digest ("sha256:..."), when one was written.
	Digest string
	// ID is the image ID for a reference that is one ("sha256:<64 hex>" or
	// 64 hex digits), in the "sha256:" form.
	ID string
}

// Parse reads an image reference the way Docker does.
func Parse(s string) (Ref, error) {
	any, err := reference.ParseAnyReference(s)
	if err != nil {
		return Ref{}, fmt.Errorf("invalid image reference %q: %v", s, err)
	}
	named, ok := any.(reference.Named)
	if !ok {
		if d, ok := any.(reference.Digested); ok {
			return Ref{ID: d.Digest().String()}, nil
		}
		return Ref{}, fmt.Errorf("invalid image reference %q", s)
	}
	named = reference.TagNameOnly(named)
	r := Ref{Name: named.Name()}
	if t, ok := named.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.Digest = d.Digest().String()
	}
	return r, nil
}

// Familiar is the short spelling with an explicit tag where there is no
// digest: nginx:latest, team/app:1, registry.example.com/web:1.4.2,
// team/app@sha256:..., team/app:1@sha256:..., or the ID.
func (r Ref) Familiar() string {
	if r.ID != "" {
		return r.ID
	}
	s := r.Repository()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Repository is the familiar repository name: nginx, team/app,
// registry.example.com/web. Empty for an image ID.
func (r Ref) Repository() string {
	if r.Name == "" {
		return ""
	}
	named, err := reference.ParseNormalizedNamed(r.Name)
	if err != nil {
		return r.Name
	}
	return reference.FamiliarName(named)
}

// Keys are the strings under which an image that r names is found: its
// name:tag (normalized), its digest, its ID. Two references name the same
// image when they share a key.
func (r Ref) Keys() []string {
	var out []string
	if r.ID != "" {
		out = append(out, "id "+r.ID)
	}
	if r.Name != "" && r.Tag != "" {
		out = append(out, "tag "+r.Name+":"+r.Tag)
	}
	if r.Digest != "" {
		out = append(out, "digest "+r.Digest)
	}
	return out
}

// Normalize returns the familiar spelling of s (see Familiar), or s as
// written when it does not parse.
func Normalize(s string) string {
	r, err := Parse(s)
	if err != nil {
		return s
	}
	return r.Familiar()
}

// Same reports whether two references name the same image: a shared
// digest or ID, or the same repository and tag once normalized. It is what
// status uses to say whether a container runs the image the spec names.
func Same(a, b string) bool {
	ra, err := Parse(a)
	if err != nil {
		return a == b
	}
	rb, err := Parse(b)
	if err != nil {
		return false
	}
	if ra.Digest != "" && rb.Digest != "" {
		return ra.Digest == rb.Digest
	}
	for _, ka := range ra.Keys() {
		for _, kb := range rb.Keys() {
			if ka == kb {
				return true
			}
		}
	}
	return false
}
