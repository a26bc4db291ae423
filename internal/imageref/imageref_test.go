package imageref

import "testing"

const dgst = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                              "nginx:latest",
		"nginx:latest":                       "nginx:latest",
		"library/nginx":                      "nginx:latest",
		"docker.io/library/nginx:1.27":       "nginx:1.27",
		"index.docker.io/library/nginx:1.27": "nginx:1.27",
		"docker.io/team/app:1":               "team/app:1",
		"team/app:1":                         "team/app:1",
		"registry.example.com/web:1.4.2":     "registry.example.com/web:1.4.2",
		"localhost:5000/app":                 "localhost:5000/app:latest",
		"baton-test:v1":                      "baton-test:v1",
		"team/app@" + dgst:                   "team/app@" + dgst,
		"docker.io/team/app:1@" + dgst:       "team/app:1@" + dgst,
		dgst:                                 dgst,
		dgst[len("sha256:"):]:                dgst,
		"Team/App:1":                         "Team/App:1", // does not parse: as written
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSame(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"docker.io/team/app:1", "team/app:1", true},
		{"nginx", "docker.io/library/nginx:latest", true},
		{"library/nginx:1.27", "nginx:1.27", true},
		{"nginx:1.27", "nginx:1.26", false},
		{"team/app:1", "other/app:1", false},
		{"team/app@" + dgst, "docker.io/team/app@" + dgst, true},
		{"team/app:1@" + dgst, "team/app:1", true},
		{"team/app:2@" + dgst, "team/app:1@" + dgst, true}, // the digest wins
		{"team/app@" + dgst, "team/app:latest", false},
		{dgst, dgst[len("sha256:"):], true},
		{"registry.example.com/web:1", "web:1", false},
	}
	for _, c := range cases {
		if got := Same(c.a, c.b); got != c.want {
			t.Errorf("Same(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := Same(c.b, c.a); got != c.want {
			t.Errorf("Same(%q, %q) = %v, want %v (not symmetric)", c.b, c.a, got, c.want)
		}
	}
}

func TestParseRefusesWhatDockerRefuses(t *testing.T) {
	for _, bad := range []string{"", "Team/App:1", "app:", "app@sha256:abc", ":1", "a//b", "app:tag with space"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted it", bad)
		}
	}
	r, err := Parse("docker.io/team/app:1")
	if err != nil || r.Repository() != "team/app" || r.Name != "docker.io/team/app" || r.Tag != "1" {
		t.Errorf("got %+v %v", r, err)
	}
}
