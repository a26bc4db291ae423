package commands

// preview.go is the config diff a scale dry run prints when the pass has
// actions: the balancer config after them, rendered from the predicted
// members. It is exact when the actions only remove replicas; a replica
// the pass would start is shown with a placeholder address (Docker picks
// its published port when it runs), and the preview says so. The
// rollout's own syncs between its steps are not shown, only the end.

import (
	"fmt"
	"io"
	"strings"

	"github.com/baton-orchestrator/baton/internal/balancer"
	"github.com/baton-orchestrator/baton/internal/plan"
	"github.com/baton-orchestrator/baton/templates"
)

// scaleInfo is what a scale plan tells besides its steps.
type scaleInfo struct {
	decisions []plan.AutoscaleDecision
	preview   *lbPreview
}

// lbPreview is the balancer config a pass's actions lead to.
type lbPreview struct {
	Path  string `json:"path"`
	Exact bool   `json:"exact"`
	Note  string `json:"note,omitempty"`
	Diff  string `json:"diff"`
}

// preview renders the config for the members after steps and diffs it
// against the config on disk; nil without a balancer or when nothing
// would change.
func (x *pass) preview(steps []plan.Step, current []byte) *lbPreview {
	if x.spec.Nginx == nil || x.tmpl == nil {
		return nil
	}
	members, guessed := plan.PlannedMembers(x.members, steps)
	members = append(members, x.fleet.swarmReady...)
	rendered, err := templates.Render(x.tmpl, plan.Balancer(x.spec, members))
	if err != nil {
		return nil
	}
	path := x.spec.Resolve(x.spec.Nginx.Config)
	p := &lbPreview{Path: path, Exact: len(guessed) == 0, Diff: balancer.Diff(path, path+" (after the pass)", current, rendered)}
	if p.Diff == "" {
		return nil
	}
	if !p.Exact {
		p.Note = "not exact: the addresses of " + strings.Join(guessed, ", ") + " are known once they run; shown as <new APP replica N>"
	}
	return p
}

// printPreview prints a dry run's preview after its table.
func printPreview(w io.Writer, r *report) {
	si, ok := r.info.(scaleInfo)
	if !ok || si.preview == nil || !r.dryRun {
		return
	}
	p := si.preview
	head := "the balancer config after the pass (exact):"
	if !p.Exact {
		head = "the balancer config after the pass (" + p.Note + "):"
	}
	fmt.Fprintf(w, "\n%s\n%s", head, p.Diff)
}
