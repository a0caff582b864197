// Command coderflow runs CODER image-text retrieval workflows: a DAG of
// cached, content-addressed stages declared in a YAML file.
//
//	coderflow run workflows/demo.yaml
//	coderflow status workflows/demo.yaml --set train.epochs=1
//
// Exit codes: 0 success, 1 a stage failed (or the run was interrupted, or
// stdout could not be written), 2 bad usage or a bad workflow file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

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
	os.Exit(mainCode(os.Args[1:], os.Stdout, os.Stderr))
}

// mainCode is main without the exit: the command line args, with Ctrl-C
// handling, and the exit code.
func mainCode(args []string, stdout, stderr *os.File) int {
	notices := &noticeWriter{w: stderr}
	ctx, stop := interruptContext(notices)
	defer stop()
	return runCLI(context.WithValue(ctx, noticeKey{}, notices), args, stdout, stderr)
}

// noticeWriter is where the interrupt notice goes: stderr, or, while run
// draws progress bars on it, the bars' writer, which prints lines above the
// bars (a line written straight to the terminal is erased by the bars'
// next redraw, so the notice would only flash).
type noticeWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (n *noticeWriter) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.w.Write(p)
}

// redirect sends notices to w until restore is called.
func (n *noticeWriter) redirect(w io.Writer) (restore func()) {
	n.mu.Lock()
	old := n.w
	n.w = w
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		n.w = old
		n.mu.Unlock()
	}
}

type noticeKey struct{}

// noticesFrom returns the notice writer main put in ctx, or nil.
func noticesFrom(ctx context.Context) *noticeWriter {
	n, _ := ctx.Value(noticeKey{}).(*noticeWriter)
	return n
}

// interruptContext returns a context canceled by the first SIGINT or
// SIGTERM. After that signal both get their default action back, so a second
// Ctrl-C ends a run at once when a stage is slow to stop; that is as safe as
// a kill (the kernel drops the workdir lock, committed shards stay).
//
// The notice is written before the context is canceled, so it comes before
// every line the cancellation causes ("stage canceled", the run table);
// signal.NotifyContext cancels first, and a notice printed by a goroutine
// woken by that cancellation raced the stages' own lines. A notice that
// cannot be written within noticeTimeout (stderr blocked) does not hold
// the cancellation back any longer.
func interruptContext(stderr io.Writer) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sigs:
			signal.Stop(sigs) // the next Ctrl-C gets the default action: quit
			// the cause signal.NotifyContext gives
			cause := signalError(s.String() + " signal received")
			written := make(chan struct{})
			go func() {
				fmt.Fprintf(stderr, "coderflow: %v: stopping the running stages (press Ctrl-C again to quit at once)\n", cause)
				close(written)
			}()
			select {
			case <-written:
			case <-time.After(noticeTimeout): // a stderr that blocks (a paused pager) must not keep the stages running
			}
			cancel(cause)
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}

// noticeTimeout bounds how long the interrupt notice may take to write
// before the stages are canceled anyway.
const noticeTimeout = 2 * time.Second

// signalError is the cause of a context canceled by a signal.
type signalError string

func (e signalError) Error() string { return string(e) }

// runCLI runs one coderflow command and returns its exit code.
//
// A failed write to stdout fails the command: "status > /dev/full" (a full
// disk) exited 0 with its table lost, while "metrics --json" failed on the
// same error; now every command says "coderflow: writing output: ..." and
// exits 1. A reader that went away (status | head -1) ends the command
// quietly with exit 1: a Go program writing to a closed pipe on stdout is
// killed by SIGPIPE, as the shell's tools are, unless SIGPIPE is ignored
// (then the write fails with EPIPE, and no error message follows).
func runCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := &outWriter{w: stdout}
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil && out.err != nil {
		err = fmt.Errorf("writing output: %w", out.err)
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, syscall.EPIPE) || errors.Is(out.err, syscall.EPIPE) {
		return exitFailed
	}
	fmt.Fprintln(stderr, "coderflow:", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
		return exitUsage
	}
	return exitFailed
}

// outWriter is stdout, keeping its first write error.
type outWriter struct {
	w   io.Writer
	err error
}

func (o *outWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil && o.err == nil {
		o.err = err
	}
	return n, err
}
