package commands

// exit.go is the one place errors become exit codes and messages: on
// stderr "baton: error: ..." and "baton: hint: ..." lines (or one JSON
// object with --log-format json), and with -o json one error object on
// stdout unless the command already printed its own (a pass's report
// carries its error fields itself). docs/exit-codes.md documents both.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/baton-orchestrator/baton/internal/docker"
	"github.com/baton-orchestrator/baton/internal/spec"
	"github.com/baton-orchestrator/baton/state"
)

// Exit codes, the same for every subcommand (restic's EXIT STATUS blocks);
// each command's help lists the ones it can return (help.go).
const (
	ExitOK      = 0  // done, nothing to do, or a dry run
	ExitError   = 1  // error: nothing or not everything was done
	ExitPartial = 3  // partly done: some actions failed (or an app crash-loops), the rest were applied
	ExitLocked  = 75 // the state lock is held by another baton: try later (EX_TEMPFAIL)
)

// CodedError carries an exit code and optional hints for the user.
type CodedError struct {
	Code  int
	Err   error
	Hints []string
	// Quiet: the exit code says it, but nothing new happened to print
	// (incidents an earlier pass reported); printed with --verbose.
	Quiet bool
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

func withCode(code int, err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &CodedError{Code: code, Err: err, Hints: hints}
}

// quiet reports whether err is a quiet partial result (CodedError.Quiet).
func quiet(err error) bool {
	var ee *CodedError
	return errors.As(err, &ee) && ee.Quiet
}

// Code maps an error returned by the app to an exit code.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *CodedError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var le *state.LockedError
	if errors.As(err, &le) {
		return ExitLocked
	}
	return ExitError
}

// jsonProblem is one spec problem in a JSON error.
type jsonProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// errorFields are the fields of a JSON error: the message, the exit
// code, the hints and the spec's problems (empty lists when none).
func errorFields(env *Env, err error) object {
	var probs []jsonProblem
	var se *spec.Error
	if errors.As(err, &se) {
		for _, p := range se.Problems {
			probs = append(probs, jsonProblem{File: p.File, Line: p.Line, Column: p.Col, Field: p.Field, Message: p.Msg})
		}
	}
	if probs == nil {
		probs = []jsonProblem{}
	}
	return object{{"error", err.Error()}, {"exit_code", Code(err)}, {"hints", hintsFor(env, err)}, {"problems", probs}}
}

// hintsFor collects the hints of err: its own and those its kind implies.
func hintsFor(env *Env, err error) []string {
	hints := []string{}
	add := func(h string) {
		if !slices.Contains(hints, h) {
			hints = append(hints, h)
		}
	}
	var ee *CodedError
	for e := err; errors.As(e, &ee); e = ee.Err {
		for _, h := range ee.Hints {
			add(h)
		}
	}
	var le *state.LockedError
	if errors.As(err, &le) {
		add(fmt.Sprintf("another baton pass is running; exit %d means try again later (raise --lock-timeout to wait longer)", ExitLocked))
	}
	var ue *docker.UnreachableError
	if errors.As(err, &ue) {
		if errors.Is(ue.Err, fs.ErrPermission) || strings.Contains(ue.Error(), "permission denied") {
			add("run baton as root or as a member of the docker group")
		} else {
			add("is dockerd running there? `baton doctor` checks; pick another daemon with --docker-host, DOCKER_HOST or --context")
		}
	}
	if path := deniedState(env, err); path != "" {
		add(fmt.Sprintf("%s needs root; as another user give a state file you can write: --state FILE or BATON_STATE=FILE", path))
	}
	return hints
}

// deniedState is the state directory a permission error is about, if any.
func deniedState(env *Env, err error) string {
	var pe *fs.PathError
	if env.StatePath == "" || !errors.As(err, &pe) || !errors.Is(pe.Err, syscall.EACCES) && !errors.Is(pe.Err, syscall.EPERM) {
		return ""
	}
	dir := filepath.Dir(env.StatePath)
	if pe.Path == env.StatePath || pe.Path == env.StatePath+".lock" || strings.HasPrefix(dir+"/", pe.Path+"/") || strings.HasPrefix(pe.Path, dir+"/") {
		return dir
	}
	return ""
}

// Report prints err once and returns the exit code: on stderr as
// "baton: error: ..." with "baton: hint: ..." lines (or one JSON object
// with --log-format json); with -o json also as one JSON object on stdout
// when the command printed nothing there.
func Report(env *Env, err error) int {
	code := Code(err)
	if err == nil {
		return code
	}
	if (env.Output == "json" || env.argsJSON) && (env.stdout == nil || !env.stdout.wrote) {
		_ = writeJSON(env.Stdout, errorFields(env, err))
	}
	if quiet(err) && !env.Verbose {
		return code // incidents an earlier pass reported: the code says it
	}
	logError(env, env.Stderr, err)
	return code
}

// logError writes err on w as diagnostics.
func logError(env *Env, w io.Writer, err error) {
	hints := hintsFor(env, err)
	if env.LogFormat == "json" {
		obj := append(object{{"level", "error"}, {"msg", headline(err)}}, errorFields(env, err)...)
		b, _ := json.Marshal(obj)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "baton: error: %s\n", strings.ReplaceAll(err.Error(), "\n", "\nbaton: "))
	for _, h := range hints {
		fmt.Fprintf(w, "baton: hint: %s\n", h)
	}
}

// headline is the error's first line: "invalid spec (2 problems):" for a
// spec error, whose problems are fields of their own in JSON.
func headline(err error) string {
	first, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSuffix(first, ":")
}

// trackedWriter remembers whether anything was written through it.
type trackedWriter struct {
	w     io.Writer
	wrote bool
}

func (t *trackedWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		t.wrote = true
	}
	return t.w.Write(p)
}
