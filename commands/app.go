// Package commands is baton's command-line surface: flags, wiring and
// printing. Decisions live in internal/plan; side effects are sequenced by
// each subcommand's pass (pass.go holds the shared steps).
package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/clock"
)

// Env is everything a command reads from the outside world, set once from
// the global flags. Tests build their own.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	// Clock is the one clock of every pass; nil means the wall clock.
	Clock clock.Clock
	// Connect opens a Docker engine; nil means the real Docker client
	// (in-process tests give a fake).
	Connect func(host string, timeout time.Duration) (Engine, error)

	// Getenv reads the environment (DOCKER_HOST, DOCKER_CONTEXT,
	// DOCKER_CONFIG, HOME, COLUMNS); nil means os.Getenv.
	Getenv func(string) string

	SpecPath      string
	StatePath     string
	DockerHost    string
	DockerContext string
	DryRun        bool
	Output        string // table or json
	// Wide is -o wide: a table with one row per replica (status).
	Wide        bool
	LockTimeout time.Duration
	// DockerTimeout bounds each Docker API call.
	DockerTimeout time.Duration
	Quiet         bool
	Verbose       bool
	LogFormat     string // text or json, for diagnostics on stderr
	MetricsDir    string // node_exporter textfile directory; empty: no metrics

	// stdout tracks whether anything was written to Stdout (Report prints
	// a JSON error object only when nothing was).
	stdout *trackedWriter
	// argsJSON: the command line asks for -o json (read before its flags
	// parse, so an error in them is one JSON object too).
	argsJSON bool
}

func (e *Env) getenv(k string) string {
	if e.Getenv != nil {
		return e.Getenv(k)
	}
	return os.Getenv(k)
}

func (e *Env) clock() clock.Clock {
	if e.Clock != nil {
		return e.Clock
	}
	return clock.Real{}
}

// logf prints progress on stderr when --verbose is set.
func (e *Env) logf(format string, args ...any) {
	if e.Verbose && !e.Quiet {
		e.log("info", fmt.Sprintf(format, args...))
	}
}

// warnf prints a warning on stderr unless --quiet is set: something went
// wrong that does not fail the pass (a hook, the metrics file).
func (e *Env) warnf(format string, args ...any) {
	if !e.Quiet {
		e.log("warning", fmt.Sprintf(format, args...))
	}
}

// log writes one diagnostic line: "baton: [level: ]msg", or a JSON object
// with --log-format json. No timestamps: journald and cron add their own.
func (e *Env) log(level, msg string) {
	if e.LogFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg})
		fmt.Fprintf(e.Stderr, "%s\n", b)
		return
	}
	if level == "info" {
		fmt.Fprintf(e.Stderr, "baton: %s\n", msg)
		return
	}
	fmt.Fprintf(e.Stderr, "baton: %s: %s\n", level, msg)
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
		OnUsageError:         usageError,
		Action:               rootAction,
		Description: "Each subcommand is one pass: lock, load the spec and the state, observe Docker,\n" +
			"decide (every action with a reason), act, save. A second pass right after changes\n" +
			"nothing. --dry-run prints exactly what the real pass would do. Global options may\n" +
			"come before or after the subcommand (baton status -o json).\n\n" + appExits(),
		Flags: globalFlags(env),
		Before: func(*cli.Context) error {
			if env.Output == "wide" {
				env.Output, env.Wide = "table", true
			}
			if env.Output != "table" && env.Output != "json" {
				return fmt.Errorf("--output must be table, wide or json, got %q", env.Output)
			}
			if env.LogFormat != "text" && env.LogFormat != "json" {
				return fmt.Errorf("--log-format must be text or json, got %q", env.LogFormat)
			}
			return nil
		},
		Commands: []*cli.Command{
			newScaleCommand(env),
			newHealCommand(env),
			newLBCommand(env),
			newGCCommand(env),
			newModsCommand(env),
			newLabelsCommand(env),
			newRebalanceCommand(env),
			newSwarmCommand(env),
			newEventsCommand(env),
			newStatusCommand(env),
			newLogsCommand(env),
			newDoctorCommand(env),
			newValidateCommand(env),
			newImportCommand(env),
			newScheduleCommand(env),
			newCompletionCommand(env),
			newManCommand(env),
			newAppsCommand(env),
			newVersionCommand(env),
		},
	}
	for _, c := range app.Commands {
		addHelp(c, "")
	}
	return app
}

