package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"coderflow/pipeline"
)

// goroutineStacks returns the stacks of every goroutine.
func goroutineStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// TestGoexitInStageFailsTheRun: a stage whose goroutine ends through
// runtime.Goexit (t.FailNow or log-free os-level helpers that call it) does
// not return and cannot be recovered; the run must still end, with that
// stage failed and the workdir lock released, instead of waiting for its
// result forever.
func TestGoexitInStageFailsTheRun(t *testing.T) {
	h := newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.goexit\n  b:\n    uses: toy.source\n    needs: [a]\n  c:\n    uses: toy.source\n    with: {n: 2}\n")
	h.reg.MustRegister(pipeline.Spec{Kind: "toy.goexit", Version: "1",
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			runtime.Goexit()
			return nil
		})})
	type out struct {
		res *pipeline.Result
		err error
	}
	ch := make(chan out, 1)
	go func() {
		res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Jobs: 2})
		ch <- out{res, err}
	}()
	var o out
	select {
	case o = <-ch:
	case <-time.After(time.Minute): // a hang detector, not a timing assertion
		t.Fatalf("Run did not return after a stage called runtime.Goexit:\n%s", goroutineStacks())
	}
	if o.err == nil || !strings.Contains(o.err.Error(), `stage "a"`) {
		t.Fatalf("Run: %v, want the failure of stage a", o.err)
	}
	st := statuses(o.res)
	if st["a"] != pipeline.RunFailed || st["b"] != pipeline.RunSkipped {
		t.Errorf("statuses %v: want a failed, b skipped", st)
	}
	if o.res.Record.Status != "failed" {
		t.Errorf("run status %q, want failed", o.res.Record.Status)
	}
	if holder, locked := pipeline.LockedBy(h.workdir); locked {
		t.Errorf("workdir still locked by %s", holder)
	}
}

// TestNoProgressGoroutineAfterRun: once Run has returned, no log-line
// progress reporter of its stages is still running (it would log a
// "progress" line after its "finished" one, into a logger the caller may
// have closed: a test's t.Log panics after the test ends).
func TestNoProgressGoroutineAfterRun(t *testing.T) {
	h := newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.prog\n  b:\n    uses: toy.prog\n    with: {fail: true}\n")
	h.reg.MustRegister(pipeline.Spec{Kind: "toy.prog", Version: "1",
		Params: []pipeline.Param{{Name: "fail", Type: pipeline.Bool, Default: false}},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			for i := range 400 {
				p := env.Progress("items"+itoa(i), 10)
				p.Add(10)
				if i%2 == 0 {
					p.Done()
				}
			}
			if env.Params.Bool("fail") {
				return context.DeadlineExceeded
			}
			return nil
		})})
	for range 5 {
		_, _ = pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Jobs: 2})
		if s := goroutineStacks(); strings.Contains(s, "(*logProgress).loop") {
			t.Fatalf("a progress reporter goroutine outlived Run:\n%s", s)
		}
	}
}

// TestPanicStackInDebugLog: a panicking stage fails the run with an error
// that points at the debug log, and the debug log holds the stack of the
// panic (the stage's frame in it), at debug level only.
func TestPanicStackInDebugLog(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		h := newHarness(t, "name: toy\nstages:\n  boom:\n    uses: toy.panic\n")
		var buf bytes.Buffer
		_, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))})
		if err == nil || !strings.Contains(err.Error(), "stack trace in the debug log") {
			t.Fatalf("level %v: %v, want the panic's error", level, err)
		}
		got := strings.Contains(buf.String(), "msg=panic stage=boom stack=") && strings.Contains(buf.String(), "toyRegistry")
		if got != (level == slog.LevelDebug) {
			t.Errorf("level %v: stack of the panic in the log: %v\n%s", level, got, buf.String())
		}
	}
}

