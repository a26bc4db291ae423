package commands

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/templates"
)

func newValidateCommand(env *Env) *cli.Command {
	var schema bool
	return &cli.Command{
		Name:  "validate",
		Usage: "check the spec without touching Docker; print every problem with file:line:column",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "schema", Usage: "print the spec's JSON Schema instead (for editors)", Destination: &schema},
		},
		Action: func(*cli.Context) error {
			if schema {
				b, err := spec.Schema()
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
				return err
			}
			s, err := loadSpec(env)
			if err == nil {
				// The template is loaded, parsed and rendered as a pass
				// will; a problem is a spec problem at nginx.template.
				err = templates.Check(s)
			}
			if err != nil {
				var se *spec.Error
				if errors.As(err, &se) {
					return withCode(ExitError, err, "nothing was changed; `baton validate` checks a spec without touching Docker")
				}
				return err
			}
			if !env.Quiet && env.Output == "table" {
				fmt.Fprintf(env.Stdout, "%s: ok (%d apps)\n", env.SpecPath, len(s.Apps))
			}
			if env.Output == "json" {
				return writeJSON(env.Stdout, map[string]any{"spec": env.SpecPath, "ok": true, "apps": len(s.Apps)})
			}
			return nil
		},
	}
}
