package docker

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/baton-orchestrator/baton/internal/testenv"
)

// engineFor connects to the test engine.
func engineFor(t *testing.T) *Engine {
	t.Helper()
	host := testenv.Docker(t)
	testenv.Image(t, "baton-test:v1")
	e, err := New(host, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func dockerCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestRemoveKeepsAnonymousVolumes: removing a replaced container keeps the
// anonymous volume it mounted (a database image's VOLUME holds its data).
func TestRemoveKeepsAnonymousVolumes(t *testing.T) {
	e := engineFor(t)
	id := dockerCLI(t, "create", "-v", "/data", "baton-test:v1")
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
	vol := dockerCLI(t, "inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", id)
	if len(vol) != 64 {
		t.Fatalf("want an anonymous volume, got %q", vol)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", "-f", vol).Run() })
	if err := e.Remove(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("docker", "inspect", id).Run(); err == nil {
		t.Fatal("the container is still there")
	}
	if got := dockerCLI(t, "volume", "ls", "-q", "--filter", "name="+vol); got != vol {
		t.Errorf("the anonymous volume %s was deleted with its container", vol)
	}
}
