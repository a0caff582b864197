package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coderflow/pipeline"
)

const diamond = `
name: toy
params:
  base: 3
stages:
  a:
    uses: toy.source
    with: {n: ${params.base}}
  b:
    uses: toy.concat
    needs: [a]
    with: {suffix: "-b"}
  c:
    uses: toy.concat
    needs: [b]
    with: {suffix: "-c"}
  d:
    uses: toy.concat
    needs: [a]
    with: {suffix: "-d"}
`

type harness struct {
	t       *testing.T
	reg     *pipeline.Registry
	dir     string
	workdir string
	file    string
}

func newHarness(t *testing.T, wf string) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, reg: toyRegistry(), dir: dir, workdir: filepath.Join(dir, "wd"), file: filepath.Join(dir, "wf.yaml")}
	if err := os.WriteFile(h.file, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	resetExec()
	return h
}

func (h *harness) load(sets ...string) *pipeline.Workflow {
	h.t.Helper()
	w, err := pipeline.Load(h.file, pipeline.LoadOptions{Registry: h.reg, Sets: sets, BaseDir: h.dir, Workdir: h.workdir})
	if err != nil {
		h.t.Fatalf("load: %v", err)
	}
	return w
}

func (h *harness) run(opt pipeline.RunOptions, sets ...string) *pipeline.Result {
	h.t.Helper()
	res, err := pipeline.Run(h.t.Context(), h.load(sets...), opt)
	if err != nil {
		h.t.Fatalf("run: %v", err)
	}
	return res
}

func statuses(res *pipeline.Result) map[string]string {
	m := map[string]string{}
	for _, s := range res.Record.Stages {
		m[s.Stage] = s.Status
	}
	return m
}

func wantStatuses(t *testing.T, res *pipeline.Result, want map[string]string) {
	t.Helper()
	got := statuses(res)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("stage %s: status %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestSecondRunIsFullyCached(t *testing.T) {
	h := newHarness(t, diamond)
	res := h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"a": "ran", "b": "ran", "c": "ran", "d": "ran"})
	resetExec()
	res = h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"a": "cached", "b": "cached", "c": "cached", "d": "cached"})
	for _, id := range []string{"a", "b", "c", "d"} {
		if n := execCount(id); n != 0 {
			t.Errorf("stage %s executed %d times on a cached run", id, n)
		}
	}
	b, err := os.ReadFile(filepath.Join(res.Artifacts["c"].Dir, "out.txt"))
	if err != nil || string(b) != "n=3\n-b-c" {
		t.Fatalf("c output %q %v", b, err)
	}
	if len(res.Artifacts["c"].Manifest.Files) != 1 || res.Artifacts["c"].Manifest.Files[0].SHA256 == "" {
		t.Fatalf("manifest files: %+v", res.Artifacts["c"].Manifest.Files)
	}
}

func TestSetMiddleParamRerunsDescendantsOnly(t *testing.T) {
	h := newHarness(t, diamond)
	h.run(pipeline.RunOptions{})
	// status names the changed param before running
	states, err := h.load("b.suffix=-B").States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*pipeline.State{}
	for _, s := range states {
		got[s.Stage] = s
	}
	if got["a"].Status != "cached" || got["d"].Status != "cached" {
		t.Errorf("a, d should stay cached: %s %s", got["a"].Status, got["d"].Status)
	}
	if got["b"].Status != "stale" || !strings.Contains(got["b"].Reason, `param suffix: "-b" -> "-B"`) {
		t.Errorf("b: %s %q", got["b"].Status, got["b"].Reason)
	}
	if got["c"].Status != "stale" || !strings.Contains(got["c"].Reason, "input b") {
		t.Errorf("c: %s %q", got["c"].Status, got["c"].Reason)
	}
	resetExec()
	res := h.run(pipeline.RunOptions{}, "b.suffix=-B")
	wantStatuses(t, res, map[string]string{"a": "cached", "b": "ran", "c": "ran", "d": "cached"})
	// a NoCache param never changes the key
	res = h.run(pipeline.RunOptions{}, "b.suffix=-B", "a.workers=7")
	wantStatuses(t, res, map[string]string{"a": "cached", "b": "cached", "c": "cached", "d": "cached"})
	// a workflow param flows into the stages that reference it
	res = h.run(pipeline.RunOptions{}, "params.base=4")
	wantStatuses(t, res, map[string]string{"a": "ran", "b": "ran", "c": "ran", "d": "ran"})
}

