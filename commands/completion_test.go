package commands_test

// Completion (issue #18, acceptance 5): the checked-in scripts, loaded in
// a real bash, zsh and fish, offer the subcommands, the flags (global ones
// after the subcommand too) and the flags' values: closed sets, files and
// directories only where a flag takes one, the spec's apps, the docker
// CLI's contexts.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// completer completes a command line in one shell.
type completer func(t *testing.T, line string) []string

// shellEnv is where the shells run: cwd holds a file and a directory, the
// built baton is first in PATH, DOCKER_CONFIG has one context.
type shellEnv struct {
	dir string
	env []string
}

func newShellEnv(t *testing.T) *shellEnv {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "afile.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Dir(testenv.Baton(t))
	cfg := filepath.Join(dir, ".docker")
	docker := testenv.Tool(t, "docker")
	cmd := exec.Command(docker, "context", "create", "ctx-completion", "--docker", "host=unix:///nowhere.sock")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker context create: %v\n%s", err, out)
	}
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + dir, "DOCKER_CONFIG=" + cfg, "TERM=dumb", "LANG=C.UTF-8"}
	return &shellEnv{dir: dir, env: env}
}

func (s *shellEnv) run(t *testing.T, argv ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = s.dir, s.env
	out, err := cmd.Output()
	if err != nil {
		ee, _ := err.(*exec.ExitError)
		var stderr []byte
		if ee != nil {
			stderr = ee.Stderr
		}
		t.Fatalf("%v: %v\n%s%s", argv, err, out, stderr)
	}
	var words []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			w, _, _ := strings.Cut(l, "\t") // fish: candidate<TAB>description
			words = append(words, w)
		}
	}
	return words
}

func bashCompleter(s *shellEnv) completer {
	return func(t *testing.T, line string) []string {
		bash := testenv.Tool(t, "bash")
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := "source " + filepath.Join(testenv.Root(), "completions", "baton.bash") + "; COMP_WORDS=(" + strings.Join(quoted, " ") +
			"); COMP_CWORD=" + strconv.Itoa(len(words)-1) + "; _baton; printf '%s\\n' \"${COMPREPLY[@]}\""
		return s.run(t, bash, "-c", prog)
	}
}

func zshCompleter(s *shellEnv) completer {
	return func(t *testing.T, line string) []string {
		zsh := testenv.Tool(t, "zsh")
		return s.run(t, zsh, "-f", filepath.Join(testenv.Root(), "testdata", "completion", "capture.zsh"),
			filepath.Join(testenv.Root(), "completions"), line)
	}
}

func fishCompleter(s *shellEnv) completer {
	return func(t *testing.T, line string) []string {
		fish := testenv.Tool(t, "fish")
		return s.run(t, fish, "-N", "-c", "source "+filepath.Join(testenv.Root(), "completions", "baton.fish")+"; complete -C '"+line+"'")
	}
}

func TestCompletionInRealShells(t *testing.T) {
	s := newShellEnv(t)
	demo := filepath.Join(testenv.Root(), "testdata", "demo", "baton.yaml")
	cases := []struct {
		line       string
		want, none []string
		only       bool // nothing but want
	}{
		{line: "baton sc", want: []string{"scale", "schedule"}, only: true},
		{line: "baton ", want: []string{"scale", "heal", "lb", "status", "logs", "doctor"}, none: []string{"afile.txt", "adir/", "adir", "help", "__apps", "man"}},
		{line: "baton --spec x.yaml lb ", want: []string{"render"}, only: true},
		{line: "baton heal --ev", want: []string{"--every"}, only: true},
		{line: "baton -o ", want: []string{"table", "wide", "json"}, only: true},
		{line: "baton status -o ", want: []string{"table", "wide", "json"}, only: true},
		{line: "baton --log-format ", want: []string{"text", "json"}, only: true},
		{line: "baton events --type ", want: []string{"start", "replace", "crashloop", "rebalance-move"}, none: []string{"--app", "afile.txt"}},
		{line: "baton schedule systemd --out ", want: []string{"adir"}, none: []string{"afile.txt", "--bin"}},
		{line: "baton --metrics-dir ", want: []string{"adir"}, none: []string{"afile.txt"}},
		{line: "baton schedule crontab --bin ", want: []string{"afile.txt", "adir"}},
		{line: "baton completion ", want: []string{"bash", "zsh", "fish"}, only: true},
		{line: "baton --spec " + demo + " logs ", want: []string{"web"}, only: true},
		{line: "baton --spec " + demo + " status ", want: []string{"web"}, only: true},
		{line: "baton --spec " + demo + " events --app ", want: []string{"web"}, only: true},
		{line: "baton logs -", want: []string{"--follow", "-f", "--since", "--tail", "--spec", "-o", "-n"}, none: []string{"afile.txt"}},
		{line: "baton lb render --sp", want: []string{"--spec"}, only: true},
		{line: "baton import compose ", want: []string{"afile.txt"}},
		{line: "baton -c ", want: []string{"ctx-completion"}},
		{line: "baton gc ", none: []string{"afile.txt", "adir"}},
	}
	shells := map[string]completer{"bash": bashCompleter(s), "zsh": zshCompleter(s), "fish": fishCompleter(s)}
	for _, name := range []string{"bash", "zsh", "fish"} {
		complete := shells[name]
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				got := complete(t, c.line)
				set := map[string]bool{}
				for _, w := range got {
					set[strings.TrimSuffix(w, "/")] = true
				}
				for _, w := range c.want {
					if !set[strings.TrimSuffix(w, "/")] {
						t.Errorf("%s: %q does not offer %q (got %q)", name, c.line, w, got)
					}
				}
				for _, w := range c.none {
					if set[strings.TrimSuffix(w, "/")] {
						t.Errorf("%s: %q offers %q (got %q)", name, c.line, w, got)
					}
				}
				if c.only && len(set) != len(c.want) {
					t.Errorf("%s: %q offers %q, want only %q", name, c.line, got, c.want)
				}
			}
		})
	}
}
