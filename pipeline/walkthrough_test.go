package pipeline_test

// Tests of what a new-user walkthrough found: messages, logs, `status
// --json` and run records that said something other than what happened.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"coderflow/pipeline"
)

// commitMarkers makes the work directory of stage st as an interrupted
// attempt leaves it, with n committed-shard markers (none: just the
// directory).
func commitMarkers(t *testing.T, workdir string, st *pipeline.State, n int) {
	t.Helper()
	wd := filepath.Join(workdir, "tmp", st.Kind, st.Key)
	if err := os.MkdirAll(filepath.Join(wd, ".done"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(wd, ".done", fmt.Sprintf("part-%d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStatusResumeReasonCounts: "1 finished shard", "2 finished shards".
func TestStatusResumeReasonCounts(t *testing.T) {
	for _, tc := range []struct {
		shards int
		want   string
	}{
		{1, "interrupted earlier: the next run resumes from 1 finished shard"},
		{2, "interrupted earlier: the next run resumes from 2 finished shards"},
	} {
		t.Run(itoa(tc.shards), func(t *testing.T) {
			h := newHarness(t, diamond)
			states, err := h.load().States(pipeline.NewDigester(""))
			if err != nil {
				t.Fatal(err)
			}
			commitMarkers(t, h.workdir, states[0], tc.shards)
			states, err = h.load().States(pipeline.NewDigester(""))
			if err != nil {
				t.Fatal(err)
			}
			if st := states[0]; st.Resume != tc.shards || st.Reason != tc.want {
				t.Errorf("resume %d, reason %q; want %d, %q", st.Resume, st.Reason, tc.shards, tc.want)
			}
		})
	}
}

// TestRunLogsResume: a stage resumed in a work dir an earlier attempt
// left logs "resuming", with committed_shards only when there are some
// (it logged "committed_shards=0" for a work dir without shards, where a
// stage such as download resumes from a partial file of its own); a fresh
// stage logs "running".
func TestRunLogsResume(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workDir bool // an earlier attempt left the work dir
		shards  int
		want    string
	}{
		{"no work dir", false, 0, "msg=running stage=a"},
		{"work dir without shards", true, 0, "msg=resuming stage=a key="},
		{"work dir with shards", true, 2, "msg=resuming stage=a key="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, diamond)
			states, err := h.load().States(pipeline.NewDigester(""))
			if err != nil {
				t.Fatal(err)
			}
			if tc.workDir {
				commitMarkers(t, h.workdir, states[0], tc.shards)
			}
			var buf bytes.Buffer
			h.run(pipeline.RunOptions{Only: []string{"a"}, Log: slog.New(slog.NewTextHandler(&buf, nil))})
			log := buf.String()
			if !strings.Contains(log, tc.want) {
				t.Errorf("log lacks %q:\n%s", tc.want, log)
			}
			if strings.Contains(log, "committed_shards=0") {
				t.Errorf("the log counts zero committed shards:\n%s", log)
			}
			if tc.shards > 0 && !strings.Contains(log, "committed_shards="+itoa(tc.shards)) {
				t.Errorf("log does not count the %d shards:\n%s", tc.shards, log)
			}
		})
	}
}

// TestLockTimeoutZeroDoesNotWait: with --lock-timeout 0 a held lock fails
// at once without a "waiting for the workdir lock" line, and the error
// names the holder and says how to wait; with a timeout the run waits,
// says so, and the error says how long it waited.
func TestLockTimeoutZeroDoesNotWait(t *testing.T) {
	for _, tc := range []struct {
		name     string
		timeout  time.Duration
		wantWait bool
		want     []string
		notWant  []string
	}{
		{"zero", 0, false,
			[]string{fmt.Sprintf("workdir is locked by another run (pid %d on ", os.Getpid()), "--lock-timeout 0 does not wait", "--lock-timeout 10m"},
			[]string{"waited"}},
		{"timeout", 150 * time.Millisecond, true,
			[]string{fmt.Sprintf("workdir is locked by another run (pid %d on ", os.Getpid()), "waited 150ms"},
			[]string{"does not wait"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, diamond)
			held, err := pipeline.AcquireLock(t.Context(), h.workdir, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer held.Release()
			var buf bytes.Buffer
			_, err = pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{LockTimeout: tc.timeout, Log: slog.New(slog.NewTextHandler(&buf, nil))})
			if !errors.Is(err, pipeline.ErrLockTimeout) {
				t.Fatalf("err = %v, want ErrLockTimeout", err)
			}
			if waited := strings.Contains(buf.String(), "waiting for the workdir lock"); waited != tc.wantWait {
				t.Errorf("logged waiting: %v, want %v:\n%s", waited, tc.wantWait, buf.String())
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q says %q", err, s)
				}
			}
		})
	}
}