func TestForceOnlyFromUntil(t *testing.T) {
	h := newHarness(t, diamond)
	// --only on a stage whose inputs are not cached is a clear error
	_, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Only: []string{"c"}})
	if !errors.Is(err, pipeline.ErrNotCached) || !strings.Contains(err.Error(), `stage "b" is missing`) {
		t.Fatalf("--only with uncached inputs: %v", err)
	}
	res := h.run(pipeline.RunOptions{Until: "b"})
	wantStatuses(t, res, map[string]string{"a": "ran", "b": "ran", "c": "skipped", "d": "skipped"})
	res = h.run(pipeline.RunOptions{Only: []string{"c"}})
	wantStatuses(t, res, map[string]string{"a": "cached", "b": "cached", "c": "ran", "d": "skipped"})
	res = h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"a": "cached", "b": "cached", "c": "cached", "d": "ran"})
	resetExec()
	res = h.run(pipeline.RunOptions{Force: []string{"b"}})
	wantStatuses(t, res, map[string]string{"a": "cached", "b": "ran", "c": "cached", "d": "cached"})
	res = h.run(pipeline.RunOptions{From: "b"})
	wantStatuses(t, res, map[string]string{"a": "cached", "b": "ran", "c": "ran", "d": "cached"})
	if r := res.Record; r.From != "b" || r.Until != "" || r.Only != nil || r.Force != nil {
		t.Errorf("the run record's selection: from %q until %q only %v force %v, want from b", r.From, r.Until, r.Only, r.Force)
	}
	if _, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Only: []string{"x"}}); !errors.Is(err, pipeline.ErrUnknownStage) {
		t.Fatalf("unknown --only stage: %v", err)
	}
	res, err = pipeline.Run(t.Context(), h.load("a.n=9"), pipeline.RunOptions{DryRun: true})
	if err != nil || res.Plan["a"] != pipeline.PlanRun || res.Plan["d"] != pipeline.PlanRun || res.Record != nil {
		t.Fatalf("dry run: %v %v", err, res.Plan)
	}
	// --from after --until selects nothing: an error, not a silent no-op
	if _, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{From: "c", Until: "b"}); !errors.Is(err, pipeline.ErrBadOptions) {
		t.Fatalf("--from c --until b: %v", err)
	}
}

func TestExternalFileEditAndTouch(t *testing.T) {
	h := newHarness(t, `
name: ext
stages:
  a:
    uses: toy.source
    with: {file: data.txt}
`)
	pretendFilesOld(t)
	data := filepath.Join(h.dir, "data.txt")
	os.WriteFile(data, []byte("hello"), 0o644)
	h.run(pipeline.RunOptions{})
	// touch without changing content: rehash once, but the key is unchanged
	future := time.Now().Add(time.Hour)
	os.Chtimes(data, future, future)
	res := h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"a": "cached"})
	// a no-op check after that reads nothing
	dg := pipeline.NewDigester(pipeline.StatCachePath(h.workdir))
	if _, err := h.load().States(dg); err != nil || dg.Reads != 0 {
		t.Fatalf("unchanged external file was reread: reads=%d err=%v", dg.Reads, err)
	}
	// edit: rerun, and status says why first
	os.WriteFile(data, []byte("hello, world"), 0o644)
	states, _ := h.load().States(pipeline.NewDigester(""))
	if states[0].Status != "stale" || !strings.Contains(states[0].Reason, "content of") {
		t.Fatalf("status after edit: %+v", states[0])
	}
	res = h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"a": "ran"})
}

