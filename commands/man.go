package commands

// man.go renders baton(1) from the app itself (the hidden `baton man`):
// NAME, SYNOPSIS, DESCRIPTION, GLOBAL OPTIONS, COMMANDS (each with its
// options, examples and exit codes), ENVIRONMENT, FILES, EXIT STATUS,
// EXAMPLES and SEE ALSO. docs/man/baton.1 is its output, kept in step by
// TestGeneratedFilesAreUpToDate and rendered by man(1) in a test.

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

func newManCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print the man page (roff)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprint(env.Stdout, Man(pristine()))
			return err
		},
	}
}

// roff escapes text for a roff line: backslashes, and a leading . or '.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// ownDescription is a command's description without what addHelp
// appended (its examples, exit codes and the note on global options).
func ownDescription(c *cli.Command) string {
	d := c.Description
	for _, cut := range []string{"\n\nEXAMPLES:", "\n\n" + globalNote} {
		if i := strings.Index(d, cut); i >= 0 {
			d = d[:i]
		}
	}
	return d
}

// manFlag writes one option as a tagged paragraph.
func manFlag(b *strings.Builder, f cli.Flag) {
	names := f.Names()
	if names[0] == "help" || names[0] == "version" || names[0] == "generate-bash-completion" {
		return
	}
	var words []string
	for _, n := range names {
		dash := "--"
		if len(n) == 1 {
			dash = "-"
		}
		words = append(words, `\fB`+roff(dash+n)+`\fR`)
	}
	usage, arg := "", ""
	if df, ok := f.(cli.DocGenerationFlag); ok {
		usage = df.GetUsage()
		if df.TakesValue() {
			arg = "VALUE"
			if i := strings.Index(usage, "`"); i >= 0 {
				if j := strings.Index(usage[i+1:], "`"); j >= 0 {
					arg = usage[i+1 : i+1+j]
					usage = usage[:i] + arg + usage[i+1+j+1:]
				}
			}
			arg = ` \fI` + roff(arg) + `\fR`
		}
		var notes []string
		if v := df.GetDefaultText(); v != "" && df.TakesValue() {
			notes = append(notes, "default "+v)
		} else if v := df.GetValue(); v != "" && df.TakesValue() {
			notes = append(notes, "default "+v)
		}
		if ev := df.GetEnvVars(); len(ev) > 0 {
			notes = append(notes, "env "+strings.Join(ev, ", "))
		}
		if len(notes) > 0 {
			usage += " (" + strings.Join(notes, "; ") + ")"
		}
	}
	fmt.Fprintf(b, ".TP\n%s%s\n%s\n", strings.Join(words, ", "), arg, roff(usage))
}

// manEnvironment documents the variables baton reads besides the flags'.
var manEnvironment = [][2]string{
	{"DOCKER_HOST", "the daemon, as for docker, when neither --docker-host nor --context is given (DOCKER_TLS_VERIFY and DOCKER_CERT_PATH apply as for docker)"},
	{"DOCKER_CONTEXT", "the Docker context to use when neither --docker-host, --context nor DOCKER_HOST says"},
	{"DOCKER_CONFIG", "the docker CLI's configuration directory (default ~/.docker): config.json's currentContext and the context store"},
	{"COLUMNS", "the width status and doctor cut their tables to (default: the terminal's; no cut when stdout is not a terminal)"},
}

// manFiles documents the files baton reads and writes.
var manFiles = [][2]string{
	{"baton.yaml", "the spec, in the working directory unless --spec or BATON_SPEC says; relative paths in it resolve against its directory"},
	{"/var/lib/baton/state.json", "the state (--state): what Docker cannot tell, versioned JSON, replaced atomically"},
	{"/var/lib/baton/state.json.lock", "the state lock (flock); holds \"pid N\" of the pass holding it"},
	{"/var/lib/baton/state.events.jsonl", "the event log (baton events), rotated to .1, .2, .3 past 4 MiB"},
	{"DIR/baton_COMMAND.prom", "the textfile metrics with --metrics-dir DIR (node_exporter's textfile collector)"},
	{"/etc/cron.d/baton", "the crontab baton schedule crontab renders (baton doctor --cron)"},
	{"/etc/systemd/system/baton-*.service, baton-*.timer", "the units baton schedule systemd --out renders (baton doctor --systemd)"},
	{"~/.docker/config.json, ~/.docker/contexts/", "the docker CLI's current context and context store, read as docker reads them"},
	{"/usr/local/share/baton/baton.schema.json", "the spec's JSON Schema, installed by make install (baton validate --schema prints it)"},
}

var manExamples = []string{
	"baton validate",
	"baton scale -n",
	"baton scale",
	"baton heal --for 55s --every 5s",
	"baton status web",
	"baton status -o json | jq '.apps[] | select(.why != \"\")'",
	"baton logs web -f --since 10m",
	"baton events --since 1h --type replace,crashloop",
	"baton --docker-host ssh://root@node1 status",
	"baton schedule crontab > /etc/cron.d/baton && baton doctor",
}

