// Package compose turns a docker compose file into a first baton spec. It
// reads the file with the compose project's own loader (compose-go, which
// this package alone imports: interpolation, .env, extends and the short
// and long syntaxes are compose's), maps what baton can express, and names
// every feature it could not map, so nothing is dropped silently.
//
// The mapping keeps compose's meaning where baton's defaults differ: a
// published port without an address is written as 0.0.0.0 (compose binds
// every address; baton's own default is docker.publish_ip), a named volume
// keeps compose's Docker name, a volume several containers write to is
// shared, and an app with a fixed host port or an exclusive volume rolls
// stop-first (compose recreates a container stop-first too).
package compose

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/baton-orchestrator/baton/internal/spec"
)

// Result is an imported spec and what was left out of it.
type Result struct {
	Spec *spec.Spec
	// Unmapped names each compose feature that is not in the spec, as
	// "services.web.build: why" (sorted).
	Unmapped []string
	// Notes are mappings a person should check (renamed services, an
	// adopted volume name).
	Notes []string
}

// Options tune an import.
type Options struct {
	// Project overrides the project name (default: compose's).
	Project string
	// Env is the environment for interpolation (compose reads the
	// process's; nil means none besides the file's .env).
	Env []string
}

var (
	envKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	labelRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$`)
	nonName  = regexp.MustCompile(`[^a-z0-9-]+`)
)

// Load reads a compose file with compose-go: the file's own directory is
// the project directory, its .env file is read, paths are resolved.
func Load(ctx context.Context, path string, o Options) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fns := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithEnv(o.Env),
		cli.WithEnvFiles(), // the file's .env, as compose reads it
		cli.WithDotEnv,
		cli.WithResolvedPaths(true),
		cli.WithoutEnvironmentResolution, // keep env_file as files, not their contents
	}
	if o.Project != "" {
		fns = append(fns, cli.WithName(o.Project))
	}
	opts, err := cli.NewProjectOptions([]string{abs}, fns...)
	if err != nil {
		return nil, fmt.Errorf("read compose file %q: %w", path, err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("read compose file %q: %w", path, err)
	}
	return p, nil
}

// Import reads the compose file at path and maps it onto a baton spec.
func Import(ctx context.Context, path string, o Options) (*Result, error) {
	p, err := Load(ctx, path, o)
	if err != nil {
		return nil, err
	}
	return Convert(p), nil
}

type importer struct {
	p   *types.Project
	dir string
	s   *spec.Spec
	res *Result
	// names maps service names to app names.
	names map[string]string
	// writers counts the containers that mount a volume key read-write.
	writers map[string]int
	usedVol map[string]bool
	usedNet map[string]bool
}

func (im *importer) unmapped(format string, args ...any) {
	im.res.Unmapped = append(im.res.Unmapped, fmt.Sprintf(format, args...))
}

func (im *importer) note(format string, args ...any) {
	im.res.Notes = append(im.res.Notes, fmt.Sprintf(format, args...))
}

// Convert maps a loaded compose project onto a baton spec.
func Convert(p *types.Project) *Result {
	im := &importer{p: p, dir: p.WorkingDir, s: &spec.Spec{}, res: &Result{}, names: map[string]string{},
		writers: map[string]int{}, usedVol: map[string]bool{}, usedNet: map[string]bool{}}
	im.res.Spec = im.s
	im.s.Project = name(p.Name)
	if im.s.Project != p.Name {
		im.note("project %q is %q in baton (lowercase letters, digits and -)", p.Name, im.s.Project)
	}
	services := sortedKeys(p.Services)
	taken := map[string]bool{}
	for _, svc := range services {
		n := name(svc)
		for k := 2; taken[n]; k++ {
			n = name(svc) + "-" + strconv.Itoa(k)
		}
		taken[n] = true
		im.names[svc] = n
		if n != svc {
			im.note("service %q is app %q", svc, n)
		}
	}
	for _, svc := range services {
		sc := p.Services[svc]
		im.s.Apps = append(im.s.Apps, im.app(svc, sc))
	}
	im.topLevel()
	im.exclusive()
	sort.Strings(im.res.Unmapped)
	return im.res
}

// name makes a baton name of a compose name.
func name(s string) string {
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(n) > 40 {
		n = strings.TrimRight(n[:40], "-")
	}
	if n == "" {
		n = "app"
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// handled are the service fields this package maps (the others are named
// as unmapped when set).
var handled = map[string]bool{
	"name": true, "image": true, "command": true, "entrypoint": true, "environment": true, "env_file": true,
	"ports": true, "expose": true, "volumes": true, "tmpfs": true, "networks": true, "healthcheck": true,
	"depends_on": true, "deploy": true, "restart": true, "scale": true, "logging": true, "user": true,
	"working_dir": true, "stop_signal": true, "stop_grace_period": true, "read_only": true, "cap_add": true,
	"cap_drop": true, "extra_hosts": true, "labels": true, "mem_limit": true, "cpus": true, "pull_policy": true,
	"build": true, "container_name": true, "links": true,
}

// why explains the unmapped service fields people ask about.
var why = map[string]string{
	"privileged":      "baton runs no privileged containers; grant capabilities with cap_add",
	"network_mode":    "baton's containers are on Docker's bridge or the stack's networks",
	"pid":             "not supported by baton",
	"ipc":             "not supported by baton",
	"secrets":         "baton has no secrets store: use env_file or a bind mount read-only",
	"configs":         "baton has no configs store: use a bind mount read-only",
	"devices":         "not supported by baton",
	"ulimits":         "not supported by baton",
	"sysctls":         "not supported by baton",
	"shm_size":        "not supported by baton",
	"init":            "not supported by baton",
	"hostname":        "containers are reached by their app's name on the stack's networks",
	"dns":             "not supported by baton",
	"security_opt":    "not supported by baton",
	"profiles":        "baton runs every app of the spec",
	"mem_reservation": "only swarm apps have reserve_memory",
	"stdin_open":      "baton's containers run unattended",
	"tty":             "baton's containers run unattended",
}

func (im *importer) app(svc string, sc types.ServiceConfig) *spec.App {
	a := &spec.App{Name: im.names[svc], Image: sc.Image}
	at := "services." + svc
	im.genericUnmapped(at, reflect.ValueOf(sc))
	if sc.Build != nil {
		if a.Image == "" {
			a.Image = im.p.Name + "-" + svc
			im.unmapped("%s.build: baton runs images; build and push %s yourself (the image name compose would give it)", at, a.Image)
		} else {
			im.unmapped("%s.build: baton runs the image %s; build it yourself", at, a.Image)
		}
	}
	if sc.ContainerName != "" {
		im.unmapped("%s.container_name: baton names containers <project>-<app>-<replica>-<suffix>; the app is reached by its name %q on the stack's networks", at, a.Name)
	}
	if len(sc.Links) > 0 {
		im.unmapped("%s.links: not needed: every app is reachable by its name on the stack's networks", at)
	}
	a.Command, a.Args = []string(sc.Entrypoint), []string(sc.Command)
	if sc.Command != nil && len(sc.Command) == 0 {
		im.unmapped("%s.command: an empty command clears the image's; baton keeps the image's", at)
	}
	switch sc.PullPolicy {
	case "", types.PullPolicyMissing, types.PullPolicyIfNotPresent:
	case types.PullPolicyAlways, types.PullPolicyNever:
		a.Pull = sc.PullPolicy
	default:
		im.unmapped("%s.pull_policy: %q is not one of baton's never, missing, always", at, sc.PullPolicy)
	}
	im.environment(a, at, sc)
	im.ports(a, at, sc)
	im.volumes(a, at, sc)
	im.networks(a, at, sc)
	im.health(a, at, sc.HealthCheck)
	im.deploy(a, at, sc)
	for _, dep := range sortedKeys(sc.DependsOn) {
		d := sc.DependsOn[dep]
		app, ok := im.names[dep]
		if !ok {
			im.unmapped("%s.depends_on.%s: no such service in the file", at, dep)
			continue
		}
		if a.DependsOn == nil {
			a.DependsOn = map[string]*spec.Dependency{}
		}
		switch d.Condition {
		case types.ServiceConditionHealthy:
			a.DependsOn[app] = &spec.Dependency{Condition: spec.ConditionReady}
		case types.ServiceConditionCompletedSuccessfully:
			a.DependsOn[app] = &spec.Dependency{Condition: spec.ConditionStarted}
			im.unmapped("%s.depends_on.%s: condition service_completed_successfully: baton runs long-lived apps; mapped to started", at, dep)
		default:
			a.DependsOn[app] = &spec.Dependency{Condition: spec.ConditionStarted}
		}
		if d.Restart {
			a.RestartWith = append(a.RestartWith, app)
		}
		if !d.Required {
			im.unmapped("%s.depends_on.%s: required: false: baton waits for every dependency", at, dep)
		}
	}
	if r := sc.Restart; r != "" && r != types.RestartPolicyNo {
		a.Restart = r
	}
	if sc.StopGracePeriod != nil {
		a.StopGrace = spec.Duration{D: time.Duration(*sc.StopGracePeriod), Set: true}
	}
	a.User, a.WorkingDir, a.StopSignal, a.ReadOnly = sc.User, sc.WorkingDir, sc.StopSignal, sc.ReadOnly
	a.CapAdd, a.CapDrop = sc.CapAdd, sc.CapDrop
	if len(sc.ExtraHosts) > 0 {
		a.ExtraHosts = sc.ExtraHosts.AsList(":")
		sort.Strings(a.ExtraHosts)
	}
	if l := sc.Logging; l != nil && (l.Driver != "" || len(l.Options) > 0) {
		a.Logging = &spec.Logging{Driver: l.Driver, Options: map[string]string(l.Options)}
	}
	for _, k := range sortedKeys(sc.Labels) {
		switch v := sc.Labels[k]; {
		case !labelRe.MatchString(k) || strings.HasPrefix(k, "baton."):
			im.unmapped("%s.labels.%s: not a label key baton accepts", at, k)
		case strings.ContainsAny(v, "\x00\n"):
			im.unmapped("%s.labels.%s: the value has a newline", at, k)
		default:
			if a.Labels == nil {
				a.Labels = map[string]string{}
			}
			a.Labels[k] = v
		}
	}
	if sc.MemLimit > 0 {
		a.Resources.Memory = spec.Size{Bytes: int64(sc.MemLimit)}
	}
	if sc.CPUS > 0 {
		a.Resources.CPU = spec.MilliCPU{Milli: int64(float64(sc.CPUS)*1000 + 0.5)}
	}
	if m := a.Resources.Memory.Bytes; m > 0 && m < 6<<20 {
		im.unmapped("%s: a memory limit of %d bytes is below Docker's minimum of 6m; left out", at, m)
		a.Resources.Memory = spec.Size{}
	}
	return a
}

// genericUnmapped names every set service field this package does not map.
func (im *importer) genericUnmapped(at string, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			im.genericUnmapped(at, v.Field(i))
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" || handled[tag] || v.Field(i).IsZero() {
			continue
		}
		if strings.HasPrefix(tag, "#extensions") {
			for _, k := range sortedKeys(v.Field(i).Interface().(types.Extensions)) {
				im.unmapped("%s.%s: an extension; baton reads none", at, k)
			}
			continue
		}
		reason := why[tag]
		if reason == "" {
			reason = "not supported by baton"
		}
		im.unmapped("%s.%s: %s", at, tag, reason)
	}
}