func TestCorruptedArtifactIsRecomputed(t *testing.T) {
	h := newHarness(t, diamond)
	res := h.run(pipeline.RunOptions{})
	p := filepath.Join(res.Artifacts["b"].Dir, "out.txt")
	// same size, different content, as bit rot would do
	b, _ := os.ReadFile(p)
	b[0] ^= 0xff
	os.WriteFile(p, b, 0o644)
	states, _ := h.load().States(pipeline.NewDigester(""))
	for _, s := range states {
		if s.Stage == "b" && (s.Status != "stale" || !strings.Contains(s.Reason, "corrupted")) {
			t.Fatalf("corruption not detected: %+v", s)
		}
	}
	res = h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"a": "cached", "b": "ran", "c": "cached", "d": "cached"})
	if got, _ := os.ReadFile(p); string(got) != "n=3\n-b" {
		t.Fatalf("recomputed content %q", got)
	}
	// a deleted file too
	os.Remove(p)
	res = h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"b": "ran"})
}

func TestPanicBecomesStageError(t *testing.T) {
	h := newHarness(t, `
stages:
  ok:
    uses: toy.source
  boom:
    uses: toy.panic
`)
	res, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Jobs: 1})
	if !errors.Is(err, pipeline.ErrStageFailed) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("want a stage failure from the panic, got %v", err)
	}
	if res == nil || res.Record.Status != "failed" {
		t.Fatalf("run record: %+v", res)
	}
	if s, _ := res.Record.Stage("boom"); s.Status != "failed" {
		t.Fatalf("boom: %+v", s)
	}
	if _, err := os.Stat(res.RecordPath); err != nil {
		t.Fatal(err)
	}
}

