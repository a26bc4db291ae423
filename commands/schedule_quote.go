// Quoting for cron and systemd: what a schedule line may carry.

package commands

import (
	"fmt"
	"strings"
	"text/template"
)

// scheduleFuncs quote a value for each target: cron runs the command with
// /bin/sh after turning an unescaped % into a newline; systemd splits
// ExecStart= itself, with its own quotes, C escapes, % specifiers and $
// variables.
var scheduleFuncs = template.FuncMap{"cron": cronArg, "systemd": systemdArg, "systemdExe": systemdExe, "systemdText": systemdText}

// schedulable refuses what neither target can carry on one line.
func schedulable(v string) error {
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("contains the control character %U, which a crontab or unit line cannot carry", r)
		}
	}
	return nil
}

// plainArg is what needs no quoting for either target.
func plainArg(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./:@+=,-", r)) {
			return false
		}
	}
	return true
}

// cronArg quotes v for a crontab command: single quotes for /bin/sh (a
// quote inside ends the quoting, is escaped and starts it again) and every
// % as \% (cron removes the backslash before a % and
// passes the rest to the shell). A backslash right before a % would make
// cron read "\\%" as an escaped backslash and an unescaped %: there the
// quote is closed and reopened first, so the backslash never touches it.
// (cronie do_command.c, the escaped/% loop.)
func cronArg(v string) string {
	if plainArg(v) {
		return v
	}
	q := "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '%' {
			if i > 0 && q[i-1] == '\\' {
				b.WriteString("''")
			}
			b.WriteString(`\%`)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// systemdArg quotes v for ExecStart=: double quotes, with \ and " escaped
// (systemd unquotes with C escapes), % doubled (specifiers) and $ doubled
// (variable expansion). See systemd.service(5), "Command lines".
func systemdArg(v string) string {
	if plainArg(v) {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "$", "$$")
	return `"` + r.Replace(v) + `"`
}

// systemdExe quotes the executable of ExecStart=: systemd resolves %
// specifiers in it but expands no $ variable, and refuses an executable
// path with a quote or a backslash ("Executable name contains special
// characters"), which is then an error here rather than a unit that does
// not load.
func systemdExe(v string) (string, error) {
	if strings.ContainsAny(v, `"'\`) {
		return "", fmt.Errorf("--bin %q: systemd refuses an executable path with a quote or a backslash", v)
	}
	if plainArg(v) {
		return v, nil
	}
	return `"` + strings.ReplaceAll(v, "%", "%%") + `"`, nil
}

// systemdText escapes % in a unit's free text (Description=), where
// specifiers are resolved too.
func systemdText(v string) string { return strings.ReplaceAll(v, "%", "%%") }
