package commands

// completion.go generates the bash, zsh and fish completions from the app
// itself, so the checked-in files under completions/ can be compared with
// what the code defines (TestGeneratedFilesAreUpToDate). They complete
// subcommands, flags (global ones after the subcommand too, as baton
// accepts them there) and flag values: the closed sets (-o, --log-format,
// events --type), files and directories where a flag takes one (and only
// there: fish never offers file names for a subcommand), the spec's app
// names (a hidden `baton __apps` reads them from the spec, without
// Docker) and the docker CLI's contexts. The completion tests run real
// bash, zsh and fish.

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/baton-orchestrator/baton/internal/spec"
)

func newCompletionCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "Completes subcommands, flags (global ones after the subcommand too) and their\n" +
			"values: -o and --log-format, events --type, the spec's app names, files and\n" +
			"directories where a flag takes one, the docker CLI's contexts. Install with\n" +
			"`make install`, or e.g.\n" +
			"  baton completion bash > /usr/share/bash-completion/completions/baton",
		Action: func(c *cli.Context) error {
			text, err := Completion(c.App, c.Args().First())
			if err != nil {
				return err
			}
			if env.Output == "json" {
				return writeJSON(env.Stdout, object{{"shell", c.Args().First()}, {"script", text}})
			}
			_, err = fmt.Fprint(env.Stdout, text)
			return err
		},
	}
}

// newAppsCommand is the completions' helper: the spec's app names, one per
// line, read without Docker (nothing when the spec does not load).
func newAppsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:   "__apps",
		Usage:  "print the spec's app names (for shell completion)",
		Hidden: true,
		Action: func(*cli.Context) error {
			s, err := spec.Load(env.SpecPath)
			if err != nil {
				return nil
			}
			for _, a := range s.Apps {
				fmt.Fprintln(env.Stdout, a.Name)
			}
			return nil
		},
	}
}

// pristine is an app whose flags were never parsed: what it documents does
// not depend on the environment (a DOCKER_HOST or BATON_* variable would
// otherwise show as a default).
func pristine() *cli.App {
	app := NewApp(&Env{})
	app.Setup()
	return app
}

// Completion renders the completion script of app for shell.
func Completion(app *cli.App, shell string) (string, error) {
	root := completionTree(app)
	switch shell {
	case "bash":
		return bashCompletion(root), nil
	case "zsh":
		return zshCompletion(root), nil
	case "fish":
		return fishCompletion(root), nil
	}
	return "", fmt.Errorf("completion: unknown shell %q (want bash, zsh or fish)", shell)
}

// valueKind is what a flag's value (or a command's argument) is.
type valueKind string

const (
	valNone     valueKind = ""         // anything: nothing to offer (a duration, a name)
	valFile     valueKind = "file"     // a file name
	valDir      valueKind = "dir"      // a directory
	valWords    valueKind = "words"    // one of words
	valApps     valueKind = "apps"     // an app of the spec
	valContexts valueKind = "contexts" // a docker context
)

type valueSpec struct {
	kind  valueKind
	words []string
}

// flagValues say what each flag's value is: "--name" for a global flag,
// "PATH --name" for a subcommand's.
var flagValues = map[string]valueSpec{
	"--spec":                       {kind: valFile},
	"--state":                      {kind: valFile},
	"--metrics-dir":                {kind: valDir},
	"--output":                     {kind: valWords, words: []string{"table", "wide", "json"}},
	"--log-format":                 {kind: valWords, words: []string{"text", "json"}},
	"--docker-host":                {kind: valWords, words: []string{"unix:///var/run/docker.sock", "tcp://", "ssh://"}},
	"--context":                    {kind: valContexts},
	"scale --metrics":              {kind: valFile},
	"events --app":                 {kind: valApps},
	"events --type":                {kind: valWords, words: spec.EventTypes},
	"logs --tail":                  {kind: valWords, words: []string{"all", "10", "100"}},
	"doctor --cron":                {kind: valFile},
	"doctor --systemd":             {kind: valDir},
	"schedule crontab --out":       {kind: valDir},
	"schedule systemd --out":       {kind: valDir},
	"schedule crontab --bin":       {kind: valFile},
	"schedule systemd --bin":       {kind: valFile},
	"schedule crontab --spec-path": {kind: valFile},
	"schedule systemd --spec-path": {kind: valFile},
}