func TestCancelStopsQuickly(t *testing.T) {
	h := newHarness(t, `
stages:
  s:
    uses: toy.shards
    with: {shards: 100, sleep_ms: 200}
`)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var canceledAt time.Time
	go func() { // cancel as soon as the first shard is committed
		for {
			if m, _ := filepath.Glob(filepath.Join(h.workdir, "tmp", "toy.shards", "*", ".done", "*")); len(m) > 0 {
				canceledAt = time.Now()
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	res, err := pipeline.Run(ctx, h.load(), pipeline.RunOptions{})
	if err == nil || time.Since(canceledAt) > 2*time.Second {
		t.Fatalf("cancel: err=%v, returned %s after cancellation", err, time.Since(canceledAt))
	}
	// the record says the run and its stage were canceled, not failed
	if res == nil || res.Record == nil || res.Record.Status != "canceled" {
		t.Fatalf("record after cancel: %+v", res)
	}
	wantStatuses(t, res, map[string]string{"s": pipeline.RunCanceled})
	// the finished shard survives for the next run
	resetExec()
	h.run(pipeline.RunOptions{}, "s.sleep_ms=0")
	if execCount("s/part-000.txt") != 0 {
		t.Fatalf("shard 0 was recomputed after cancellation")
	}
}

// TestKillResumesFromFinishedShards kills a run with SIGKILL in the middle of
// a sharded stage (a subprocess running this test binary), checks that no
// artifact looks complete, and that the rerun resumes and ends byte-identical
// to an uninterrupted run.
func TestKillResumesFromFinishedShards(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	const wf = `
name: kill
stages:
  s:
    uses: toy.shards
    with: {shards: 12, sleep_ms: 150}
  after:
    uses: toy.concat
    needs: []
`
	h := newHarness(t, wf)
	cmd := helperCmd(t, "run", h.file, h.workdir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// wait until some shards are committed, then kill
	deadline := time.Now().Add(20 * time.Second)
	for {
		if len(doneMarkers(h.workdir)) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("subprocess made no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if m, _ := filepath.Glob(filepath.Join(h.workdir, "cache", "toy.shards", "*")); len(m) != 0 {
		t.Fatalf("a killed stage left an artifact in the cache: %v", m)
	}
	done := doneMarkers(h.workdir)
	resetExec()
	res := h.run(pipeline.RunOptions{}, "s.sleep_ms=0")
	recomputed := 0
	for i := range 12 {
		recomputed += execCount("s/part-" + pad3(i) + ".txt")
	}
	if recomputed != 12-len(done) || len(done) == 0 {
		t.Fatalf("rerun recomputed %d shards; %d were finished before the kill", recomputed, len(done))
	}
	// byte-identical to an uninterrupted run
	h2 := newHarness(t, wf)
	res2 := h2.run(pipeline.RunOptions{})
	a, b := res.Artifacts["s"].Manifest, res2.Artifacts["s"].Manifest
	if a.Key != b.Key || len(a.Files) != len(b.Files) {
		t.Fatalf("different artifacts: %v vs %v", a.Key, b.Key)
	}
	for i := range a.Files {
		if a.Files[i].Path != b.Files[i].Path || a.Files[i].SHA256 != b.Files[i].SHA256 {
			t.Fatalf("file %s differs from the uninterrupted run", a.Files[i].Path)
		}
	}
}

// TestConcurrentRunsOnOneWorkdir starts two runs at once: both succeed, the
// second waits for the lock and finds the first one's results cached.
func TestConcurrentRunsOnOneWorkdir(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	h := newHarness(t, `
name: conc
stages:
  s:
    uses: toy.shards
    with: {shards: 6, sleep_ms: 100}
`)
	var outs [2]bytes.Buffer
	var cmds [2]*exec.Cmd
	for i := range cmds {
		cmds[i] = helperCmd(t, "run", h.file, h.workdir)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("run %d failed: %v\n%s", i, err, outs[i].String())
		}
	}
	all := outs[0].String() + outs[1].String()
	if strings.Count(all, "status=ran") != 1 || strings.Count(all, "status=cached") != 1 {
		t.Fatalf("want one run to compute and one to find it cached:\n%s", all)
	}
	recs, _ := pipeline.ListRuns(h.workdir, "conc")
	if len(recs) != 2 {
		t.Fatalf("want 2 run records, got %d", len(recs))
	}
	res := h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"s": "cached"})
}

func TestStaleLockOfKilledProcessIsTakenOver(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	wd := t.TempDir()
	cmd := helperCmd(t, "lock", "", wd)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	out.Read(buf) // "locked"
	if _, err := pipeline.AcquireLock(t.Context(), wd, 0, nil); !errors.Is(err, pipeline.ErrLockTimeout) {
		t.Fatalf("lock held by a live process: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := pipeline.AcquireLock(t.Context(), wd, 2*time.Second, nil)
	if err != nil {
		t.Fatalf("lock of a killed process not taken over: %v", err)
	}
	l.Release()
}

func pad3(i int) string { s := "00" + itoa(i); return s[len(s)-3:] }

func TestLocalSourceDropsUnneededUpstream(t *testing.T) {
	h := newHarness(t, `
name: local
stages:
  fetch:
    uses: toy.panic
  data:
    uses: toy.concat
    needs: [fetch]
  after:
    uses: toy.concat
    needs: [data]
`)
	// with the upstream in use, the panicking fetch stage fails the run
	if _, err := pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{}); err == nil {
		t.Fatal("want the fetch stage to fail")
	}
	w := h.load("data.local=offline copy")
	if len(w.Dropped) != 1 || w.Dropped[0] != "fetch" {
		t.Fatalf("dropped %v", w.Dropped)
	}
	res, err := pipeline.Run(t.Context(), w, pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, res, map[string]string{"data": "ran", "after": "ran"})
	if _, ok := res.Record.Stage("fetch"); ok {
		t.Fatal("a dropped stage must not appear in the run")
	}
	// selecting it says why it is not there
	_, err = pipeline.Run(t.Context(), w, pipeline.RunOptions{Only: []string{"fetch"}, DryRun: true})
	if !errors.Is(err, pipeline.ErrUnknownStage) || !strings.Contains(err.Error(), "not needed with these params") {
		t.Fatalf("--only on a dropped stage: %v", err)
	}
}

// doneMarkers lists committed shard markers (not the temporary files of a
// marker being written when the process was killed).
func doneMarkers(workdir string) []string {
	m, _ := filepath.Glob(filepath.Join(workdir, "tmp", "toy.shards", "*", ".done", "*"))
	var out []string
	for _, p := range m {
		if !strings.HasPrefix(filepath.Base(p), ".") {
			out = append(out, p)
		}
	}
	return out
}