// globalFlags are the options every command reads, each with a BATON_*
// variable; they may come before or after the subcommand (args.go).
func globalFlags(env *Env) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "spec", Aliases: []string{"f"}, Value: "baton.yaml", Usage: "the YAML spec `FILE`", EnvVars: []string{"BATON_SPEC"}, Destination: &env.SpecPath},
		&cli.StringFlag{Name: "state", Value: "/var/lib/baton/state.json", Usage: "the JSON state `FILE` (locked through FILE.lock)", EnvVars: []string{"BATON_STATE"}, Destination: &env.StatePath},
		&cli.StringFlag{Name: "docker-host", Aliases: []string{"H"}, Usage: "Docker daemon `URL`: unix://, tcp:// or ssh://[user@]host (default: DOCKER_HOST, the Docker context, or the local socket)", EnvVars: []string{"BATON_DOCKER_HOST"}, Destination: &env.DockerHost},
		&cli.StringFlag{Name: "context", Aliases: []string{"c"}, Usage: "the Docker context `NAME` to connect to, as `docker context use` names it (default: DOCKER_CONTEXT, then the docker CLI's current context)", EnvVars: []string{"BATON_CONTEXT"}, Destination: &env.DockerContext},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the actions and config diff, change nothing", EnvVars: []string{"BATON_DRY_RUN"}, Destination: &env.DryRun},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "output `FORMAT`: table, wide (status: one row per replica) or json (one object, errors too)", EnvVars: []string{"BATON_OUTPUT"}, Destination: &env.Output},
		&cli.DurationFlag{Name: "docker-timeout", Value: time.Minute, Usage: "bound on each Docker API call (image pulls: ten times it)", EnvVars: []string{"BATON_DOCKER_TIMEOUT"}, Destination: &env.DockerTimeout},
		&cli.DurationFlag{Name: "lock-timeout", Value: 10 * time.Second, Usage: "how long to wait for the state lock before exiting 75", EnvVars: []string{"BATON_LOCK_TIMEOUT"}, Destination: &env.LockTimeout},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors", EnvVars: []string{"BATON_QUIET"}, Destination: &env.Quiet},
		&cli.BoolFlag{Name: "verbose", Usage: "print progress on stderr: what each pass observed, decided and did", EnvVars: []string{"BATON_VERBOSE"}, Destination: &env.Verbose},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "diagnostics on stderr as `FORMAT`: text or json", EnvVars: []string{"BATON_LOG_FORMAT"}, Destination: &env.LogFormat},
		&cli.StringFlag{Name: "metrics-dir", Usage: "write Prometheus textfile metrics (baton_COMMAND.prom) into `DIR` after each pass", EnvVars: []string{"BATON_METRICS_DIR"}, Destination: &env.MetricsDir},
	}
}

// Run runs the app with args and returns the exit code, printing any error
// to env.Stderr. main and the in-process tests both use it.
func Run(ctx context.Context, env *Env, args []string) int {
	out := &trackedWriter{w: env.Stdout}
	env.Stdout = out
	env.stdout = out
	env.argsJSON = outputFromArgs(args) == "json"
	app := NewApp(env)
	return Report(env, app.RunContext(ctx, hoistGlobalFlags(app, args)))
}

func newVersionCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print baton's version",
		Action: func(*cli.Context) error {
			info := buildInfo()
			if env.Output == "json" {
				return writeJSON(env.Stdout, info)
			}
			fmt.Fprintf(env.Stdout, "baton %s\n", info["version"])
			for _, k := range []string{"go", "revision", "time", "modified", "platform"} {
				if v := info[k]; v != "" {
					fmt.Fprintf(env.Stdout, "  %-9s %s\n", k+":", v)
				}
			}
			return nil
		},
	}
}

// buildInfo is the version plus what the Go toolchain recorded.
func buildInfo() map[string]string {
	info := map[string]string{"version": Version, "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info["version"] = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info["revision"] = s.Value
			case "vcs.time":
				info["time"] = s.Value
			case "vcs.modified":
				info["modified"] = s.Value
			}
		}
	}
	return info
}