var manSeeAlso = []string{"docker(1)", "docker-context(1)", "ssh(1)", "crontab(5)", "cron(8)", "systemd.service(5)", "systemd.timer(5)", "nginx(8)", "haproxy(1)", "jq(1)"}

// Man renders the man page of app (after app.Setup).
func Man(app *cli.App) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH BATON 1 \"\" \"baton\" \"User Commands\"\n.nh\n.ad l\n.SH NAME\nbaton \\- %s\n", roff(app.Usage))
	b.WriteString(".SH SYNOPSIS\n\\fBbaton\\fR [\\fIglobal options\\fR] \\fIcommand\\fR [\\fIcommand options\\fR] [\\fIarguments\\fR...]\n")
	desc := app.Description
	if i := strings.Index(desc, "\n\nEXIT STATUS:"); i >= 0 {
		desc = desc[:i]
	}
	fmt.Fprintf(&b, ".SH DESCRIPTION\n%s\n", roff(desc))
	b.WriteString(".SH GLOBAL OPTIONS\nGlobal options may come before or after the subcommand (\\fBbaton status \\-o json\\fR); nothing after \\fB\\-\\-\\fR moves, and a subcommand's own flag of the same name wins (\\fBlogs \\-f\\fR is follow).\n")
	for _, f := range app.Flags {
		manFlag(&b, f)
	}
	b.WriteString(".SH COMMANDS\n")
	var cmd func(prefix string, c *cli.Command)
	cmd = func(prefix string, c *cli.Command) {
		if c.Hidden || c.Name == "help" {
			return
		}
		path := strings.TrimSpace(prefix + " " + c.Name)
		if len(c.Subcommands) > 0 {
			for _, s := range c.Subcommands {
				cmd(path, s)
			}
			return
		}
		args := ""
		if c.ArgsUsage != "" {
			args = " " + c.ArgsUsage
		}
		fmt.Fprintf(&b, ".SS \"baton %s%s\"\n%s.\n", roff(path), roff(args), roff(c.Usage))
		if d := ownDescription(c); d != "" && d != c.Usage {
			fmt.Fprintf(&b, ".PP\n%s\n", roff(d))
		}
		for _, f := range c.Flags {
			manFlag(&b, f)
		}
		if doc, ok := commandDocs[path]; ok {
			b.WriteString(".PP\nExamples:\n.RS\n.nf\n")
			for _, e := range doc.examples {
				fmt.Fprintf(&b, "%s\n", roff(e))
			}
			b.WriteString(".fi\n.RE\n")
			codes := make([]string, len(doc.exits))
			for i, c := range doc.exits {
				codes[i] = fmt.Sprint(c)
			}
			fmt.Fprintf(&b, ".PP\nExit status: %s.\n", strings.Join(codes, ", "))
		}
	}
	for _, c := range app.Commands {
		cmd("", c)
	}
	b.WriteString(".SH ENVIRONMENT\nEvery global option has a BATON_ variable (see GLOBAL OPTIONS); an option on the command line wins over its variable.\n")
	for _, f := range app.Flags {
		df, ok := f.(cli.DocGenerationFlag)
		if !ok || len(df.GetEnvVars()) == 0 {
			continue
		}
		for _, ev := range df.GetEnvVars() {
			fmt.Fprintf(&b, ".TP\n\\fB%s\\fR\nas \\fB\\-\\-%s\\fR\n", roff(ev), roff(f.Names()[0]))
		}
	}
	for _, e := range manEnvironment {
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fR\n%s\n", roff(e[0]), roff(e[1]))
	}
	b.WriteString(".SH FILES\n")
	for _, f := range manFiles {
		fmt.Fprintf(&b, ".TP\n\\fI%s\\fR\n%s\n", roff(f[0]), roff(f[1]))
	}
	b.WriteString(".SH EXIT STATUS\nThe same codes for every command; each command's help lists the ones it can return.\n")
	for _, c := range []int{ExitOK, ExitError, ExitPartial, ExitLocked} {
		fmt.Fprintf(&b, ".TP\n\\fB%d\\fR\n%s\n", c, roff(exitMeaning[c]))
	}
	b.WriteString(".PP\nWith \\fB\\-o json\\fR stdout carries one JSON object also on failure: {\"error\", \"exit_code\", \"hints\", \"problems\"}.\n")
	b.WriteString(".SH EXAMPLES\n.nf\n")
	for _, e := range manExamples {
		fmt.Fprintf(&b, "%s\n", roff(e))
	}
	b.WriteString(".fi\n.SH SEE ALSO\n")
	for i, s := range manSeeAlso {
		name, sect, _ := strings.Cut(s, "(")
		sep := ",\n"
		if i == len(manSeeAlso)-1 {
			sep = "\n"
		}
		fmt.Fprintf(&b, "\\fB%s\\fR(%s%s", roff(name), sect, sep)
	}
	b.WriteString(".PP\nThe documentation beside the source: docs/README.md, docs/spec.md, docs/commands/.\n")
	return b.String()
}
