package commands_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// hostile is a directory name no quoting may lose: a space, %, both
// quotes, $, a backtick, a backslash and a backslash before a %.
const hostile = "my dir 50% o'clock \"q\" $HOME `id` a\\b c\\%d"

// argvRecorder writes, at path, a script that records its arguments one
// per NUL-terminated entry into out.
func argvRecorder(t *testing.T, path, out string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > '" + out + "'\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// scheduleSpec writes, at path, a spec whose schedule has four passes
// (scale, heal, lb render, gc): schedule reads the spec it schedules.
func scheduleSpec(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := "nginx: {config: /etc/nginx/conf.d/baton.conf, test: [nginx, -t], reload: [nginx, -s, reload], listen: \"127.0.0.1:8080\"}\n" +
		"apps:\n  - {name: web, image: \"web:1\", port: 8080, lb: {}}\n"
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
}

func recorded(t *testing.T, out string) []string {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the command did not run: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// cronCommand is what cron hands /bin/sh for a crontab command field, as
// cronie's do_command.c does: a backslash before a % is dropped, the first
// unescaped % ends the command (the rest becomes stdin, its % newlines).
func cronCommand(field string) string {
	var b strings.Builder
	escaped := false
	for _, r := range field {
		if escaped {
			if r != '%' {
				b.WriteRune('\\')
			}
			b.WriteRune(r)
			escaped = false
			continue
		}
		if r == '\\' {
			escaped = true
			continue
		}
		if r == '%' {
			break
		}
		b.WriteRune(r)
	}
	if escaped {
		b.WriteRune('\\')
	}
	return b.String()
}

// TestCrontabQuotesPaths: binary, spec, state and metrics paths with every
// character the shell or cron would take apart reach baton as they were,
// through cron's % rule and a real /bin/sh.
func TestCrontabQuotesPaths(t *testing.T) {
	root := filepath.Join(t.TempDir(), hostile)
	bin := filepath.Join(root, "bin", "baton")
	out := filepath.Join(t.TempDir(), "argv")
	argvRecorder(t, bin, out)
	spec, st, metrics := filepath.Join(root, "baton.yaml"), filepath.Join(root, "state.json"), filepath.Join(root, "metrics")
	scheduleSpec(t, spec)
	text, errOut, code := runApp(t, "--spec", spec, "--state", st, "--metrics-dir", metrics, "schedule", "crontab", "--bin", bin)
	if code != 0 {
		t.Fatal(errOut)
	}
	job := regexp.MustCompile(`^(\S+ ){5}root (.*)$`)
	jobs := 0
	for _, line := range strings.Split(text, "\n") {
		m := job.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "#") {
			continue
		}
		jobs++
		_ = os.Remove(out)
		cmd := exec.Command("/bin/sh", "-c", cronCommand(m[2]))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sh -c %q: %v\n%s", cronCommand(m[2]), err, b)
		}
		got := recorded(t, out)
		want := []string{"--spec", spec, "--state", st, "--metrics-dir", metrics, "--lock-timeout", "50s"}
		if len(got) < len(want) || strings.Join(got[:len(want)], "\x00") != strings.Join(want, "\x00") {
			t.Errorf("line %q\nran with %q\nwant %q", line, got, want)
		}
	}
	if jobs < 3 {
		t.Fatalf("no job lines in:\n%s", text)
	}
}

// systemdWords splits an ExecStart= value as systemd does for what baton
// writes: %% and $$ are one character, words are separated by spaces and
// may be double-quoted, with backslash escapes inside.
func systemdWords(v string) []string {
	v = strings.ReplaceAll(v, "%%", "%")
	var words []string
	var w strings.Builder
	in, quoted, esc := false, false, false
	for _, r := range v {
		switch {
		case esc:
			w.WriteRune(r)
			esc = false
		case r == '\\':
			esc, in = true, true
		case r == '"':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

// TestSystemdUnitsQuotePaths: the same hostile paths in ExecStart= are
// words systemd splits back as they were, and systemd-analyze verify (the
// real parser) finds the executable at its path with a space, a %, a $ and
// a backtick (systemd itself refuses quotes and backslashes there, and so
// does baton, with an error).
func TestSystemdUnitsQuotePaths(t *testing.T) {
	root := filepath.Join(t.TempDir(), hostile)
	bin := filepath.Join(t.TempDir(), "my bin 50% $HOME `id`", "baton")
	argvRecorder(t, bin, filepath.Join(t.TempDir(), "argv"))
	spec, st, metrics := filepath.Join(root, "baton.yaml"), filepath.Join(root, "state.json"), filepath.Join(root, "metrics")
	scheduleSpec(t, spec)
	dir := t.TempDir()
	if _, errOut, code := runApp(t, "--spec", spec, "--state", st, "--metrics-dir", metrics, "schedule", "systemd", "--bin", bin, "--out", dir); code != 0 {
		t.Fatal(errOut)
	}
	units, _ := filepath.Glob(filepath.Join(dir, "*.service"))
	if len(units) < 3 {
		t.Fatalf("got %v", units)
	}
	analyze, _ := exec.LookPath("systemd-analyze")
	if analyze == "" && testenv.CI() {
		t.Fatal("systemd-analyze is not installed")
	}
	for _, u := range units {
		b, _ := os.ReadFile(u)
		var exec_ string
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
				exec_ = v
			}
		}
		got := systemdWords(exec_)
		for i := 1; i < len(got); i++ { // $$ is a $ in the arguments only
			got[i] = strings.ReplaceAll(got[i], "$$", "$")
		}
		want := []string{bin, "--spec", spec, "--state", st, "--metrics-dir", metrics, "--lock-timeout", "50s"}
		if len(got) < len(want) || strings.Join(got[:len(want)], "\x00") != strings.Join(want, "\x00") {
			t.Errorf("%s: ExecStart=%s\nsplits into %q\nwant %q", filepath.Base(u), exec_, got, want)
		}
		if analyze != "" {
			outText, errText, code := testenv.Run(t, dir, analyze, "verify", u)
			for _, l := range strings.Split(outText+errText, "\n") {
				if strings.Contains(l, filepath.Base(u)) || strings.Contains(l, "not executable") {
					t.Errorf("systemd-analyze verify %s (exit %d): %s", filepath.Base(u), code, l)
				}
			}
		}
	}
}

// TestScheduleRefusesWhatALineCannotCarry: a newline (or any control
// character) cannot be carried on a crontab or unit line; systemd takes no
// quote or backslash in the executable's path.
func TestScheduleRefusesWhatALineCannotCarry(t *testing.T) {
	for _, kind := range []string{"crontab", "systemd"} {
		_, errOut, code := runApp(t, "--spec", demoSpec, "schedule", kind, "--spec-path", "/etc/baton/a\nb.yaml")
		if code != 1 || !strings.Contains(errOut, "control character") {
			t.Errorf("%s: exit %d: %s", kind, code, errOut)
		}
	}
	_, errOut, code := runApp(t, "--spec", demoSpec, "schedule", "systemd", "--bin", "/opt/it's/baton")
	if code != 1 || !strings.Contains(errOut, "systemd refuses an executable path with a quote") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if _, errOut, code := runApp(t, "--spec", demoSpec, "schedule", "crontab", "--bin", "/opt/it's/baton"); code != 0 {
		t.Errorf("cron takes any path: exit %d: %s", code, errOut)
	}
}
