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
	"sort"
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

// bashValue is the bash code completing a value of kind v.
func bashValue(v valueSpec) string {
	switch v.kind {
	case valFile:
		return `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))`
	case valDir:
		return `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))`
	case valWords:
		return fmt.Sprintf(`COMPREPLY=($(compgen -W %q -- "$cur"))`, strings.Join(v.words, " "))
	case valApps:
		return `COMPREPLY=($(compgen -W "$(_baton_apps)" -- "$cur"))`
	case valContexts:
		return `COMPREPLY=($(compgen -W "$(docker context ls --format '{{.Name}}' 2>/dev/null)" -- "$cur"))`
	}
	return `COMPREPLY=()`
}

func bashCompletion(root *compNode) string {
	var b strings.Builder
	b.WriteString(`# bash completion for baton. Generated by "baton completion bash"; do not edit.

# _baton_value prints the kind of value flag $2 of command $1 takes
# ("bool" for a flag that takes none, nothing for an unknown word).
_baton_value() {
    case "$1|$2" in
`)
	root.walk(func(n *compNode) {
		if n.path == "" {
			return
		}
		for _, f := range n.flags {
			kind := "bool"
			if f.takes {
				kind = "value"
			}
			var pats []string
			for _, w := range f.words() {
				pats = append(pats, fmt.Sprintf("%q", n.path+"|"+w))
			}
			fmt.Fprintf(&b, "        %s) echo %s ;;\n", strings.Join(pats, "|"), kind)
		}
	})
	for _, f := range root.flags {
		kind := "bool"
		if f.takes {
			kind = "value"
		}
		var pats []string
		for _, w := range f.words() {
			pats = append(pats, fmt.Sprintf("*%q", "|"+w))
		}
		fmt.Fprintf(&b, "        %s) echo %s ;;\n", strings.Join(pats, "|"), kind)
	}
	b.WriteString(`    esac
}

# _baton_apps prints the spec's app names (the --spec on the line, if any).
_baton_apps() {
    local i spec=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --spec) spec=(--spec "${COMP_WORDS[i+1]}") ;;
            -f) [[ "$cmd" != logs ]] && spec=(--spec "${COMP_WORDS[i+1]}") ;;
            --spec=*) spec=("${COMP_WORDS[i]}") ;;
        esac
    done
    "${COMP_WORDS[0]}" "${spec[@]}" __apps 2>/dev/null
}

_baton() {
    local cur prev cmd="" skip=0 dashed=0 i w kind
    local paths="|`)
	var paths []string
	root.walk(func(n *compNode) {
		if n.path != "" {
			paths = append(paths, n.path)
		}
	})
	b.WriteString(strings.Join(paths, "|"))
	b.WriteString(`|"
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        if ((skip)); then skip=0; continue; fi
        if ((dashed)); then continue; fi
        case "$w" in
            --) dashed=1 ;;
            -*=*) ;;
            -*) [[ "$(_baton_value "$cmd" "$w")" == value ]] && skip=1 ;;
            *) [[ "$paths" == *"|${cmd:+$cmd }$w|"* ]] && cmd="${cmd:+$cmd }$w" ;;
        esac
    done
    # The value of the flag before the cursor.
    if ((!dashed)) && [[ "$prev" == -* && "$(_baton_value "$cmd" "$prev")" == value ]]; then
        case "$cmd|$prev" in
`)
	root.walk(func(n *compNode) {
		if n.path == "" {
			return
		}
		for _, f := range n.flags {
			if !f.takes {
				continue
			}
			var pats []string
			for _, w := range f.words() {
				pats = append(pats, fmt.Sprintf("%q", n.path+"|"+w))
			}
			fmt.Fprintf(&b, "            %s) %s ;;\n", strings.Join(pats, "|"), bashValue(f.value))
		}
	})
	for _, f := range root.flags {
		if !f.takes {
			continue
		}
		var pats []string
		for _, w := range f.words() {
			pats = append(pats, fmt.Sprintf("*%q", "|"+w))
		}
		fmt.Fprintf(&b, "            %s) %s ;;\n", strings.Join(pats, "|"), bashValue(f.value))
	}
	b.WriteString(`            *) COMPREPLY=() ;;
        esac
        return
    fi
    # A flag.
    if ((!dashed)) && [[ "$cur" == -* ]]; then
        case "$cmd" in
`)
	root.walk(func(n *compNode) {
		var words []string
		for _, f := range n.allFlags() {
			words = append(words, f.words()...)
		}
		words = append(words, "--help")
		if n.path == "" {
			words = append(words, "--version")
		}
		fmt.Fprintf(&b, "            %q) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", n.path, strings.Join(words, " "))
	})
	b.WriteString(`        esac
        return
    fi
    # A subcommand, or the command's arguments.
    case "$cmd" in
`)
	root.walk(func(n *compNode) {
		switch {
		case len(n.subs) > 0:
			fmt.Fprintf(&b, "        %q) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", n.path, strings.Join(n.subNames(), " "))
		default:
			fmt.Fprintf(&b, "        %q) %s ;;\n", n.path, bashValue(n.args))
		}
	})
	b.WriteString(`    esac
}
complete -F _baton baton
`)
	return b.String()
}

