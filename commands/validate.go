package commands

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func newValidateCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check the spec without touching Docker; print every problem with file:line:column",
		Action: func(*cli.Context) error {
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