// TestJobsDoNotChangeArtifacts: -j 1 and -j 8 give the same keys, the same
// files and the same run record statuses for a DAG with fan-out, fan-in and
// two stages that share a key.
func TestJobsDoNotChangeArtifacts(t *testing.T) {
	const wf = "name: toy\nstages:\n  a:\n    uses: toy.source\n  a2:\n    uses: toy.source\n" +
		"  b:\n    uses: toy.concat\n    needs: [a]\n    with: {suffix: x}\n  c:\n    uses: toy.concat\n    needs: [a2]\n    with: {suffix: x}\n" +
		"  d:\n    uses: toy.concat\n    needs: [b, c]\n  s:\n    uses: toy.shards\n    with: {shards: 7}\n  e:\n    uses: toy.concat\n    needs: [d, a]\n"
	type outcome struct{ keys, files, status map[string]string }
	get := func(jobs int) outcome {
		h := newHarness(t, wf)
		res := h.run(pipeline.RunOptions{Jobs: jobs})
		o := outcome{map[string]string{}, map[string]string{}, statuses(res)}
		for id, a := range res.Artifacts {
			o.keys[id] = a.Key()
			var b strings.Builder
			for _, f := range a.Manifest.Files {
				b.WriteString(f.Path + " " + f.SHA256 + "\n")
			}
			o.files[id] = b.String()
		}
		return o
	}
	want := get(1)
	for _, jobs := range []int{2, 8} {
		got := get(jobs)
		if !maps.Equal(got.keys, want.keys) || !maps.Equal(got.files, want.files) {
			t.Errorf("-j %d: artifacts differ from -j 1:\n%v\n%v\nwant\n%v\n%v", jobs, got.keys, got.files, want.keys, want.files)
		}
		// which of the twins a and a2 runs may differ; how many ran may not
		count := func(m map[string]string) map[string]int {
			c := map[string]int{}
			for _, s := range m {
				c[s]++
			}
			return c
		}
		if !maps.Equal(count(got.status), count(want.status)) {
			t.Errorf("-j %d: statuses %v, -j 1 %v", jobs, got.status, want.status)
		}
	}
}

// TestTwinOfAFailedStageIsSkipped: when the stage that runs for a key
// shared with another stage fails, the other does not wait forever (nor run
// in the same work directory): it is recorded skipped, and a rerun runs the
// key once.
func TestTwinOfAFailedStageIsSkipped(t *testing.T) {
	h := newHarness(t, "name: toy\nstages:\n  x:\n    uses: toy.flaky\n  y:\n    uses: toy.flaky\n  z:\n    uses: toy.concat\n    needs: [y]\n")
	var fail atomic.Bool
	fail.Store(true)
	var runs atomic.Int32
	h.reg.MustRegister(pipeline.Spec{Kind: "toy.flaky", Version: "1",
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			runs.Add(1)
			if fail.Load() {
				return errors.New("flaky")
			}
			if err := os.WriteFile(env.Path("out.txt"), []byte("ok"), 0o644); err != nil {
				return err
			}
			env.AddTable("text", 1, "out.txt")
			return nil
		})})
	for _, jobs := range []int{1, 4} {
		fail.Store(true)
		runs.Store(0)
		res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Jobs: jobs})
		if !errors.Is(err, pipeline.ErrStageFailed) {
			t.Fatalf("-j %d: %v", jobs, err)
		}
		st := statuses(res)
		if runs.Load() != 1 || st["x"] != pipeline.RunFailed || st["y"] != pipeline.RunSkipped || st["z"] != pipeline.RunSkipped {
			t.Errorf("-j %d: %d runs, statuses %v; want x failed once, y and z skipped", jobs, runs.Load(), st)
		}
		fail.Store(false)
		runs.Store(0)
		res = h.run(pipeline.RunOptions{Jobs: jobs})
		st = statuses(res)
		if runs.Load() != 1 || st["x"] != pipeline.RunRan || st["y"] != pipeline.RunCached || st["z"] != pipeline.RunRan {
			t.Errorf("-j %d rerun: %d runs, statuses %v", jobs, runs.Load(), st)
		}
		if err := os.RemoveAll(h.workdir); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRunLeavesNoGoroutinesOrFiles: after Run returns, whether the run