// zshQuote makes a usage string safe inside a zsh _arguments spec.
func zshQuote(s string) string {
	r := strings.NewReplacer("'", "", "[", "(", "]", ")", ":", " -", "`", "", "\\", "")
	return r.Replace(s)
}

// zshAction is the _arguments action completing a value of kind v.
func zshAction(v valueSpec) string {
	switch v.kind {
	case valFile:
		return "_files"
	case valDir:
		return "_files -/"
	case valWords:
		return "(" + strings.Join(v.words, " ") + ")"
	case valApps:
		return "_baton_apps"
	case valContexts:
		return "_baton_contexts"
	}
	return " "
}

func zshFlagSpecs(flags []compFlag) []string {
	var out []string
	for _, f := range flags {
		usage := zshQuote(f.usage)
		words := f.words()
		arg := ""
		if f.takes {
			arg = ":value:" + zshAction(f.value)
		}
		if len(words) == 1 {
			out = append(out, fmt.Sprintf("'%s[%s]%s'", words[0], usage, arg))
			continue
		}
		out = append(out, fmt.Sprintf("'(%s)'{%s}'[%s]%s'", strings.Join(words, " "), strings.Join(words, ","), usage, arg))
	}
	return out
}

func zshFunc(n *compNode) string {
	if n.path == "" {
		return "_baton"
	}
	return "_baton_" + strings.NewReplacer(" ", "_", "-", "_").Replace(n.path)
}

func zshCompletion(root *compNode) string {
	var b strings.Builder
	b.WriteString(`#compdef baton
# zsh completion for baton. Generated by "baton completion zsh"; do not edit.

# The spec's app names (the --spec on the line, if any) and the docker
# CLI's contexts.
_baton_apps() {
    local -a apps spec line
    local i
    line=(${(z)BUFFER})
    for ((i = 2; i < $#line; i++)); do
        case "${line[i]}" in
            --spec) spec=(--spec "${(Q)line[i+1]}") ;;
            --spec=*) spec=("${(Q)line[i]}") ;;
        esac
    done
    apps=(${(f)"$(${(Q)line[1]} "${spec[@]}" __apps 2>/dev/null)"})
    _describe 'app' apps
}

_baton_contexts() {
    local -a contexts
    contexts=(${(f)"$(docker context ls --format '{{.Name}}' 2>/dev/null)"})
    _describe 'docker context' contexts
}
`)
	var fns []*compNode
	root.walk(func(n *compNode) { fns = append(fns, n) })
	for _, n := range fns {
		fmt.Fprintf(&b, "\n%s() {\n", zshFunc(n))
		specs := zshFlagSpecs(n.allFlags())
		if len(n.subs) > 0 {
			b.WriteString("    local -a commands\n    commands=(\n")
			for _, s := range n.subs {
				fmt.Fprintf(&b, "        '%s:%s'\n", s.name, zshQuote(s.usage))
			}
			b.WriteString("    )\n    local curcontext=\"$curcontext\" state line\n    _arguments -C \\\n")
			for _, sp := range specs {
				fmt.Fprintf(&b, "        %s \\\n", sp)
			}
			b.WriteString("        '1: :->cmd' \\\n        '*:: :->args'\n    case $state in\n        cmd) _describe 'command' commands ;;\n        args)\n            case $words[1] in\n")
			for _, s := range n.subs {
				fmt.Fprintf(&b, "                %s) %s ;;\n", s.name, zshFunc(s))
			}
			b.WriteString("            esac ;;\n    esac\n}\n")
			continue
		}
		if n.args.kind != valNone {
			specs = append(specs, fmt.Sprintf("'*:argument:%s'", zshAction(n.args)))
		}
		b.WriteString("    _arguments \\\n")
		for i, sp := range specs {
			end := " \\\n"
			if i == len(specs)-1 {
				end = "\n"
			}
			fmt.Fprintf(&b, "        %s%s", sp, end)
		}
		if len(specs) == 0 {
			b.WriteString("        ''\n")
		}
		b.WriteString("}\n")
	}
	b.WriteString("\n_baton \"$@\"\n")
	return b.String()
}

