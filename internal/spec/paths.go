package spec

// This file enforces two rules about the files a spec names.
//
// One resolver: every relative path field resolves against the spec's
// directory, once, when the spec is loaded (resolvePaths), so no caller can
// resolve one against the working directory instead: nginx.config,
// nginx.template, nginx.access_log, mods.dir, the lb.tls files, env_file,
// and the program (argv[0]) of nginx.test, nginx.reload, command hooks and
// external scalers when it is a relative path with a slash ("./reload.sh";
// a bare name is looked up in PATH). Bind mount sources resolve the same
// way in MountsOf.
//
// No file written over another: baton writes nginx.config (and its last
// good copy), the mod cache's files, the state file, its lock and its event
// log; none of them may be the spec, the template, the access log, a
// certificate, an env file, or each other (validateOutputs, and
// CheckStatePath for the state's files, which only the caller knows).

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"
)

// meta is what Parse keeps beside the spec: field positions, for problems
// found after loading (CheckStatePath, a template that does not parse).
type meta struct {
	file    string
	at      map[string]pos
	written map[string]bool // fields given a value: an explicit 0 is kept
}

// resolvePaths makes every relative path field absolute (see the top of
// this file).
func (s *Spec) resolvePaths() {
	abs := func(p *string) { *p = s.Resolve(*p) }
	program := func(argv []string) {
		if len(argv) > 0 && strings.Contains(argv[0], "/") {
			argv[0] = s.Resolve(argv[0])
		}
	}
	if n := s.Nginx; n != nil {
		abs(&n.Config)
		abs(&n.Template)
		abs(&n.AccessLog)
		program(n.Test)
		program(n.Reload)
	}
	if s.Mods != nil {
		abs(&s.Mods.Dir)
	}
	for _, h := range s.Hooks {
		program(h.Command)
	}
	for _, a := range s.Apps {
		if a.LB != nil && a.LB.TLS != nil {
			abs(&a.LB.TLS.Cert)
			abs(&a.LB.TLS.Key)
			abs(&a.LB.TLS.Dir)
		}
		for i := range a.EnvFile {
			abs(&a.EnvFile[i])
		}
		if a.Autoscale != nil && a.Autoscale.External != nil {
			program(a.Autoscale.External.Command)
		}
	}
}

// checkFilePath refuses what no file path baton uses may hold: invalid
// UTF-8 and control characters (a "\r" in nginx.config made a file nobody
// could name).
func checkFilePath(p string) error {
	if !utf8.ValidString(p) {
		return fmt.Errorf("not valid UTF-8")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	return nil
}

// file is one file the spec makes baton write or read, absolute.
type file struct {
	path, field string
	write       bool
}

// files lists the files of the spec (writes and reads), absolute.
func (s *Spec) files() []file {
	var out []file
	add := func(p, field string, write bool) {
		if p != "" && checkFilePath(p) == nil {
			out = append(out, file{filepath.Clean(s.Resolve(p)), field, write})
		}
	}
	if abs, err := filepath.Abs(s.Path); err == nil && s.Path != "" {
		out = append(out, file{abs, "", false})
	}
	if n := s.Nginx; n != nil {
		add(n.Config, "nginx.config", true)
		if n.Config != "" {
			dir, base := filepath.Split(s.Resolve(n.Config))
			add(filepath.Join(dir, "."+base+".baton-good"), "nginx.config", true)
		}
		add(n.Template, "nginx.template", false)
		add(n.AccessLog, "nginx.access_log", false)
	}
	if m := s.Mods; m != nil && m.Dir != "" {
		for i, f := range m.Files {
			if f != nil && CheckDest(f.Dest) == nil {
				add(filepath.Join(s.Resolve(m.Dir), f.Dest), fmt.Sprintf("mods.files[%d].dest", i), true)
			}
		}
	}
	for i, a := range s.Apps {
		if a == nil {
			continue
		}
		if a.LB != nil && a.LB.TLS != nil {
			for _, host := range a.LB.HostNames() {
				cert, key := s.TLSFiles(a.LB, host)
				add(cert, fmt.Sprintf("apps[%d].lb.tls", i), false)
				add(key, fmt.Sprintf("apps[%d].lb.tls", i), false)
			}
		}
		for j, ef := range a.EnvFile {
			add(ef, fmt.Sprintf("apps[%d].env_file[%d]", i, j), false)
		}
	}
	return out
}

// validateOutputs refuses a file baton writes that is another file of the
// spec (the spec itself, the template, ...) or that another field writes
// too: by path, or by inode when both exist (a hard link or a symlink).
func (d *decoder) validateOutputs(s *Spec) {
	fs := s.files()
	byKey := map[string][]int{}
	for i, f := range fs {
		for _, k := range fileKeys(f.path) {
			byKey[k] = append(byKey[k], i)
		}
	}
	reported := map[[2]int]bool{}
	for _, idx := range byKey {
		for _, i := range idx {
			w := fs[i]
			if !w.write {
				continue
			}
			for _, j := range idx {
				o := fs[j]
				if i == j || w.field == o.field || (o.write && j < i) || reported[[2]int{i, j}] {
					continue
				}
				reported[[2]int{i, j}] = true
				d.problem(w.field, "baton writes %s here, which is %s: refusing to write over it", w.path, describeFile(o))
			}
		}
	}
}

// fileKeys are the keys under which a file is the same file: its path and,
// when it exists, its device and inode.
func fileKeys(p string) []string {
	keys := []string{"path " + p}
	if fi, err := os.Stat(p); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			keys = append(keys, fmt.Sprintf("inode %d:%d", st.Dev, st.Ino))
		}
	}
	return keys
}

func describeFile(f file) string {
	if f.field == "" {
		return "the spec file itself"
	}
	return "also " + f.field
}

func same(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// CheckStatePath refuses a state file whose own files (the state, its
// lock, its event log and the log's rotations) are a file of the spec:
// baton would write over the spec, the balancer config, the template or a
// mod, or another field would write over the state. The problems name
// file:line:column of the field, like every spec problem.
func (s *Spec) CheckStatePath(statePath string) error {
	abs, err := filepath.Abs(statePath)
	if err != nil {
		return nil
	}
	events := strings.TrimSuffix(abs, ".json") + ".events.jsonl"
	own := []string{abs, abs + ".lock", events, events + ".1", events + ".2", events + ".3"}
	var problems []Problem
	seen := map[string]bool{}
	for _, f := range s.files() {
		for _, p := range own {
			if same(f.path, p) && !seen[f.field+p] {
				seen[f.field+p] = true
				problems = append(problems, s.problemAt(f.field, fmt.Sprintf("%s is %s, one of the state's own files (--state %s): refusing to let one overwrite the other", f.path, p, statePath)))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	return &Error{Problems: problems}
}

// ProblemAt returns a spec error with one problem at field's position (as
// validation reports them), for a check that runs after loading (a
// template that does not parse).
func (s *Spec) ProblemAt(field, msg string) error {
	return &Error{Problems: []Problem{s.problemAt(field, msg)}}
}

func (s *Spec) problemAt(field, msg string) Problem {
	p := Problem{File: s.Path, Field: field, Msg: msg}
	if s.meta == nil {
		return p
	}
	p.File = s.meta.file
	for f := field; ; {
		if at, ok := s.meta.at[f]; ok {
			p.Line, p.Col = at.line, at.col
			return p
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			if at, ok := s.meta.at[""]; ok {
				p.Line, p.Col = at.line, at.col
			}
			return p
		}
		f = f[:i]
	}
}
