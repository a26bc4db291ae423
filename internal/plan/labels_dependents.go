// A labels sync pass's dependents: the services that follow an anchor.

package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/baton-orchestrator/baton/internal/fleet"
)

// followAnchors decides the dependents' changes: constraints added or
// dropped, nodes left.
func (r *labelsRun) followAnchors() {
	in, sw, project, p := r.in, r.sw, r.project, &r.p
	for _, a := range r.anchors {
		r.inSpec[a.Service] = true
		d, ok := r.byName[a.Service]
		if !ok {
			p.lasting.Note(&p.Findings, "dependent", "service "+a.Service, fmt.Sprintf("dependent service %q does not exist", a.Service))
			continue
		}
		c := AnchorConstraint(project, a.Anchor)
		ch := ServiceChange{ID: "service " + d.ID, Service: d, Edit: fleet.ServiceEdit{SetLabels: map[string]string{}}}
		var why []string
		if !hasConstraint(d, c) && !r.carried(a.key) {
			// No node that takes tasks carries the anchor's label (an anchor
			// that never ran, one missing before its label was set, or its
			// node down or paused): the constraint would leave the dependent
			// nowhere to run, its tasks pending.
			p.lasting.Note(&p.Findings, "dependent", "service "+d.Name, fmt.Sprintf("%s does not follow %s yet: no node carries its label %s, so the constraint would leave %s nowhere to run",
				d.Name, a.Anchor, a.key, d.Name))
			continue
		}
		if !hasConstraint(d, c) {
			ch.Edit.AddConstraints = append(ch.Edit.AddConstraints, c)
			ch.Edit.SetLabels[fleet.LabelFollows+project] = c
			why = append(why, fmt.Sprintf("follows %s: add the placement constraint %s", a.Anchor, c))
			if legacy := LegacyAnchorConstraint(a.Anchor); hasConstraint(d, legacy) {
				ch.Edit.RemoveConstraints = append(ch.Edit.RemoveConstraints, legacy)
				why = append(why, "replacing the unnamespaced "+legacy)
				r.drop(d.ID, legacy, ch.ID)
			}
			var off []string
			for nid := range r.placed[d.ID] {
				if n, ok := r.nodeByID[nid]; ok && !r.keysAfterSets(n, a.key) {
					off = append(off, n.Hostname)
				}
			}
			if len(off) > 0 {
				ch.Moves = true
				why = append(why, fmt.Sprintf("Swarm moves its tasks on %s start-first", strings.Join(sorted(off), ", ")))
			}
		} else if d.Labels[fleet.LabelFollows+project] != c {
			ch.Edit.SetLabels[fleet.LabelFollows+project] = c
		}
		if old := d.Labels[fleet.LabelFollows+project]; old != "" && old != c && hasConstraint(d, old) {
			ch.Edit.RemoveConstraints = append(ch.Edit.RemoveConstraints, old)
			why = append(why, "dropping "+old+" (it followed another anchor)")
			r.drop(d.ID, old, ch.ID)
		}
		// Nodes the anchor left that still hold tasks of the dependent.
		var leave []string
		for _, n := range in.Nodes {
			if n.Ready && a.left(n) && r.placed[d.ID][n.ID] > 0 && !slices.Contains(splitList(d.Labels[fleet.LabelLeaving+project]), n.Hostname) {
				leave = append(leave, n.Hostname)
			}
		}
		if len(leave) > 0 {
			last, _ := time.Parse(time.RFC3339, d.Labels[fleet.LabelFollowed+project])
			switch {
			case d.Updating():
				p.lasting.Note(&p.Findings, "dependent", "service "+d.Name, fmt.Sprintf("%s has tasks on %s, which %s left, but Swarm is updating it: it moves when the update is done",
					d.Name, strings.Join(leave, ", "), a.Anchor))
				leave = nil
			case !last.IsZero() && in.Now.Sub(last) < sw.RestartCooldown.D:
				p.lasting.Note(&p.Findings, "dependent", "service "+d.Name, fmt.Sprintf("%s has tasks on %s, which %s left, but it moved %s ago (restart_cooldown %s)",
					d.Name, strings.Join(leave, ", "), a.Anchor, in.Now.Sub(last).Round(time.Second), sw.RestartCooldown.D))
				leave = nil
			}
		}
		if len(leave) > 0 {
			r.leaving[d.ID] = map[string]bool{}
			hosts := splitList(d.Labels[fleet.LabelLeaving+project])
			for _, h := range leave {
				ch.Edit.AddConstraints = append(ch.Edit.AddConstraints, LeaveConstraint(h))
				hosts = append(hosts, h)
				if n, ok := nodeByHost(in.Nodes, h); ok {
					r.leaving[d.ID][n.ID] = true
				}
			}
			ch.Edit.SetLabels[fleet.LabelLeaving+project] = strings.Join(sorted(hosts), ",")
			ch.Moves = true
			why = append(why, fmt.Sprintf("%d task(s) run on %s, which %s left: Swarm moves them start-first to where it runs",
				countOn(r.placed[d.ID], in.Nodes, leave), strings.Join(leave, ", "), a.Anchor))
		}
		if ch.Moves {
			ch.Edit.StartFirst, ch.Edit.SaveOrder = true, fleet.LabelOrder+project
			ch.Edit.SetLabels[fleet.LabelFollowed+project] = in.Now.UTC().Format(time.RFC3339)
		}
		if len(ch.Edit.SetLabels) == 0 {
			ch.Edit.SetLabels = nil
		}
		if !ch.Edit.Empty() {
			if len(why) == 0 {
				why = append(why, fmt.Sprintf("follows %s: record the constraint as baton's", a.Anchor))
			}
			ch.Reason = strings.Join(why, "; ")
			p.Services = append(p.Services, ch)
		}
	}
}