// argValues say what each command's arguments are.
var argValues = map[string]valueSpec{
	"completion":     {kind: valWords, words: []string{"bash", "zsh", "fish"}},
	"status":         {kind: valApps},
	"logs":           {kind: valApps},
	"import compose": {kind: valFile},
}

// compFlag is one flag for the generators.
type compFlag struct {
	names []string // without dashes; long first
	usage string
	takes bool
	value valueSpec
}

func (f compFlag) words() []string {
	var out []string
	for _, n := range f.names {
		if len(n) == 1 {
			out = append(out, "-"+n)
		} else {
			out = append(out, "--"+n)
		}
	}
	return out
}

// compNode is a command for the generators.
type compNode struct {
	path  string // "scale", "lb render"; "" for the app
	name  string
	usage string
	flags []compFlag // its own
	subs  []*compNode
	args  valueSpec
	// globals are the global flags it accepts (those its own do not
	// shadow).
	globals []compFlag
}

func compFlags(path string, flags []cli.Flag) []compFlag {
	var out []compFlag
	for _, f := range flags {
		names := f.Names()
		if names[0] == "help" || names[0] == "version" || names[0] == "generate-bash-completion" {
			continue
		}
		cf := compFlag{names: names, takes: takesValue(f)}
		if df, ok := f.(cli.DocGenerationFlag); ok {
			cf.usage = df.GetUsage()
		}
		key := "--" + names[0]
		if path != "" {
			key = path + " " + key
		}
		cf.value = flagValues[key]
		out = append(out, cf)
	}
	return out
}

// completionTree is the app as the generators see it.
func completionTree(app *cli.App) *compNode {
	globals := compFlags("", app.Flags)
	root := &compNode{flags: globals}
	var build func(parent *compNode, cs []*cli.Command)
	build = func(parent *compNode, cs []*cli.Command) {
		for _, c := range cs {
			if c.Hidden || c.Name == "help" {
				continue
			}
			n := &compNode{path: strings.TrimSpace(parent.path + " " + c.Name), name: c.Name, usage: c.Usage}
			n.flags = compFlags(n.path, c.Flags)
			n.args = argValues[n.path]
			own := map[string]bool{}
			for _, f := range n.flags {
				for _, name := range f.names {
					own[name] = true
				}
			}
			for _, g := range globals {
				var names []string
				for _, name := range g.names {
					if !own[name] {
						names = append(names, name)
					}
				}
				if len(names) > 0 {
					g.names = names
					n.globals = append(n.globals, g)
				}
			}
			parent.subs = append(parent.subs, n)
			build(n, c.Subcommands)
		}
	}
	build(root, app.Commands)
	return root
}

func (n *compNode) walk(f func(*compNode)) {
	f(n)
	for _, s := range n.subs {
		s.walk(f)
	}
}

func (n *compNode) subNames() []string {
	out := make([]string, 0, len(n.subs))
	for _, s := range n.subs {
		out = append(out, s.name)
	}
	return out
}

// allFlags are the flags a command accepts: its own, then the globals.
func (n *compNode) allFlags() []compFlag {
	if n.path == "" {
		return n.flags
	}
	return append(append([]compFlag{}, n.flags...), n.globals...)
}

// takesValue reports whether a flag consumes the next word.
func takesValue(f cli.Flag) bool {
	if df, ok := f.(cli.DocGenerationFlag); ok {
		return df.TakesValue()
	}
	return false
}
