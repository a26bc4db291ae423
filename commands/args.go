package commands

// args.go lets global flags come after the subcommand, as docker, kubectl
// and restic accept them (cobra's persistent flags): `baton status -o
// json` means `baton -o json status`. The command line is rewritten once,
// before urfave/cli parses it, by moving every global flag found after the
// subcommand path in front of it, so both spellings parse the same way.
//
// Rules: nothing after a `--` moves (it ends the flags); a flag the
// subcommand defines itself (`logs -f` is follow) stays the subcommand's;
// the value of a subcommand flag that takes one is never read as a flag;
// `--name=value` and `-name value` both move whole. The subcommand's own
// flags may follow its arguments (`logs web --tail 5`): they are put in
// front of the arguments, as cobra parses them interspersed.

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// flagSet maps each name of a set of flags (without dashes) to whether
// the flag takes a value.
type flagSet map[string]bool

func flagsOf(flags []cli.Flag) flagSet {
	set := flagSet{}
	for _, f := range flags {
		for _, n := range f.Names() {
			set[n] = takesValue(f)
		}
	}
	return set
}

// splitFlag parses a command-line word as a flag: its name, and whether
// the word carries the value (`--output=json`). ok is false for words
// that are not flags ("-", "--", "json").
func splitFlag(w string) (name string, inline, ok bool) {
	if len(w) < 2 || w[0] != '-' || w == "--" {
		return "", false, false
	}
	name = strings.TrimPrefix(strings.TrimPrefix(w, "-"), "-")
	if name == "" || name[0] == '-' {
		return "", false, false
	}
	if i := strings.IndexByte(name, '='); i >= 0 {
		return name[:i], true, true
	}
	return name, false, true
}

// hoistGlobalFlags returns args (args[0] is the program) with every global
// flag after the subcommand path moved in front of the path.
func hoistGlobalFlags(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	global := flagsOf(app.Flags)
	out := []string{args[0]}
	i := 1
	// The global flags already in front.
	for i < len(args) {
		name, inline, ok := splitFlag(args[i])
		if !ok {
			break
		}
		out = append(out, args[i])
		i++
		if global[name] && !inline && i < len(args) {
			out = append(out, args[i])
			i++
		}
	}
	if i >= len(args) || args[i] == "--" {
		return append(out, args[i:]...)
	}
	// The subcommand path: "lb render", "schedule crontab".
	var path []string
	cmds := app.Commands
	var cmd *cli.Command
	for i < len(args) {
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(args[i]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd = next
		path = append(path, args[i])
		i++
		cmds = cmd.Subcommands
		if len(cmds) == 0 {
			break
		}
	}
	if cmd == nil {
		return append(out, args[i:]...) // an unknown command: urfave says so
	}
	local := flagsOf(cmd.Flags)
	local["help"], local["h"] = false, false
	// rest are the subcommand's flags, then its arguments (flags may
	// follow arguments too, as with cobra: `logs web -f`), then -- and
	// what follows it.
	var rest, positional, dashed, last []string
	for i < len(args) {
		w := args[i]
		if w == "--" {
			dashed = args[i:]
			break
		}
		if w == "--generate-bash-completion" {
			last = append(last, w) // urfave reads it as the last word only
			i++
			continue
		}
		name, inline, ok := splitFlag(w)
		takes, isLocal := local[name]
		takesGlobal, isGlobal := global[name]
		switch {
		case !ok:
			positional = append(positional, w)
			i++
		case isLocal:
			rest = append(rest, w)
			i++
			if takes && !inline && i < len(args) {
				rest = append(rest, args[i])
				i++
			}
		case isGlobal && name != "help" && name != "h" && name != "version" && name != "v":
			out = append(out, w)
			i++
			if takesGlobal && !inline && i < len(args) {
				out = append(out, args[i])
				i++
			}
		default:
			rest = append(rest, w)
			i++
		}
	}
	out = append(out, path...)
	out = append(out, rest...)
	out = append(out, positional...)
	out = append(out, dashed...)
	return append(out, last...)
}
