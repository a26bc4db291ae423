package docker

// endpoint.go chooses the daemon the way the docker CLI does
// (cli/command/cli.go resolveContextName, docker/cli v28.5.2) and connects
// to it with the docker CLI's own code: its context store
// (~/.docker/contexts/meta/<sha256 of the name>/meta.json and the TLS
// files beside it) and its connection helper for ssh://, which runs
// `ssh [user@]host docker system dial-stdio`. Precedence:
//
//  1. --docker-host and --context together are an error, as in docker;
//  2. --context NAME;
//  3. --docker-host URL (or BATON_DOCKER_HOST);
//  4. DOCKER_HOST: the default context, as the environment describes it;
//  5. DOCKER_CONTEXT;
//  6. the current context in $DOCKER_CONFIG/config.json (~/.docker), as
//     `docker context use` records it;
//  7. the local socket.
//
// The context named "default" is the environment's endpoint (4 or 7).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/cli/cli/connhelper"
	dctx "github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	"github.com/docker/docker/client"
)

// Options say which daemon to connect to.
type Options struct {
	// Host is --docker-host; Context is --context.
	Host    string
	Context string
	// Getenv reads DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG and HOME;
	// nil means os.Getenv.
	Getenv func(string) string
	// Timeout bounds every API call (pulls ten times it); 0 means 60s.
	Timeout time.Duration
}

// DefaultContext is the docker CLI's name for the environment's endpoint.
const DefaultContext = "default"

// Endpoint is the daemon chosen: its address and, when it came from a
// context, the context's name and where it was chosen from.
type Endpoint struct {
	Host    string
	Context string
	// From says what selected it: "--docker-host", "--context",
	// "DOCKER_HOST", "DOCKER_CONTEXT", "docker context use" or "default".
	From string
	opts []client.Opt
}

func (o Options) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

// ConfigDir is the docker CLI's configuration directory: DOCKER_CONFIG,
// else ~/.docker.
func (o Options) ConfigDir() string {
	if d := o.getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := o.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// currentContext reads config.json's currentContext ("" when none).
func (o Options) currentContext() (string, error) {
	path := filepath.Join(o.ConfigDir(), "config.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("docker config: %w", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("docker config %s: %w", path, err)
	}
	return cfg.CurrentContext, nil
}

// Resolve chooses the daemon (see the file comment for the order).
func Resolve(o Options) (Endpoint, error) {
	var name, from string
	switch {
	case o.Context != "" && o.Host != "":
		return Endpoint{}, errors.New("conflicting options: either give --docker-host or --context, not both")
	case o.Context != "":
		name, from = o.Context, "--context"
	case o.Host != "":
		return hostEndpoint(o.Host, "--docker-host")
	case o.getenv("DOCKER_HOST") != "":
		return hostEndpoint(o.getenv("DOCKER_HOST"), "DOCKER_HOST")
	case o.getenv("DOCKER_CONTEXT") != "":
		name, from = o.getenv("DOCKER_CONTEXT"), "DOCKER_CONTEXT"
	default:
		cur, err := o.currentContext()
		if err != nil {
			return Endpoint{}, err
		}
		name, from = cur, "docker context use"
	}
	if name == "" || name == DefaultContext {
		if h := o.getenv("DOCKER_HOST"); h != "" {
			return hostEndpoint(h, "DOCKER_HOST")
		}
		return hostEndpoint(client.DefaultDockerHost, "default")
	}
	return contextEndpoint(o, name, from)
}

// hostEndpoint is a daemon given by its URL, with the environment's TLS
// settings (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), as the docker CLI's -H
// takes them.
func hostEndpoint(host, from string) (Endpoint, error) {
	ep := Endpoint{Host: host, From: from, opts: []client.Opt{client.FromEnv}}
	if strings.HasPrefix(host, "ssh://") {
		helper, err := connhelper.GetConnectionHelper(host)
		if err != nil {
			return Endpoint{}, fmt.Errorf("docker host %q: %w", host, err)
		}
		ep.opts = append(ep.opts, client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
		return ep, nil
	}
	ep.opts = append(ep.opts, client.WithHost(host))
	return ep, nil
}

// contextEndpoint reads a context from the docker CLI's store.
func contextEndpoint(o Options, name, from string) (Endpoint, error) {
	cfg := store.NewConfig(func() any { return &map[string]any{} },
		store.EndpointTypeGetter(dctx.DockerEndpoint, func() any { return &dctx.EndpointMeta{} }))
	s := store.New(filepath.Join(o.ConfigDir(), "contexts"), cfg)
	meta, err := s.GetMetadata(name)
	if err != nil {
		return Endpoint{}, &ContextError{Name: name, From: from, Err: err}
	}
	em, err := dctx.EndpointFromContext(meta)
	if err != nil {
		return Endpoint{}, &ContextError{Name: name, From: from, Err: err}
	}
	ep, err := dctx.WithTLSData(s, name, em)
	if err != nil {
		return Endpoint{}, &ContextError{Name: name, From: from, Err: err}
	}
	opts, err := ep.ClientOpts()
	if err != nil {
		return Endpoint{}, &ContextError{Name: name, From: from, Err: err}
	}
	return Endpoint{Host: em.Host, Context: name, From: from, opts: opts}, nil
}

// ContextError is a Docker context that could not be read.
type ContextError struct {
	Name, From string
	Err        error
}

func (e *ContextError) Error() string {
	return fmt.Sprintf("docker context %q (from %s): %v", e.Name, e.From, e.Err)
}

func (e *ContextError) Unwrap() error { return e.Err }

// Connect resolves the daemon and returns an engine for it (no call is
// made yet), negotiating the API version down to what the daemon speaks.
func Connect(o Options) (*Engine, error) {
	ep, err := Resolve(o)
	if err != nil {
		return nil, err
	}
	opts := append(ep.opts[:len(ep.opts):len(ep.opts)], client.WithAPIVersionNegotiation())
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", ep.Host, err)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	return &Engine{cli: cli, timeout: timeout, host: ep.Host, context: ep.Context}, nil
}

// UnreachableError is a daemon that could not be reached: its address is
// named once, with the reason when the SDK gave one beyond "cannot
// connect".
type UnreachableError struct {
	Host, Context string
	Err           error
}

func (e *UnreachableError) Error() string {
	s := "cannot reach the Docker daemon at " + e.Host
	if e.Context != "" {
		s += fmt.Sprintf(" (docker context %q)", e.Context)
	}
	msg := e.Err.Error()
	if strings.HasPrefix(msg, "Cannot connect to the Docker daemon") {
		return s
	}
	msg = strings.TrimPrefix(msg, "error during connect: ")
	return s + ": " + msg
}

func (e *UnreachableError) Unwrap() error { return e.Err }