// succeeded, failed, panicked, ended a stage with Goexit or was canceled,
// no goroutine of the engine is left and no file descriptor stays open.
func TestRunLeavesNoGoroutinesOrFiles(t *testing.T) {
	const wf = "name: toy\nstages:\n  a:\n    uses: toy.source\n  s:\n    uses: toy.shards\n    with: {shards: 4, sleep_ms: 5}\n" +
		"  b:\n    uses: toy.concat\n    needs: [a]\n  bad:\n    uses: toy.bad\n    needs: [a]\n"
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	engine := func() string {
		var out []string
		for _, g := range strings.Split(goroutineStacks(), "\n\n") {
			if strings.Contains(g, "coderflow/pipeline.") && !strings.Contains(g, "goroutineStacks") {
				out = append(out, g)
			}
		}
		return strings.Join(out, "\n\n")
	}
	for _, mode := range []string{"ok", "error", "panic", "goexit", "cancel"} {
		h := newHarness(t, wf)
		h.reg.MustRegister(pipeline.Spec{Kind: "toy.bad", Version: "1",
			Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
				env.Progress("items", 3).Add(1)
				switch mode {
				case "error":
					return errors.New("bad")
				case "panic":
					panic("bad")
				case "goexit":
					runtime.Goexit()
				case "cancel":
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			})})
		before := fds()
		ctx, cancel := context.WithCancel(t.Context())
		if mode == "cancel" {
			time.AfterFunc(20*time.Millisecond, cancel)
		}
		_, err := pipeline.Run(ctx, h.load(), pipeline.RunOptions{Jobs: 4})
		cancel()
		if (err == nil) != (mode == "ok") {
			t.Errorf("%s: Run: %v", mode, err)
		}
		if s := engine(); s != "" {
			t.Errorf("%s: engine goroutines left after Run:\n%s", mode, s)
		}
		if after := fds(); after > before {
			t.Errorf("%s: %d file descriptors open before Run, %d after", mode, before, after)
		}
	}
}

// TestFailureIsOnDiskBeforeTheOthersAreCanceled: the run record on disk
// names a failed stage before the stages still running are canceled: one
// of them may ignore its ctx and keep the run going until the user quits
// at once (the second Ctrl-C) or the process is killed, and the next run
// marks that record killed; it must still say which stage failed and why.
func TestFailureIsOnDiskBeforeTheOthersAreCanceled(t *testing.T) {
	h := newHarness(t, "name: toy\nstages:\n  bad:\n    uses: toy.bad2\n  slow:\n    uses: toy.slow\n")
	started := make(chan struct{})
	var seen string
	h.reg.MustRegister(pipeline.Spec{Kind: "toy.bad2", Version: "1",
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			<-started
			return errors.New("bad input at line 3")
		})})
	h.reg.MustRegister(pipeline.Spec{Kind: "toy.slow", Version: "1",
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			close(started)
			<-ctx.Done()
			recs, err := pipeline.ListRuns(h.workdir, "toy")
			if err != nil || len(recs) != 1 {
				return fmt.Errorf("run records: %d, %v", len(recs), err)
			}
			if s, ok := recs[0].Stage("bad"); ok {
				seen = s.Status + ": " + s.Error
			}
			return ctx.Err()
		})})
	_, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Jobs: 2})
	if !errors.Is(err, pipeline.ErrStageFailed) {
		t.Fatalf("Run: %v", err)
	}
	if !strings.HasPrefix(seen, pipeline.RunFailed+": ") || !strings.Contains(seen, "bad input at line 3") {
		t.Errorf("record on disk when the other stage was canceled: bad %q, want failed with its error", seen)
	}
}