// fishQuote quotes s for a fish single-quoted string.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// fishArgs is the complete(1) arguments for a value of kind v.
func fishArgs(v valueSpec) string {
	switch v.kind {
	case valFile:
		return "-r -F"
	case valDir:
		return "-r -f -a '(__fish_complete_directories)'"
	case valWords:
		return "-r -f -a " + fishQuote(strings.Join(v.words, " "))
	case valApps:
		return "-r -f -a '(__fish_baton_apps)'"
	case valContexts:
		return "-r -f -a '(docker context ls --format \"{{.Name}}\" 2>/dev/null)'"
	}
	return "-r -f"
}

func fishCompletion(root *compNode) string {
	var b strings.Builder
	var paths []string
	root.walk(func(n *compNode) {
		if n.path != "" {
			paths = append(paths, n.path)
		}
	})
	sort.Strings(paths)
	b.WriteString(`# fish completion for baton. Generated by "baton completion fish"; do not edit.

# __fish_baton_path prints the subcommand path on the command line so far
# ("", "lb", "lb render"), skipping flags and their values.
function __fish_baton_path
    set -l words (commandline -opc)
    set -e words[1]
    set -l path ""
    set -l skip 0
    for w in $words
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--'
                break
            case '-*=*'
            case '-*'
                if contains -- "$path|$w" $__fish_baton_bools
                    continue
                end
                if contains -- $w $__fish_baton_values; or contains -- "$path|$w" $__fish_baton_local_values
                    set skip 1
                end
            case '*'
                set -l next (string trim -- "$path $w")
                if contains -- $next $__fish_baton_paths
                    set path $next
                end
        end
    end
    echo $path
end

# __fish_baton_at tests whether the path so far is $argv[1].
function __fish_baton_at
    test (__fish_baton_path) = "$argv[1]"
end

# The spec's app names (the --spec on the line, if any).
function __fish_baton_apps
    set -l words (commandline -opc)
    set -l spec
    for i in (seq (count $words))
        if test "$words[$i]" = --spec; and test $i -lt (count $words)
            set spec --spec $words[(math $i + 1)]
        end
    end
    $words[1] $spec __apps 2>/dev/null
end

`)
	fmt.Fprintf(&b, "set -g __fish_baton_paths %s\n", fishWords(paths))
	var values, localValues, bools []string
	for _, f := range root.flags {
		if f.takes {
			values = append(values, f.words()...)
		}
	}
	root.walk(func(n *compNode) {
		if n.path == "" {
			return
		}
		for _, f := range n.flags {
			for _, w := range f.words() {
				if f.takes {
					localValues = append(localValues, n.path+"|"+w)
				} else {
					bools = append(bools, n.path+"|"+w)
				}
			}
		}
	})
	fmt.Fprintf(&b, "set -g __fish_baton_values %s\n", fishWords(values))
	fmt.Fprintf(&b, "set -g __fish_baton_local_values %s\n", fishWords(localValues))
	fmt.Fprintf(&b, "set -g __fish_baton_bools %s\n\n", fishWords(bools))
	b.WriteString("# No file names unless a flag or an argument takes one.\ncomplete -c baton -f\n")
	root.walk(func(n *compNode) {
		cond := fishQuote("__fish_baton_at " + fishQuote(n.path))
		fmt.Fprintf(&b, "\n# %s\n", orRoot(n.path))
		for _, s := range n.subs {
			fmt.Fprintf(&b, "complete -c baton -n %s -a %s -d %s\n", cond, fishQuote(s.name), fishQuote(s.usage))
		}
		if len(n.subs) == 0 && n.args.kind != valNone {
			fmt.Fprintf(&b, "complete -c baton -n %s %s\n", cond, strings.Replace(fishArgs(n.args), "-r ", "", 1))
		}
		for _, f := range n.allFlags() {
			var opts []string
			for _, name := range f.names {
				if len(name) == 1 {
					opts = append(opts, "-s "+name)
				} else {
					opts = append(opts, "-l "+name)
				}
			}
			val := ""
			if f.takes {
				val = " " + fishArgs(f.value)
			}
			fmt.Fprintf(&b, "complete -c baton -n %s %s%s -d %s\n", cond, strings.Join(opts, " "), val, fishQuote(strings.ReplaceAll(f.usage, "`", "")))
		}
	})
	return b.String()
}

func orRoot(path string) string {
	if path == "" {
		return "baton"
	}
	return "baton " + path
}

func fishWords(ws []string) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = fishQuote(w)
	}
	return strings.Join(out, " ")
}

// takesValue reports whether a flag consumes the next word.
func takesValue(f cli.Flag) bool {
	if df, ok := f.(cli.DocGenerationFlag); ok {
		return df.TakesValue()
	}
	return false
}
