// Command baton orchestrates Docker containers from cron: each subcommand
// is one reconciliation pass from a YAML spec and a locked JSON state file.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/baton-orchestrator/baton/commands"
)

func main() {
	// A closed stdout (a pipe whose reader went away) fails the write with
	// EPIPE instead of killing baton mid-pass: the pass still saves, writes
	// its metrics, fires its hooks and exits with its own code.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := commands.Run(ctx, &commands.Env{Stdout: os.Stdout, Stderr: os.Stderr}, os.Args)
	stop()
	os.Exit(code)
}
