// Package templates holds the embedded balancer templates and renders them.
// The default is nginx.conf.tmpl; haproxy.cfg.tmpl shows that any balancer
// configured by a text file works through template + test + reload argv.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"

	"github.com/baton-orchestrator/baton/internal/plan"
)

//go:embed *.tmpl
var files embed.FS

// Default is the name of the embedded template used when the spec names none.
const Default = "nginx.conf.tmpl"

// Builtin returns an embedded template's text.
func Builtin(name string) (string, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("no embedded template %q", name)
	}
	return string(b), nil
}

// Parse compiles template text; name is used in error messages.
func Parse(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	return t, nil
}

// Render executes t on view.
func Render(t *template.Template, view plan.LBView) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, view); err != nil {
		return nil, fmt.Errorf("render template: %w", err)
	}
	return buf.Bytes(), nil
}
