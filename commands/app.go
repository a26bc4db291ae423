// Package commands is baton's command-line surface: flags, wiring and
// printing. Decisions live in internal/plan; side effects are sequenced by
// each subcommand's pass (pass.go holds the shared steps).
package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"
)

// Env is everything a command reads from the outside world, set once from
// the global flags. Tests build their own.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	SpecPath    string
	StatePath   string
	DockerHost  string
	DryRun      bool
	Output      string // table or json
	LockTimeout time.Duration
	Quiet       bool
	Verbose     bool
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// logf prints progress on stderr when --verbose is set.
func (e *Env) logf(format string, args ...any) {
	if e.Verbose && !e.Quiet {
		fmt.Fprintf(e.Stderr, "baton: "+format+"\n", args...)
	}
}

// Version is set by the build (-ldflags "-X ...commands.Version=...").
var Version = "dev"

// NewApp builds the baton CLI. It never calls os.Exit: Run returns an error
// that Code and Report turn into the exit status.
func NewApp(env *Env) *cli.App {
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	app := &cli.App{
		Name:                 "baton",
		Usage:                "orchestrate Docker containers from cron, one reconciliation pass at a time",
		Version:              Version,
		Writer:               env.Stdout,
		ErrWriter:            env.Stderr,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		ExitErrHandler:       func(*cli.Context, error) {},
		Description: "Each subcommand is one pass: lock, load the spec and the state, observe Docker,\n" +
			"decide (every action with a reason), act, save. A second pass right after changes\n" +
			"nothing. --dry-run prints exactly what the real pass would do.\n\n" + exitHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Aliases: []string{"f"}, Value: "baton.yaml", Usage: "the YAML spec `FILE`", EnvVars: []string{"BATON_SPEC"}, Destination: &env.SpecPath},
			&cli.StringFlag{Name: "state", Value: "/var/lib/baton/state.json", Usage: "the JSON state `FILE` (locked through FILE.lock)", EnvVars: []string{"BATON_STATE"}, Destination: &env.StatePath},
			&cli.StringFlag{Name: "docker-host", Usage: "Docker daemon `URL` (default: DOCKER_HOST or the local socket)", EnvVars: []string{"BATON_DOCKER_HOST", "DOCKER_HOST"}, Destination: &env.DockerHost},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the actions and config diff, change nothing", EnvVars: []string{"BATON_DRY_RUN"}, Destination: &env.DryRun},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "output `FORMAT`: table or json", EnvVars: []string{"BATON_OUTPUT"}, Destination: &env.Output},
			&cli.DurationFlag{Name: "lock-timeout", Value: 10 * time.Second, Usage: "how long to wait for the state lock before exiting 75", EnvVars: []string{"BATON_LOCK_TIMEOUT"}, Destination: &env.LockTimeout},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors", EnvVars: []string{"BATON_QUIET"}, Destination: &env.Quiet},
			&cli.BoolFlag{Name: "verbose", Usage: "print progress on stderr", EnvVars: []string{"BATON_VERBOSE"}, Destination: &env.Verbose},
		},
		Before: func(*cli.Context) error {
			if env.Output != "table" && env.Output != "json" {
				return fmt.Errorf("--output must be table or json, got %q", env.Output)
			}
			return nil
		},
		Commands: []*cli.Command{
			newScaleCommand(env),
			newHealCommand(env),
			newLBCommand(env),
			newEventsCommand(env),
			newStatusCommand(env),
			newValidateCommand(env),
			newVersionCommand(env),
		},
	}
	for _, c := range app.Commands {
		addExitHelp(c)
	}
	return app
}

func addExitHelp(c *cli.Command) {
	if c.Description == "" {
		c.Description = c.Usage
	}
	c.Description += "\n\n" + exitHelp
	for _, sub := range c.Subcommands {
		addExitHelp(sub)
	}
}

// Run runs the app with args and returns the exit code, printing any error
// to env.Stderr. main and the in-process tests both use it.
func Run(ctx context.Context, env *Env, args []string) int {
	app := NewApp(env)
	return Report(env.Stderr, app.RunContext(ctx, args))
}

func newVersionCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print baton's version",
		Action: func(*cli.Context) error {
			fmt.Fprintf(env.Stdout, "baton %s\n", Version)
			return nil
		},
	}
}
