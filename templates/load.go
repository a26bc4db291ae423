package templates

// load.go loads a spec's template and checks it the way a pass will use
// it, so that `baton validate` finds a template that is missing, does not
// parse or does not execute (before, only the first pass did).

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"text/template"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
)

// MaxTemplate bounds a template file.
const MaxTemplate = 1 << 20

// Load reads and parses the spec's template: its nginx.template (a regular
// file, read without blocking on a FIFO, at most MaxTemplate bytes), or
// the embedded template of its kind. The spec must have an nginx section.
func Load(s *spec.Spec) (*template.Template, error) {
	name := ForKind(s.Nginx.Kind)
	if s.Nginx.Template == "" {
		text, err := Builtin(name)
		if err != nil {
			return nil, err
		}
		return Parse(name, text)
	}
	name = s.Resolve(s.Nginx.Template)
	text, err := readTemplate(name)
	if err != nil {
		return nil, fmt.Errorf("load template: %w", err)
	}
	return Parse(name, text)
}

func readTemplate(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxTemplate+1))
	if err != nil {
		return "", err
	}
	if len(b) > MaxTemplate {
		return "", fmt.Errorf("%s is larger than %d bytes", path, MaxTemplate)
	}
	return string(b), nil
}

// Check loads the spec's template and renders it twice, as passes will:
// with no ready replica (every app answers 503) and with one made-up
// replica per app with an lb section, so a template that names a field
// the view lacks inside a range is caught too. Without an nginx section it
// does nothing. The error is a spec problem at nginx.template.
func Check(s *spec.Spec) error {
	if s.Nginx == nil {
		return nil
	}
	t, err := Load(s)
	if err == nil {
		var members []fleet.Container
		for i, a := range s.Apps {
			if a.LB != nil {
				members = append(members, fleet.Container{ID: fmt.Sprintf("check%d", i), Name: a.Name + "-check", App: a.Name,
					State: "running", Addr: fmt.Sprintf("127.0.0.1:%d", 1+i%65535)})
			}
		}
		for _, m := range [][]fleet.Container{nil, members} {
			if _, err = Render(t, plan.Balancer(s, m)); err != nil {
				break
			}
		}
	}
	if err == nil {
		return nil
	}
	var se *spec.Error
	if errors.As(err, &se) {
		return err
	}
	return s.ProblemAt("nginx.template", err.Error())
}
