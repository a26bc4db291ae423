// Swarm secrets and configs, and the swarm's membership: join and remove nodes.

package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// EnsureSwarmFile makes a Swarm secret or config (kind "secret" or
// "config") present and returns its ID: an external one must exist; one of
// baton's is created from its data, labelled with the project and its key,
// unless one of its name (its content's) exists already. A same-named one
// that is not the project's is refused.
func (e *Engine) EnsureSwarmFile(ctx context.Context, project, kind string, f fleet.FileRef) (string, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	label := fleet.LabelSecret
	if kind == "config" {
		label = fleet.LabelConfig
	}
	var id string
	var labels map[string]string
	list, err := e.listSwarmFiles(ctx, kind, filters.NewArgs(filters.Arg("name", f.Name)))
	if err != nil {
		return "", err
	}
	for _, x := range list {
		if x.Name == f.Name { // the filter matches a prefix
			id, labels = x.ID, x.Labels
		}
	}
	switch {
	case id != "" && (f.External || labels[fleet.LabelProject] == project):
		return id, nil
	case id != "":
		return "", fmt.Errorf("%s %q exists but is %w (no label %s=%s)", kind, f.Name, ErrNotOurs, fleet.LabelProject, project)
	case f.External:
		return "", fmt.Errorf("external %s %q does not exist in the swarm: create it (docker %s create), or give a file", kind, f.Name, kind)
	}
	ann := swarm.Annotations{Name: f.Name, Labels: map[string]string{fleet.LabelProject: project, label: f.Key}}
	if kind == "secret" {
		r, err := e.cli.SecretCreate(ctx, swarm.SecretSpec{Annotations: ann, Data: f.Data})
		if err != nil {
			return "", e.wrap("create secret "+f.Name, err)
		}
		return r.ID, nil
	}
	r, err := e.cli.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: ann, Data: f.Data})
	if err != nil {
		return "", e.wrap("create config "+f.Name, err)
	}
	return r.ID, nil
}

// SwarmFiles lists the secrets and configs baton created for project (two
// calls).
func (e *Engine) SwarmFiles(ctx context.Context, project string) ([]fleet.SwarmFile, error) {
	ctx, cancel := e.bound(ctx, 2)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", fleet.LabelProject+"="+project))
	secrets, err := e.listSwarmFiles(ctx, "secret", f)
	if err != nil {
		return nil, err
	}
	configs, err := e.listSwarmFiles(ctx, "config", f)
	if err != nil {
		return nil, err
	}
	out := append(secrets, configs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Kind+out[i].Name < out[j].Kind+out[j].Name })
	return out, nil
}

// listSwarmFiles lists the secrets or configs (kind) the filter matches.
func (e *Engine) listSwarmFiles(ctx context.Context, kind string, f filters.Args) ([]fleet.SwarmFile, error) {
	var out []fleet.SwarmFile
	if kind == "secret" {
		list, err := e.cli.SecretList(ctx, swarm.SecretListOptions{Filters: f})
		if err != nil {
			return nil, e.wrap("list secrets", err)
		}
		for _, x := range list {
			out = append(out, fleet.SwarmFile{Kind: kind, ID: x.ID, Name: x.Spec.Name, Labels: x.Spec.Labels})
		}
		return out, nil
	}
	list, err := e.cli.ConfigList(ctx, swarm.ConfigListOptions{Filters: f})
	if err != nil {
		return nil, e.wrap("list configs", err)
	}
	for _, x := range list {
		out = append(out, fleet.SwarmFile{Kind: kind, ID: x.ID, Name: x.Spec.Name, Labels: x.Spec.Labels})
	}
	return out, nil
}

// ErrInUseByService says Swarm refused to remove a secret or config a
// service still mounts.
var ErrInUseByService = errors.New("still mounted by a service")

// RemoveSwarmFile removes a secret or config baton created.
func (e *Engine) RemoveSwarmFile(ctx context.Context, f fleet.SwarmFile) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	var err error
	if f.Kind == "secret" {
		err = e.cli.SecretRemove(ctx, f.ID)
	} else {
		err = e.cli.ConfigRemove(ctx, f.ID)
	}
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "in use"):
		return fmt.Errorf("%s %s: %w", f.Kind, f.Name, ErrInUseByService)
	}
	return e.wrap(fmt.Sprintf("remove %s %s", f.Kind, f.Name), err)
}

// Membership says what this engine knows of its swarm (one info call).
func (e *Engine) Membership(ctx context.Context) (fleet.Membership, error) {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	info, err := e.cli.Info(ctx)
	if err != nil {
		return fleet.Membership{}, e.wrap("info", err)
	}
	m := fleet.Membership{State: string(info.Swarm.LocalNodeState), NodeID: info.Swarm.NodeID}
	if c := info.Swarm.Cluster; c != nil {
		m.ClusterID = c.ID
	}
	for _, p := range info.Swarm.RemoteManagers {
		m.Managers = append(m.Managers, p.Addr)
	}
	return m, nil
}

// JoinInfo reads the swarm's join tokens and managers from a manager.
func (e *Engine) JoinInfo(ctx context.Context) (fleet.JoinInfo, error) {
	ctx, cancel := e.bound(ctx, 2)
	defer cancel()
	sw, err := e.cli.SwarmInspect(ctx)
	if err != nil {
		return fleet.JoinInfo{}, e.wrap("inspect swarm", err)
	}
	info, err := e.cli.Info(ctx)
	if err != nil {
		return fleet.JoinInfo{}, e.wrap("info", err)
	}
	j := fleet.JoinInfo{ClusterID: sw.ID, WorkerToken: sw.JoinTokens.Worker, ManagerToken: sw.JoinTokens.Manager}
	for _, p := range info.Swarm.RemoteManagers {
		j.Managers = append(j.Managers, p.Addr)
	}
	sort.Strings(j.Managers)
	return j, nil
}

// JoinSwarm joins this engine to a swarm.
func (e *Engine) JoinSwarm(ctx context.Context, r fleet.JoinRequest) error {
	ctx, cancel := e.bound(ctx, 4)
	defer cancel()
	listen := r.ListenAddr
	if listen == "" {
		listen = "0.0.0.0:2377"
	}
	if err := e.cli.SwarmJoin(ctx, swarm.JoinRequest{ListenAddr: listen, AdvertiseAddr: r.AdvertiseAddr,
		RemoteAddrs: r.Managers, JoinToken: r.Token}); err != nil {
		return e.wrap("join the swarm", err)
	}
	return nil
}

// RemoveNode removes a node that is down from the swarm's list.
func (e *Engine) RemoveNode(ctx context.Context, id string) error {
	ctx, cancel := e.bound(ctx, 1)
	defer cancel()
	if err := e.cli.NodeRemove(ctx, id, swarm.NodeRemoveOptions{}); err != nil {
		return e.wrap("remove node "+id, err)
	}
	return nil
}
