package commands_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// copyDir copies the compose fixtures into a temporary directory, so the
// imported specs can be saved beside them.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// TestImportComposeThenValidate: every realistic compose file imports to a
// spec that `baton validate` accepts once saved beside it, and what was
// left out is printed on stderr.
func TestImportComposeThenValidate(t *testing.T) {
	dir := copyDir(t, filepath.Join(testenv.Root(), "testdata", "compose"))
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) < 5 {
		t.Fatalf("want five compose files, got %d", len(files))
	}
	unmapped := 0
	for _, f := range files {
		out, errOut, code := runApp(t, "import", "compose", f)
		if code != 0 {
			t.Fatalf("import %s: exit %d\n%s", f, code, errOut)
		}
		for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
			if line != "" && !strings.HasPrefix(line, "baton: not mapped: ") && !strings.HasPrefix(line, "baton: check: ") {
				t.Errorf("%s: unexpected stderr line %q", f, line)
			}
		}
		unmapped += strings.Count(errOut, "baton: not mapped: ")
		saved := strings.TrimSuffix(f, ".yaml") + ".baton.yaml"
		if err := os.WriteFile(saved, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		if vout, verr, vcode := runApp(t, "--spec", saved, "validate"); vcode != 0 {
			t.Errorf("validate %s: exit %d\n%s%s\n%s", saved, vcode, vout, verr, out)
		}
	}
	if unmapped == 0 {
		t.Error("the fixtures use features baton leaves out, and none was named")
	}
}

func TestImportComposeRefusals(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := runApp(t, "import", "compose", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("a missing file: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := runApp(t, "import", "compose"); code != 1 || !strings.Contains(errOut, "want one FILE") {
		t.Errorf("no file: exit %d, stderr %q", code, errOut)
	}
	// Two services on one host port: compose fails at run time, baton's
	// validate says so at once; the spec is still printed, to edit.
	f := filepath.Join(dir, "compose.yaml")
	body := "name: clash\nservices:\n  a: {image: a, ports: [\"8080:80\"]}\n  b: {image: b, ports: [\"8080:81\"]}\n"
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runApp(t, "import", "compose", f)
	if code != 1 || !strings.Contains(errOut, "already claimed by app \"a\"") || !strings.Contains(out, "name: b") {
		t.Errorf("a clash: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
