package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/compose"
	"github.com/baton-orchestrator/baton/internal/spec"
)

func newImportCommand(env *Env) *cli.Command {
	var project string
	return &cli.Command{
		Name:  "import",
		Usage: "turn another tool's file into a first baton spec",
		Subcommands: []*cli.Command{{
			Name:      "compose",
			Usage:     "print a baton spec equivalent to a docker compose file; name every feature left out",
			ArgsUsage: "FILE",
			Description: "Reads FILE with the compose project's own loader (interpolation, .env, extends,\n" +
				"short and long syntax), prints the spec on stdout and, on stderr, one line per compose\n" +
				"feature it could not map and one per mapping to check. Save the spec next to FILE:\n" +
				"bind mounts and env files inside FILE's directory are written relative to it. The spec\n" +
				"is validated as it would be saved there; a spec that does not validate exits 1.\n" +
				"Nothing touches Docker.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "project", Usage: "the spec's project `NAME` (default: the compose project's name)", Destination: &project},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return withCode(ExitError, fmt.Errorf("import compose: want one FILE, got %d arguments", c.NArg()))
				}
				return runImportCompose(c, env, c.Args().First(), project)
			},
		}},
	}
}

func runImportCompose(c *cli.Context, env *Env, file, project string) error {
	res, err := compose.Import(c.Context, file, compose.Options{Project: project, Env: os.Environ()})
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# Imported from %s by `baton import compose`; save it in that file's directory.\n"+
		"# Not mapped (see stderr): %d; check the result with `baton validate`.", filepath.Base(file), len(res.Unmapped))
	out, err := spec.Format(res.Spec, header)
	if err != nil {
		return err
	}
	if _, err := env.Stdout.Write(out); err != nil {
		return err
	}
	if !env.Quiet {
		for _, u := range res.Unmapped {
			fmt.Fprintf(env.Stderr, "baton: not mapped: %s\n", u)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(env.Stderr, "baton: check: %s\n", n)
		}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if _, err := spec.Parse(filepath.Join(filepath.Dir(abs), "baton.yaml"), out); err != nil {
		var se *spec.Error
		if errors.As(err, &se) {
			return withCode(ExitError, fmt.Errorf("the imported spec does not validate: %w", err), "edit the printed spec; every problem is listed above")
		}
		return err
	}
	return nil
}
