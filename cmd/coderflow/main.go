// Command coderflow runs CODER image-text retrieval workflows: a DAG of
// cached, content-addressed stages declared in a YAML file.
//
//	coderflow run workflows/demo.yaml
//	coderflow status workflows/demo.yaml --set train.epochs=1
//
// Exit codes: 0 success, 1 a stage failed (or the run was interrupted),
// 2 bad usage or a bad workflow file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "coderflow/stages/all"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks errors that exit with code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := interruptContext(os.Stderr)
	code := runCLI(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// interruptContext returns a context canceled by the first SIGINT or
// SIGTERM. After that signal both get their default action back, so a second
// Ctrl-C ends a run at once when a stage is slow to stop; that is as safe as
// a kill (the kernel drops the workdir lock, committed shards stay).
func interruptContext(stderr io.Writer) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
		if cause := context.Cause(ctx); cause != context.Canceled { // not stop()
			fmt.Fprintf(stderr, "coderflow: %v: stopping the running stages (press Ctrl-C again to quit at once)\n", cause)
		}
	}()
	return ctx, stop
}

// runCLI runs one coderflow command and returns its exit code.
func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "coderflow:", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		return exitUsage
	}
	return exitFailed
}
