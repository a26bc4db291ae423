package commands

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/spec"
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
			if err != nil {
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