// TestStatusJSON: `status --json` (the JSON of the States) gives inputs
// as [] for a stage without inputs, and lists the stages a local source
// leaves out with not_needed, as the text output does.
func TestStatusJSON(t *testing.T) {
	const local = `
name: toy
stages:
  a:
    uses: toy.source
  b:
    uses: toy.concat
    needs: [a]
    with: {local: "text"}
  c:
    uses: toy.concat
    needs: [b]
`
	type entry = map[string]any
	for _, tc := range []struct {
		name string
		wf   string
		want map[string]entry // stage -> fields it must have (nil: must be absent)
	}{
		{"no local source", diamond, map[string]entry{
			"a": {"kind": "toy.source", "status": "missing", "inputs": []any{}, "not_needed": nil},
			"b": {"kind": "toy.concat", "status": "missing", "not_needed": nil},
		}},
		{"local source", local, map[string]entry{
			"a": {"kind": "toy.source", "status": "not_needed", "not_needed": true, "inputs": []any{}, "key": "", "dir": ""},
			"b": {"kind": "toy.concat", "status": "missing", "inputs": []any{}, "not_needed": nil},
			"c": {"kind": "toy.concat", "status": "missing", "not_needed": nil},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.wf)
			w := h.load()
			states, err := w.States(pipeline.NewDigester(""))
			if err != nil {
				t.Fatal(err)
			}
			n := len(states)
			b, err := json.Marshal(w.WithDropped(states))
			if err != nil {
				t.Fatal(err)
			}
			if len(states) != n {
				t.Errorf("WithDropped changed its argument")
			}
			var got []entry
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(w.Stages)+len(w.Dropped) {
				t.Errorf("%d entries, want %d stages + %d not needed:\n%s", len(got), len(w.Stages), len(w.Dropped), b)
			}
			byStage := map[string]entry{}
			for _, e := range got {
				for _, f := range []string{"stage", "kind", "key", "status", "dir", "inputs"} {
					if _, ok := e[f]; !ok {
						t.Errorf("entry %v lacks %q", e, f)
					}
				}
				if e["inputs"] == nil {
					t.Errorf("stage %v: inputs is null", e["stage"])
				}
				byStage[e["stage"].(string)] = e
			}
			for id, fields := range tc.want {
				e, ok := byStage[id]
				if !ok {
					t.Errorf("no entry for stage %s:\n%s", id, b)
					continue
				}
				for f, v := range fields {
					if gv, has := e[f]; fmt.Sprint(gv) != fmt.Sprint(v) || (v == nil) == has {
						t.Errorf("stage %s: %s = %#v (present: %v), want %#v", id, f, gv, has, v)
					}
				}
			}
		})
	}
}

// TestPathParamErrorsNameWith: an error about a stage's Path param found
// while computing keys names it as validation does ("stage "a":
// with.file: ..."), at the position of its value.
func TestPathParamErrorsNameWith(t *testing.T) {
	const wf = "name: toy\nstages:\n  a:\n    uses: toy.source\n    with: {file: nonexistent.txt}\n"
	for _, tc := range []struct {
		name string
		sets []string
		want string // the error's beginning after the file name
	}{
		{"in the file", nil, `:5:18: stage "a": with.file: stat `},
		{"by --set", []string{"a.file=other.txt"}, `--set a.file: stage "a": with.file: stat `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, wf)
			_, err := h.load(tc.sets...).States(pipeline.NewDigester(""))
			var se *pipeline.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a SpecError", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "params.") {
				t.Errorf("error %q; want it to contain %q and not params.", msg, tc.want)
			}
		})
	}
}

// TestRunRecordStartIncludesLockWait: a run record's start is when the run
// began, before it waited for the workdir lock; the wait is recorded as
// lock_wait_ms (absent when the lock was free), and the id still sorts by
// when the run took the lock.
func TestRunRecordStartIncludesLockWait(t *testing.T) {
	for _, tc := range []struct {
		name string
		held bool // another run holds the lock when this one starts
	}{
		{"lock free", false},
		{"lock held", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, diamond)
			w := h.load()
			var released time.Time
			waiting := make(chan struct{})
			var once sync.Once
			log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) {
				if bytes.Contains(p, []byte("waiting for the workdir lock")) {
					once.Do(func() { close(waiting) })
				}
			}), nil))
			var held *pipeline.Lock
			if tc.held {
				var err error
				if held, err = pipeline.AcquireLock(t.Context(), h.workdir, 0, nil); err != nil {
					t.Fatal(err)
				}
			}
			type result struct {
				res *pipeline.Result
				err error
			}
			done := make(chan result, 1)
			before := time.Now()
			go func() {
				res, err := pipeline.Run(t.Context(), w, pipeline.RunOptions{LockTimeout: time.Minute, Log: log})
				done <- result{res, err}
			}()
			if tc.held {
				<-waiting
				released = time.Now()
				held.Release()
			}
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			rec := r.res.Record
			if rec.Start.Before(before) {
				t.Errorf("start %v before Run was called (%v)", rec.Start, before)
			}
			raw, err := os.ReadFile(r.res.RecordPath)
			if err != nil {
				t.Fatal(err)
			}
			hasField := bytes.Contains(raw, []byte(`"lock_wait_ms"`))
			if !tc.held {
				if rec.LockWaitMS != 0 || hasField {
					t.Errorf("lock was free: lock_wait_ms %d (in the record: %v), want absent", rec.LockWaitMS, hasField)
				}
				return
			}
			if !rec.Start.Before(released) {
				t.Errorf("start %v is not before the lock was released (%v): it must include the wait", rec.Start, released)
			}
			// the first retry comes 100 ms after the waiting line, which was
			// before the release
			if rec.LockWaitMS < 100 || !hasField {
				t.Errorf("lock_wait_ms %d (in the record: %v), want >= 100", rec.LockWaitMS, hasField)
			}
			if d := rec.End.Sub(rec.Start); d < time.Duration(rec.LockWaitMS)*time.Millisecond {
				t.Errorf("duration %v shorter than the lock wait %d ms", d, rec.LockWaitMS)
			}
			idTime, err := time.Parse("20060102T150405.000Z", rec.ID[:len("20060102T150405.000Z")])
			if err != nil {
				t.Fatal(err)
			}
			if idTime.Before(released.UTC().Truncate(time.Millisecond)) {
				t.Errorf("id %s is from before the lock was released (%v): ids must sort in lock order", rec.ID, released.UTC())
			}
		})
	}
}

// writerFunc is an io.Writer calling f with each write.
type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }
