package commands

// help.go holds what every command's help ends with: EXAMPLES and the
// EXIT STATUS codes that command can return (restic's EXIT STATUS blocks;
// validate never returns 75 and version only 0). The man page renders the
// same table (completion.go).

import (
	"fmt"
	"sort"
	"strings"

	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/urfave/cli/v2"
)

// exitMeaning says what each exit code means, per kind of command.
var exitMeaning = map[int]string{
	ExitOK:      "done, nothing to do, or a dry run",
	ExitError:   "error: nothing or not everything was done (bad spec, Docker unreachable, balancer test failed, ...)",
	ExitPartial: "partly done: some actions failed, an app is crash-looping or a node is down; the rest was applied",
	ExitLocked:  "the state lock is held by another baton; try again later",
}

// cmdDoc is the help's tail for one command path.
type cmdDoc struct {
	examples []string // "command  # what it does"
	exits    []int
	// exitText overrides exitMeaning for this command.
	exitText map[int]string
}

var (
	passExits = []int{ExitOK, ExitError, ExitPartial, ExitLocked}
	readExits = []int{ExitOK, ExitError}
)

// readOnly is the exit text of commands that change nothing.
var readOnly = map[int]string{ExitOK: "success", ExitError: "error (the message says what, and hints how to fix it)"}

// commandDocs documents every visible command path. TestEveryCommandHasExamples
// keeps it complete.
var commandDocs = map[string]cmdDoc{
	"scale": {exits: passExits, examples: []string{
		"baton scale                       # converge every app",
		"baton scale -n                    # print the actions (and the fields that changed), change nothing",
		"baton scale --explain             # why each autoscaled app has its count (a dry run)",
		"baton scale -o json | jq .actions # the actions as JSON",
	}},
	"heal": {exits: passExits, examples: []string{
		"baton heal                        # one probe pass",
		"baton heal --for 55s --every 5s   # under a 1-minute cron: a pass every 5 seconds",
		"baton heal -n                     # what heal would replace, and why",
	}},
	"lb": {exits: passExits, examples: []string{"baton lb render -n   # the config diff"}},
	"lb render": {exits: passExits, examples: []string{
		"baton lb render                   # rewrite, test and reload when the ready replicas changed",
		"baton lb render -n                # the config diff, nothing written",
	}},
	"gc": {exits: passExits, examples: []string{
		"baton gc -n                       # what gc would remove, and why",
		"baton gc                          # remove it",
	}},
	"mods": {exits: passExits, examples: []string{"baton mods refresh -n"}},
	"mods refresh": {exits: passExits, examples: []string{
		"baton mods refresh                # fetch the files that are due",
		"baton mods refresh -n -o json     # what is due, as JSON",
	}},
	"labels": {exits: passExits, examples: []string{"baton labels sync -n"}},
	"labels sync": {exits: passExits, examples: []string{
		"baton labels sync -n              # the node label changes, nothing changed",
		"baton --docker-host ssh://root@manager labels sync",
	}},
	"swarm": {exits: passExits, examples: []string{"baton swarm join -n"}},
	"swarm join": {exits: passExits, examples: []string{
		"baton swarm join -n               # which nodes would join, as what",
		"baton --docker-host ssh://root@manager swarm join",
	}},
	"rebalance": {exits: passExits, examples: []string{
		"baton rebalance -n                # the moves, and each node's memory",
		"baton rebalance",
	}},
	"events": {exits: readExits, exitText: readOnly, examples: []string{
		"baton events --since 1h                 # the last hour",
		"baton events --app web --type replace,crashloop",
		"baton events -o json | jq '.events[] | select(.error != null)'",
	}},
	"status": {exits: readExits, exitText: readOnly, examples: []string{
		"baton status                      # one row per app: wanted, running, ready, why",
		"baton status web                  # one row per replica of web",
		"baton status -o wide              # one row per replica of every app",
		"baton status -o json",
	}},
	"logs": {exits: readExits, exitText: readOnly, examples: []string{
		"baton logs web                    # every replica's logs, interleaved, prefixed",
		"baton logs web -f --since 10m     # follow, from ten minutes ago",
		"baton logs web --tail 20          # the last 20 lines of each replica",
	}},
	"doctor": {exits: readExits, exitText: map[int]string{ExitOK: "every check passed", ExitError: "a check failed (its row and hint say which and what to do)"}, examples: []string{
		"baton doctor                      # check this machine against the spec",
		"baton doctor -o json",
	}},
	"validate": {exits: readExits, exitText: map[int]string{ExitOK: "the spec is valid", ExitError: "the spec is invalid (every problem is listed) or cannot be read"}, examples: []string{
		"baton validate                    # check ./baton.yaml",
		"baton --spec /etc/baton/baton.yaml validate -o json",
		"baton validate --schema > baton.schema.json   # for editors",
	}},
	"import": {exits: readExits, exitText: readOnly, examples: []string{"baton import compose compose.yaml > baton.yaml"}},
	"import compose": {exits: readExits, exitText: map[int]string{ExitOK: "the spec was printed and validates", ExitError: "the file could not be read, or the printed spec does not validate"}, examples: []string{
		"baton import compose compose.yaml > baton.yaml",
		"baton import compose --project shop compose.yaml",
	}},
	"schedule": {exits: readExits, exitText: readOnly, examples: []string{"baton schedule crontab > /etc/cron.d/baton"}},
	"schedule crontab": {exits: readExits, exitText: readOnly, examples: []string{
		"baton --spec /etc/baton/baton.yaml schedule crontab > /etc/cron.d/baton",
	}},
	"schedule systemd": {exits: readExits, exitText: readOnly, examples: []string{
		"baton --spec /etc/baton/baton.yaml schedule systemd --out /etc/systemd/system",
		"systemctl daemon-reload && systemctl enable --now 'baton-*.timer'",
	}},
	"completion": {exits: readExits, exitText: readOnly, examples: []string{
		"baton completion bash > /usr/share/bash-completion/completions/baton",
		"baton completion zsh > /usr/local/share/zsh/site-functions/_baton",
		"baton completion fish > ~/.config/fish/completions/baton.fish",
	}},
	"version": {exits: []int{ExitOK, ExitError}, exitText: map[int]string{ExitOK: "the version was printed", ExitError: "a flag it does not take, or stdout was closed"}, examples: []string{
		"baton version",
		"baton version -o json",
	}},
}

// globalNote tells that the global options go anywhere.
const globalNote = "Global options (see baton --help: --spec, --state, -o, -n, -q, --docker-host, ...)\n" +
	"may come before or after the subcommand."

// exitBlock renders the EXIT STATUS block of a command.
func exitBlock(d cmdDoc) string {
	var b strings.Builder
	b.WriteString("EXIT STATUS:")
	for _, c := range d.exits {
		text := exitMeaning[c]
		if t, ok := d.exitText[c]; ok {
			text = t
		}
		fmt.Fprintf(&b, "\n  %-3d %s", c, text)
	}
	return b.String()
}

func examplesBlock(d cmdDoc) string {
	return "EXAMPLES:\n  " + strings.Join(d.examples, "\n  ")
}

// addHelp ends every command's description with its examples, its exit
// codes and the note on global options.
func addHelp(c *cli.Command, prefix string) {
	path := strings.TrimSpace(prefix + " " + c.Name)
	if c.Description == "" {
		c.Description = c.Usage
	}
	if d, ok := commandDocs[path]; ok {
		c.Description += "\n\n" + examplesBlock(d) + "\n\n" + exitBlock(d)
	}
	c.Description += "\n\n" + globalNote
	c.OnUsageError = usageError
	switch {
	case len(c.Subcommands) > 0 && c.Action == nil:
		c.Action = needSubcommand(path, c.Subcommands)
	case c.ArgsUsage == "" && c.Action != nil:
		c.Action = noArguments(path, c.Action)
	}
	for _, sub := range c.Subcommands {
		addHelp(sub, path)
	}
}

// usageError is a flag that does not parse: an error (exit 1, one JSON
// object with -o json), not the help on stdout.
func usageError(cx *cli.Context, err error, _ bool) error {
	var path []string
	for _, c := range cx.Lineage() {
		if c.Command != nil && c.Command.Name != "" && c.Command.Name != "baton" {
			path = append([]string{c.Command.Name}, path...)
		}
	}
	name := strings.Join(append([]string{"baton"}, path...), " ")
	return withCode(ExitError, err, name+" --help lists the options")
}

// rootAction is baton's own action: the help with no command (as docker
// prints it), an error naming the closest command for an unknown one.
func rootAction(cx *cli.Context) error {
	if cx.Args().Len() == 0 {
		return cli.ShowAppHelp(cx)
	}
	var names []string
	for _, c := range cx.App.Commands {
		if !c.Hidden {
			names = append(names, c.Name)
		}
	}
	got := cx.Args().First()
	err := fmt.Errorf("unknown command %q for \"baton\"", got)
	if best := spec.Closest(got, names); best != "" {
		return withCode(ExitError, err, fmt.Sprintf("did you mean \"baton %s\"?", best))
	}
	return withCode(ExitError, err, "baton --help lists the commands")
}

// outputFromArgs is --output as args give it, read before the flags are
// parsed, so a command line whose flags do not parse still gets its one
// JSON object with -o json.
func outputFromArgs(args []string) string {
	last := ""
	for i, a := range args {
		switch {
		case a == "--":
			return last
		case (a == "-o" || a == "--output" || a == "-output") && i+1 < len(args):
			last = args[i+1] // the last one wins, as when the flags parse
		case strings.HasPrefix(a, "-o=") || strings.HasPrefix(a, "--output=") || strings.HasPrefix(a, "-output="):
			last = a[strings.Index(a, "=")+1:]
		}
	}
	return last
}

// needSubcommand is a command group's action: without a subcommand, or
// with one it does not know, it is an error naming them (a typo names the
// closest), so `baton schedule > /etc/cron.d/baton` never writes the help
// into cron's directory and exits 0.
func needSubcommand(path string, subs []*cli.Command) cli.ActionFunc {
	var names []string
	for _, s := range subs {
		names = append(names, s.Name)
	}
	return func(cx *cli.Context) error {
		if cx.Args().Len() == 0 {
			return withCode(ExitError, fmt.Errorf("baton %s needs a subcommand: %s", path, strings.Join(names, ", ")), "baton "+path+" --help")
		}
		got := cx.Args().First()
		err := fmt.Errorf("unknown command %q for \"baton %s\" (known: %s)", got, path, strings.Join(names, ", "))
		if best := spec.Closest(got, names); best != "" {
			return withCode(ExitError, err, fmt.Sprintf("did you mean \"baton %s %s\"?", path, best))
		}
		return withCode(ExitError, err)
	}
}

// noArguments refuses arguments to a command that takes none (`baton
// scale web` would otherwise run a pass over every app).
func noArguments(path string, action cli.ActionFunc) cli.ActionFunc {
	return func(cx *cli.Context) error {
		if cx.Args().Len() > 0 {
			return withCode(ExitError, fmt.Errorf("baton %s takes no arguments, got %q", path, cx.Args().Slice()), "baton "+path+" --help")
		}
		return action(cx)
	}
}

// appExits is the app's EXIT STATUS: every code any command returns.
func appExits() string {
	set := map[int]bool{}
	for _, d := range commandDocs {
		for _, c := range d.exits {
			set[c] = true
		}
	}
	codes := make([]int, 0, len(set))
	for c := range set {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	return exitBlock(cmdDoc{exits: codes})
}
