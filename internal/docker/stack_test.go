package docker

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/baton-orchestrator/baton/internal/fleet"
	"github.com/baton-orchestrator/baton/internal/testenv"
)

// TestCreateConfig: what a Want becomes in the create call.
func TestCreateConfig(t *testing.T) {
	base := fleet.Want{Project: "p", App: "db", Replica: 0, Hash: "h", Name: "p-db-0-x", Image: "db:1", PublishIP: "127.0.0.1"}
	cases := []struct {
		name  string
		edit  func(w *fleet.Want)
		check func(t *testing.T, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, extra []fleet.Attach)
	}{
		{"a want without stack fields keeps Docker's defaults and no restart policy", func(w *fleet.Want) {},
			func(t *testing.T, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, extra []fleet.Attach) {
				if hc.RestartPolicy.Name != container.RestartPolicyDisabled || hc.LogConfig.Type != "" || nc != nil || hc.Mounts != nil || cfg.ExposedPorts != nil {
					t.Errorf("got %+v %+v %+v", hc.RestartPolicy, hc.LogConfig, nc)
				}
			}},
		{"mounts of every kind", func(w *fleet.Want) {
			w.Mounts = []fleet.Mount{{Type: "volume", Name: "p_pgdata", Target: "/data"}, {Type: "volume", Target: "/cache"}, {Type: "bind", Source: "/srv/conf", Target: "/etc/x", ReadOnly: true}}
			w.Tmpfs = map[string]string{"/tmp": "size=16m"}
		}, func(t *testing.T, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, extra []fleet.Attach) {
			ours := &mount.VolumeOptions{Labels: map[string]string{fleet.LabelProject: "p", fleet.LabelApp: "db"}}
			want := []mount.Mount{{Type: mount.TypeVolume, Source: "p_pgdata", Target: "/data"}, {Type: mount.TypeVolume, Target: "/cache", VolumeOptions: ours}, {Type: mount.TypeBind, Source: "/srv/conf", Target: "/etc/x", ReadOnly: true}}
			if !reflect.DeepEqual(hc.Mounts, want) || hc.Tmpfs["/tmp"] != "size=16m" {
				t.Errorf("got %+v %v", hc.Mounts, hc.Tmpfs)
			}
			// The image's VOLUMEs no mount covers get a labelled anonymous
			// volume: /data, /cache and /tmp are covered (/cache/ too).
			labelImageVolumes(hc, base, []string{"/data", "/cache/", "/tmp", "/var/lib/db"})
			want = append(want, mount.Mount{Type: mount.TypeVolume, Target: "/var/lib/db", VolumeOptions: ours})
			if !reflect.DeepEqual(hc.Mounts, want) {
				t.Errorf("with the image's volumes: got %+v", hc.Mounts)
			}
		}},
		{"a start that carries the slot's anonymous volumes mounts them where it would get fresh ones", func(w *fleet.Want) {
			w.Mounts = []fleet.Mount{{Type: "volume", Target: "/cache"}, {Type: "volume", Target: "/fresh"}}
			w.Carry = map[string]string{"/cache": "v-cache", "/var/lib/db": "v-db", "/gone": "v-gone"}
		}, func(t *testing.T, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, extra []fleet.Attach) {
			ours := &mount.VolumeOptions{Labels: map[string]string{fleet.LabelProject: "p", fleet.LabelApp: "db"}}
			w := base
			w.Carry = map[string]string{"/cache": "v-cache", "/var/lib/db": "v-db", "/gone": "v-gone"}
			labelImageVolumes(hc, w, []string{"/var/lib/db/", "/logs"})
			// /cache is the spec's, carried; /fresh the spec's, new; /logs the
			// image's, new; /gone (the image dropped its VOLUME) and
			// /var/lib/db (the image's) carried: every carried path is
			// mounted, as the plan says.
			want := []mount.Mount{{Type: mount.TypeVolume, Source: "v-cache", Target: "/cache"}, {Type: mount.TypeVolume, Target: "/fresh", VolumeOptions: ours},
				{Type: mount.TypeVolume, Target: "/logs", VolumeOptions: ours}, {Type: mount.TypeVolume, Source: "v-gone", Target: "/gone"}, {Type: mount.TypeVolume, Source: "v-db", Target: "/var/lib/db"}}
			if !reflect.DeepEqual(hc.Mounts, want) {
				t.Errorf("got %+v\nwant %+v", hc.Mounts, want)
			}
		}},
		{"a fixed port on the balancer's container port adds a binding", func(w *fleet.Want) {
			w.Port = 8080
			w.Ports = []fleet.PortBinding{{HostIP: "127.0.0.1", HostPort: 80, ContainerPort: 8080, Proto: "tcp"}, {HostIP: "0.0.0.0", HostPort: 53, ContainerPort: 53, Proto: "udp"}}
		}, func(t *testing.T, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, extra []fleet.Attach) {
			want := nat.PortMap{"8080/tcp": {{HostIP: "127.0.0.1", HostPort: ""}, {HostIP: "127.0.0.1", HostPort: "80"}}, "53/udp": {{HostIP: "0.0.0.0", HostPort: "53"}}}
			if !reflect.DeepEqual(hc.PortBindings, want) || len(cfg.ExposedPorts) != 2 || cfg.Labels[fleet.LabelPort] != "8080" {
				t.Errorf("got %v %v %v", hc.PortBindings, cfg.ExposedPorts, cfg.Labels)
			}
		}},
		{"the first network is the primary one, the others are connected after create", func(w *fleet.Want) {
			w.Networks = []fleet.Attach{{Network: "p_default", Aliases: []string{"db"}}, {Network: "p_backend", Aliases: []string{"db"}}}
		}, func(t *testing.T, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, extra []fleet.Attach) {
			if hc.NetworkMode != "p_default" || !reflect.DeepEqual(nc.EndpointsConfig["p_default"].Aliases, []string{"db"}) || len(extra) != 1 || extra[0].Network != "p_backend" {
				t.Errorf("got %v %+v %+v", hc.NetworkMode, nc.EndpointsConfig, extra)
			}
		}},
		{"docker.network stays the primary network and takes its aliases from the list", func(w *fleet.Want) {
			w.Network = "lbnet"
			w.Port = 8080
			w.Networks = []fleet.Attach{{Network: "p_default", Aliases: []string{"db"}}, {Network: "lbnet", Aliases: []string{"db"}}}
		}, func(t *testing.T, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, extra []fleet.Attach) {
			if hc.NetworkMode != "lbnet" || !reflect.DeepEqual(nc.EndpointsConfig["lbnet"].Aliases, []string{"db"}) || len(extra) != 1 || extra[0].Network != "p_default" || hc.PortBindings != nil {
				t.Errorf("got %v %+v %+v %v", hc.NetworkMode, nc.EndpointsConfig, extra, hc.PortBindings)
			}
		}},
		{"logging, options and a restart policy", func(w *fleet.Want) {
			w.LogDriver, w.LogOptions = "json-file", map[string]string{"max-size": "10m", "max-file": "3"}
			w.User, w.WorkingDir, w.StopSignal, w.ReadOnly = "999:999", "/srv", "SIGINT", true
			w.CapAdd, w.CapDrop, w.ExtraHosts = []string{"SYS_NICE"}, []string{"ALL"}, []string{"db.internal:10.0.0.7"}
			w.Restart, w.RestartRetries = "on-failure", 5
		}, func(t *testing.T, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, extra []fleet.Attach) {
			if hc.LogConfig.Type != "json-file" || hc.LogConfig.Config["max-size"] != "10m" || cfg.User != "999:999" || cfg.WorkingDir != "/srv" ||
				cfg.StopSignal != "SIGINT" || !hc.ReadonlyRootfs || hc.CapAdd[0] != "SYS_NICE" || hc.CapDrop[0] != "ALL" ||
				hc.ExtraHosts[0] != "db.internal:10.0.0.7" || hc.RestartPolicy.Name != "on-failure" || hc.RestartPolicy.MaximumRetryCount != 5 {
				t.Errorf("got %+v\n%+v", cfg, hc)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := base
			c.edit(&w)
			cfg, hc, nc, extra := createConfig(w)
			c.check(t, cfg, hc, nc, extra)
		})
	}
}

func TestConvertNetworkWithNilParts(t *testing.T) {
	if got := ConvertNetwork(network.Summary{}); !reflect.DeepEqual(got, fleet.Network{}) {
		t.Errorf("got %+v", got)
	}
}

// testProject is a project name of this test and process, so parallel
// checkouts never share volumes or networks.
func testProject(t *testing.T) string {
	return "t" + strconv.Itoa(os.Getpid()) + "-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
}

// TestStartWithStack starts a container with a named volume, a bind mount,
// a tmpfs, a fixed port, two networks with aliases and capped logs, and
// checks each on the real engine.
func TestStartWithStack(t *testing.T) {
	e := engineFor(t)
	ctx := context.Background()
	p := testProject(t)
	vol, netA, netB := p+"_data", p+"_default", p+"_backend"
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=baton.project="+p).Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
		_ = exec.Command("docker", "network", "rm", netA, netB).Run()
		_ = exec.Command("docker", "volume", "rm", "-f", vol).Run()
	})
	for _, n := range []fleet.NetworkWant{{Name: netA, Key: "default"}, {Name: netB, Key: "backend", Internal: true}} {
		if err := e.EnsureNetwork(ctx, p, n); err != nil {
			t.Fatal(err)
		}
		if err := e.EnsureNetwork(ctx, p, n); err != nil {
			t.Fatalf("a second ensure must accept baton's own network: %v", err)
		}
	}
	if err := e.EnsureVolume(ctx, p, fleet.VolumeWant{Name: vol, Key: "data"}); err != nil {
		t.Fatal(err)
	}
	bind := t.TempDir()
	if err := os.WriteFile(filepath.Join(bind, "conf"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	w := fleet.Want{Project: p, App: "db", Replica: 0, Hash: "h", Name: p + "-db-0", Image: "baton-test:v1", Port: 8080, PublishIP: "127.0.0.1",
		Env:    []string{"BATON_APP=db"},
		Mounts: []fleet.Mount{{Type: "volume", Name: vol, Target: "/data"}, {Type: "bind", Source: bind, Target: "/conf", ReadOnly: true}},
		Tmpfs:  map[string]string{"/tmp": "size=1m"}, ReadOnly: true,
		Ports:     []fleet.PortBinding{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 8080, Proto: "tcp"}},
		Networks:  []fleet.Attach{{Network: netA, Aliases: []string{"db"}}, {Network: netB, Aliases: []string{"db", "postgres"}}},
		LogDriver: "json-file", LogOptions: map[string]string{"max-size": "10m", "max-file": "3"},
		StopSignal: "SIGINT", Restart: "unless-stopped", StopGrace: time.Second}
	c, err := e.Start(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Networks, []string{netB, netA}) && !reflect.DeepEqual(c.Networks, []string{netA, netB}) {
		t.Errorf("networks: %v", c.Networks)
	}
	if len(c.Mounts) != 2 || c.Volumes[0] != vol {
		t.Errorf("mounts: %+v", c.Mounts)
	}
	// The balancer's address is one of the bindings of its port.
	if _, p2, _ := net.SplitHostPort(c.Addr); p2 == "" {
		t.Errorf("address %q: want the balancer's published port", c.Addr)
	}
	// The fixed port answers.
	var resp *http.Response
	for i := 0; i < 50; i++ {
		if resp, err = http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("fixed port: %v", err)
	}
	resp.Body.Close()
	got := dockerCLI(t, "inspect", "--format",
		`{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "max-file"}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.ReadonlyRootfs}} {{.Config.StopSignal}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{join $v.Aliases ","}} {{end}}`, c.ID)
	for _, want := range []string{"json-file 10m 3 unless-stopped true SIGINT", netA + "=db", netB + "=db,postgres"} {
		if !strings.Contains(got, want) {
			t.Errorf("inspect: %q lacks %q", got, want)
		}
	}
	// What the list call reports converts the same way.
	list, err := e.List(ctx, p, "")
	if err != nil || len(list) != 1 || list[0].Addr != c.Addr || len(list[0].Networks) != 2 || len(list[0].Mounts) != 2 {
		t.Errorf("list: %+v %v", list, err)
	}
	// A network with a container attached is not removed.
	if err := e.RemoveNetwork(ctx, p, netB); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), w.Name) {
		t.Errorf("removing an attached network: got %v, want ErrInUse naming %s", err, w.Name)
	}
	// Stop, start again (stop-first's way back), remove: the volume stays.
	if err := e.Stop(ctx, c.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	again, err := e.StartExisting(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != c.ID || again.Addr == "" {
		t.Errorf("StartExisting returned %+v", again)
	}
	if x, err := e.Inspect(ctx, c.ID); err != nil || !x.Running() {
		t.Errorf("after StartExisting: %+v %v", x, err)
	}
	if err := e.Remove(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got := dockerCLI(t, "volume", "ls", "-q", "--filter", "label=baton.project="+p); got != vol {
		t.Errorf("the named volume went with the container: %q", got)
	}
	nets, err := e.Networks(ctx, p)
	if err != nil || len(nets) != 2 || nets[0].Labels[fleet.LabelNetwork] == "" {
		t.Fatalf("networks: %+v %v", nets, err)
	}
	for _, n := range []string{netA, netB} {
		if err := e.RemoveNetwork(ctx, p, n); err != nil {
			t.Fatal(err)
		}
	}
	if nets, _ := e.Networks(ctx, p); len(nets) != 0 {
		t.Errorf("left: %+v", nets)
	}
}

// TestForeignVolumesAndNetworksAreRefused: a volume or network of the
// wanted name that baton did not create is neither adopted nor removed,
// unless the spec calls it external.
func TestForeignVolumesAndNetworksAreRefused(t *testing.T) {
	e := engineFor(t)
	ctx := context.Background()
	p := testProject(t)
	name := p + "_foreign"
	dockerCLI(t, "volume", "create", name)
	dockerCLI(t, "network", "create", name)
	t.Cleanup(func() {
		_ = exec.Command("docker", "volume", "rm", "-f", name).Run()
		_ = exec.Command("docker", "network", "rm", name).Run()
	})
	if err := e.EnsureVolume(ctx, p, fleet.VolumeWant{Name: name, Key: "foreign"}); !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), "external: true") {
		t.Errorf("volume: got %v, want ErrNotOurs suggesting external: true", err)
	}
	if err := e.EnsureNetwork(ctx, p, fleet.NetworkWant{Name: name, Key: "foreign"}); !errors.Is(err, ErrNotOurs) {
		t.Errorf("network: got %v, want ErrNotOurs", err)
	}
	if err := e.EnsureVolume(ctx, p, fleet.VolumeWant{Name: name, External: true}); err != nil {
		t.Errorf("external volume: %v", err)
	}
	if err := e.EnsureNetwork(ctx, p, fleet.NetworkWant{Name: name, External: true}); err != nil {
		t.Errorf("external network: %v", err)
	}
	if err := e.EnsureNetwork(ctx, p, fleet.NetworkWant{Name: name + "-missing", External: true}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing external network: got %v", err)
	}
	if err := e.RemoveNetwork(ctx, p, name); !errors.Is(err, ErrNotOurs) {
		t.Errorf("remove: got %v, want ErrNotOurs", err)
	}
	if got := dockerCLI(t, "network", "ls", "-q", "--filter", "name=^"+name+"$"); got == "" {
		t.Error("the foreign network was removed")
	}
}
