// Package templates holds the embedded balancer templates and renders them.
// nginx.conf.tmpl is the default; haproxy.cfg.tmpl renders the same view
// for HAProxy (nginx.kind: haproxy). Any balancer configured by a text file
// works through a template of its own + test + reload argv.
//
// Templates get quote functions for values that are not from a closed
// alphabet (file paths): nginxq and haproxyq. spec.CheckConfigPath refuses
// what they cannot carry.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/internal/spec"
)

//go:embed *.tmpl
var files embed.FS

// Default is the name of the embedded template used when the spec names none.
const Default = "nginx.conf.tmpl"

// HAProxy is the embedded template of nginx.kind haproxy.
const HAProxy = "haproxy.cfg.tmpl"

// ForKind is the embedded template of a balancer kind (spec.KindNginx or
// spec.KindHAProxy).
func ForKind(kind string) string {
	if kind == spec.KindHAProxy {
		return HAProxy
	}
	return Default
}

// Builtin returns an embedded template's text.
func Builtin(name string) (string, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("no embedded template %q", name)
	}
	return string(b), nil
}

// Funcs are the functions every template gets.
var Funcs = template.FuncMap{
	// nginxq writes s as one double-quoted nginx token.
	"nginxq": NginxQuote,
	// haproxyq writes s as one single-quoted HAProxy word.
	"haproxyq": HAProxyQuote,
	"sub":      func(a, b int) int { return a - b },
}

// NginxQuote quotes s for nginx: double quotes, with `\` and `"` escaped.
// nginx still expands `$` variables inside quotes; spec.CheckConfigPath
// refuses `$` in paths.
func NginxQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// HAProxyQuote quotes s for HAProxy: single quotes, inside which HAProxy
// expands nothing and has no escape; a `'` in s (which spec.CheckConfigPath
// refuses) ends the quote and is written as \'.
func HAProxyQuote(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `'\''`) + `'`
}

// Parse compiles template text; name is used in error messages.
func Parse(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(Funcs).Parse(text)
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
