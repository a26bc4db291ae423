package commands_test

// The man page (issue #18, acceptance 6) rendered by man(1), and what
// make install puts where.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

func TestManPageRenders(t *testing.T) {
	man := testenv.Tool(t, "man")
	page := filepath.Join(testenv.Root(), "docs", "man", "baton.1")
	cmd := exec.Command(man, "--warnings", "-l", page)
	cmd.Env = append(os.Environ(), "MANWIDTH=100", "MANPAGER=cat", "PAGER=cat", "LANG=C.UTF-8")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("man -l: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("man -l warns:\n%s", stderr.String())
	}
	text := string(out)
	for _, sec := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS", "COMMANDS", "ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"} {
		if !regexp.MustCompile(`(?m)^` + sec + `$`).MatchString(text) {
			t.Errorf("the man page has no %s section", sec)
		}
	}
	for _, want := range []string{"BATON_SPEC", "BATON_STATE", "BATON_OUTPUT", "DOCKER_CONTEXT", "/var/lib/baton/state.json.lock",
		"baton scale", "baton lb render", "baton logs APP", "baton doctor", "75     the state lock is held", "docker-context(1)", "Exit status: 0, 1, 3, 75."} {
		if !strings.Contains(text, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
	// Each command's section lists only its own exit codes.
	section := func(name string) string {
		i := strings.Index(text, "\n   baton "+name+"\n")
		if i < 0 {
			t.Fatalf("no section for baton %s", name)
		}
		rest := text[i+1:]
		if j := strings.Index(rest[1:], "\n   baton "); j >= 0 {
			rest = rest[:j+1]
		}
		return rest
	}
	for name, want := range map[string]string{"validate": "Exit status: 0, 1.", "version": "Exit status: 0, 1.", "scale": "Exit status: 0, 1, 3, 75."} {
		if sec := section(name); !strings.Contains(sec, want) {
			t.Errorf("baton %s's section does not say %q:\n%s", name, want, sec)
		}
	}
}

func TestMakeInstallPutsEverythingInPlace(t *testing.T) {
	make := testenv.Tool(t, "make")
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dest := t.TempDir()
	cmd := exec.Command(make, "-C", testenv.Root(), "install", "DESTDIR="+dest, "PREFIX=/usr/local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, f := range []string{"bin/baton", "share/bash-completion/completions/baton", "share/zsh/site-functions/_baton",
		"share/fish/vendor_completions.d/baton.fish", "share/man/man1/baton.1", "share/baton/baton.schema.json"} {
		if st, err := os.Stat(filepath.Join(dest, "usr/local", f)); err != nil || st.Size() == 0 {
			t.Errorf("make install: %s: %v", f, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dest, "usr/local/share/baton/baton.schema.json"))
	if want, _ := os.ReadFile(filepath.Join(testenv.Root(), "docs", "baton.schema.json")); string(b) != string(want) {
		t.Error("the installed schema is not docs/baton.schema.json")
	}
}
