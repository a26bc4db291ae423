package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/baton-orchestrator/baton/state"
)

// Exit codes, the same for every subcommand (restic's EXIT STATUS blocks).
const (
	ExitOK      = 0  // done, nothing to do, or a dry run
	ExitError   = 1  // error: nothing or not everything was done
	ExitPartial = 3  // partly done: some actions failed (or an app crash-loops), the rest were applied
	ExitLocked  = 75 // the state lock is held by another baton: try later (EX_TEMPFAIL)
)

// exitHelp is appended to every command's help.
const exitHelp = `EXIT STATUS:
   0   done, nothing to do, or a dry run
   1   error (bad spec, Docker unreachable, balancer test failed, ...)
   3   partly done: some actions failed or an app is crash-looping; the rest was applied
   75  the state lock is held by another baton; try again later`

// CodedError carries an exit code and optional hints for the user.
type CodedError struct {
	Code  int
	Err   error
	Hints []string
}

func (e *CodedError) Error() string { return e.Err.Error() }
func (e *CodedError) Unwrap() error { return e.Err }

func withCode(code int, err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &CodedError{Code: code, Err: err, Hints: hints}
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

// Report prints err once, as "baton: error: ..." with "baton: hint: ..."
// lines (or one JSON object with --log-format json), and returns the exit
// code.
func Report(env *Env, err error) int {
	code := Code(err)
	if err == nil {
		return code
	}
	var hints []string
	var ee *CodedError
	if errors.As(err, &ee) {
		hints = append(hints, ee.Hints...)
	}
	var le *state.LockedError
	if errors.As(err, &le) {
		hints = append(hints, fmt.Sprintf("another baton pass is running; exit %d means try again later (raise --lock-timeout to wait longer)", ExitLocked))
	}
	if env.LogFormat == "json" {
		b, _ := json.Marshal(map[string]any{"level": "error", "msg": err.Error(), "hints": hints, "exit_code": code})
		fmt.Fprintf(env.Stderr, "%s\n", b)
		return code
	}
	fmt.Fprintf(env.Stderr, "baton: error: %s\n", strings.ReplaceAll(err.Error(), "\n", "\nbaton: "))
	for _, h := range hints {
		fmt.Fprintf(env.Stderr, "baton: hint: %s\n", h)
	}
	return code
}
