// Parsing the short forms of a stack: ports, mounts, bind sources and env files.

package spec

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// ParsePort reads compose's short port syntax with a fixed host port:
// [IP:]HOST:CONTAINER[/PROTO], IPv6 addresses in brackets.
func ParsePort(s string) (PortMap, error) {
	p := PortMap{Proto: "tcp"}
	rest := s
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		p.Proto, rest = rest[i+1:], rest[:i]
		if p.Proto != "tcp" && p.Proto != "udp" {
			return p, fmt.Errorf("invalid protocol %q in %q: tcp or udp", p.Proto, s)
		}
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return p, fmt.Errorf("invalid port %q: want [IP]:HOST:CONTAINER", s)
		}
		p.IP, rest = rest[1:end], rest[end+2:]
		if ip := net.ParseIP(p.IP); ip == nil || ip.To4() != nil {
			return p, fmt.Errorf("invalid IPv6 address %q in %q", p.IP, s)
		}
	}
	parts := strings.Split(rest, ":")
	switch {
	case len(parts) == 3 && p.IP == "":
		p.IP = parts[0]
		if net.ParseIP(p.IP) == nil {
			return p, fmt.Errorf("invalid host address %q in %q", p.IP, s)
		}
		parts = parts[1:]
	case len(parts) == 1:
		return p, fmt.Errorf("port %q has no host port: fixed ports are [IP:]HOST:CONTAINER (the balancer's port is the app's port)", s)
	case len(parts) != 2:
		return p, fmt.Errorf("invalid port %q: want [IP:]HOST:CONTAINER[/tcp|udp]", s)
	}
	for i, dst := range []*int{&p.Host, &p.Container} {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 1 || n > 65535 {
			return p, fmt.Errorf("invalid port number %q in %q (ranges are not supported)", parts[i], s)
		}
		*dst = n
	}
	return p, nil
}

// parseMount reads compose's short volume syntax: TARGET (an anonymous
// volume), SOURCE:TARGET or SOURCE:TARGET:MODE with MODE ro or rw. A
// source starting with / or . is a host path; any other is a volume key.
func parseMount(v string) (Mount, error) {
	parts := strings.Split(v, ":")
	m := Mount{}
	switch len(parts) {
	case 1:
		m.Type, m.Target = "anonymous", parts[0]
	case 2, 3:
		m.Source, m.Target = parts[0], parts[1]
		if len(parts) == 3 {
			switch parts[2] {
			case "ro":
				m.ReadOnly = true
			case "rw":
			default:
				return m, fmt.Errorf("invalid mode %q in %q: ro or rw", parts[2], v)
			}
		}
		switch {
		case m.Source == "":
			return m, fmt.Errorf("empty source in %q", v)
		case strings.HasPrefix(m.Source, "~"):
			return m, fmt.Errorf("%q: ~ is not expanded (cron's HOME is not yours): use an absolute path", v)
		case strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, "."):
			m.Type = "bind"
		default:
			m.Type, m.Volume = "volume", m.Source
		}
	default:
		return m, fmt.Errorf("invalid volume %q: want TARGET, SOURCE:TARGET or SOURCE:TARGET:ro", v)
	}
	if !strings.HasPrefix(m.Target, "/") || filepath.Clean(m.Target) != m.Target || m.Target == "/" {
		return m, fmt.Errorf("invalid container path %q in %q: an absolute, clean path other than /", m.Target, v)
	}
	if strings.ContainsAny(v, "\x00\n,") {
		return m, fmt.Errorf("invalid characters in %q", v)
	}
	return m, nil
}

// within reports whether path is dir or inside it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkBind enforces the bind rule: an absolute source is taken as
// written; a relative one resolves against the spec's directory and must
// stay inside it, lexically and, when it exists, after symlinks.
func checkBind(dir, src string) (string, error) {
	if filepath.IsAbs(src) {
		return filepath.Clean(src), nil
	}
	abs := filepath.Join(dir, src)
	if !within(dir, abs) {
		return "", fmt.Errorf("relative bind source %q leaves the spec's directory: write an absolute path to mount something outside it", src)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		realDir, derr := filepath.EvalSymlinks(dir)
		if derr == nil && !within(realDir, real) {
			return "", fmt.Errorf("relative bind source %q is a symlink to %s, outside the spec's directory: write that absolute path if you mean it", src, real)
		}
	}
	return abs, nil
}

// parseEnvFile reads KEY=value lines: blank lines and lines starting with
// # are skipped, an optional "export " prefix is dropped, a value in
// double quotes may use \n, \" and \\, a value in single quotes is
// literal, and an unquoted value ends at " #".
func parseEnvFile(data []byte) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("line %d: %q has no =: a variable taken from baton's own environment is not supported", n, k)
		}
		if !envKeyRe.MatchString(k) {
			return nil, fmt.Errorf("line %d: invalid variable name %q", n, k)
		}
		v = strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			v = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(v[1 : len(v)-1])
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		default:
			if i := strings.Index(v, " #"); i >= 0 {
				v = strings.TrimSpace(v[:i])
			}
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("line %d: value of %s contains a NUL byte", n, k)
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return env, nil
}