// dropFollowers undoes what baton added to services that follow an
// anchor of this project the spec dropped.
func (r *labelsRun) dropFollowers() {
	in, project, p := r.in, r.project, &r.p
	for _, d := range in.Services {
		c := d.Labels[fleet.LabelFollows+project]
		if c == "" || r.inSpec[d.Name] {
			continue
		}
		ch := ServiceChange{ID: "service " + d.ID, Service: d, Edit: fleet.ServiceEdit{
			RemoveConstraints: []string{c}, RemoveLabels: []string{fleet.LabelFollows + project, fleet.LabelLeaving + project, fleet.LabelFollowed + project}}}
		for _, h := range splitList(d.Labels[fleet.LabelLeaving+project]) {
			ch.Edit.RemoveConstraints = append(ch.Edit.RemoveConstraints, LeaveConstraint(h))
		}
		if _, ok := d.Labels[fleet.LabelOrder+project]; ok {
			ch.Edit.RestoreOrder = fleet.LabelOrder + project
		}
		ch.Reason = fmt.Sprintf("the spec no longer anchors %s: drop the constraint %s baton added (its tasks stay where they run)", d.Name, c)
		r.drop(d.ID, c, ch.ID)
		p.Services = append(p.Services, ch)
	}
	for _, ch := range p.Services {
		r.changed[ch.Service.ID] = ch
	}
}

// settle drops leave constraints whose node lost the label and restores
// the saved update order once nothing moves.
func (r *labelsRun) settle() {
	in, project, p := r.in, r.project, &r.p
	for _, a := range r.anchors {
		d, ok := r.byName[a.Service]
		if !ok {
			continue
		}
		ch := ServiceChange{ID: "settle " + d.ID, Service: d}
		var why, still []string
		for _, h := range uniq(append(splitList(d.Labels[fleet.LabelLeaving+project]), leavingNow(d, r.leaving, in.Nodes)...)) {
			n, known := nodeByHost(in.Nodes, h)
			switch {
			case known && r.after[n.ID] == nil:
				still = append(still, h) // down: its labels are unknown
			case known && r.after[n.ID][a.key]:
				still = append(still, h)
			default:
				ch.Edit.RemoveConstraints = append(ch.Edit.RemoveConstraints, LeaveConstraint(h))
				if known && r.removing[n.ID][a.key] {
					ch.Needs = append(ch.Needs, "node "+n.ID)
				}
				why = append(why, fmt.Sprintf("%s no longer has the label %s: drop %s (restarts nothing)", h, a.key, LeaveConstraint(h)))
			}
		}
		if len(ch.Edit.RemoveConstraints) > 0 {
			if len(still) > 0 {
				ch.Edit.SetLabels = map[string]string{fleet.LabelLeaving + project: strings.Join(sorted(still), ",")}
			} else {
				ch.Edit.RemoveLabels = []string{fleet.LabelLeaving + project}
			}
		}
		_, saved := d.Labels[fleet.LabelOrder+project]
		if saved && len(still) == 0 && !d.Updating() && !r.changed[d.ID].Moves && !misplaced(d, r.placed, r.nodeByID, a.key) {
			ch.Edit.RestoreOrder = fleet.LabelOrder + project
			why = append(why, fmt.Sprintf("nothing moves: restore its update order %s", orNone(d.Labels[fleet.LabelOrder+project])))
		}
		if !ch.Edit.Empty() {
			ch.Needs = uniq(ch.Needs)
			ch.Reason = strings.Join(why, "; ")
			p.Settle = append(p.Settle, ch)
		}
	}
}

// drop records that change drops service's reference to the label of
// constraint.
func (r *labelsRun) drop(service, constraint, change string) {
	if key, ok := labelOf(constraint); ok {
		if r.drops[service] == nil {
			r.drops[service] = map[string]string{}
		}
		r.drops[service][key] = change
	}
}

// carried reports whether a node Swarm can place tasks on (ready, active)
// carries the anchor label key after this pass's label changes: one only a
// down, paused or drained node carries would leave the dependent's new
// tasks pending.
func (r *labelsRun) carried(key string) bool {
	for _, n := range r.in.Nodes {
		if n.Ready && n.Active && r.keysAfterSets(n, key) {
			return true
		}
	}
	return false
}
