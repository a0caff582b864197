package pipeline

import (
	"coderflow/internal/atomicfile"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// RunOptions select what [Run] executes.
type RunOptions struct {
	Only  []string // run just these stages; their inputs and ancestors must be cached
	From  string   // rerun this stage and everything downstream of it
	Until string   // stop after this stage: only it and its ancestors
	Force []string // rerun these stages even if cached (their work dirs are cleared)
	Jobs  int      // stages run in parallel at most; 0 = number of CPUs
	// DryRun computes keys and reports what would run, without locking or running.
	DryRun bool
	// LockTimeout bounds the wait for another run holding the workdir lock;
	// 0 fails at once, negative waits forever.
	LockTimeout time.Duration
	Log         *slog.Logger    // default: discard
	Progress    ProgressFactory // default: log lines
	Sets        []string        // --set values, recorded in the run record
}

// Planned statuses reported by a dry run.
const (
	PlanRun    = "run"
	PlanCached = "cached"
	PlanSkip   = "skip"
)

// Result is the outcome of [Run].
type Result struct {
	Record     *RunRecord
	RecordPath string
	States     []*State
	Plan       map[string]string    // stage -> PlanRun | PlanCached | PlanSkip
	Artifacts  map[string]*Artifact // stages that ran or were cached
}

// ErrStageFailed wraps the error of the first stage that failed.
var ErrStageFailed = errors.New("stage failed")

// ErrNotCached is returned when --only selects a stage whose inputs (or
// their ancestors, which it reads through them) are not cached.
var ErrNotCached = errors.New("input not cached")

// ErrBadOptions is returned for run options that contradict each other.
var ErrBadOptions = errors.New("conflicting options")

// Run executes a workflow: it takes the workdir lock, computes every key,
// runs the selected stages that are not cached (in parallel where the DAG
// allows, at most Jobs at a time), and writes a run record. The first
// failure cancels the other running stages with a cause, and no stage
// starts after it. Run returns only once every started stage has returned:
// a stage that ignores its ctx keeps the run, and the workdir lock, until
// it ends (the CLI's second Ctrl-C quits at once). A stage that returns nil
// after its ctx was canceled is recorded canceled, and its output is not
// stored (its work directory is kept for the rerun).
func Run(ctx context.Context, w *Workflow, opt RunOptions) (*Result, error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := time.Now() // the run's start: its record's duration includes the lock wait and the key computation
	if err := checkSelection(w, opt); err != nil {
		return nil, err
	}
	locked, lockWait := start, time.Duration(0)
	if !opt.DryRun {
		t0 := time.Now()
		waited := false
		lock, err := AcquireLock(ctx, w.Workdir, opt.LockTimeout, func(holder string) {
			waited = true
			log.Info("waiting for the workdir lock", "workdir", w.Workdir, "holder", holder)
		})
		if err != nil {
			return nil, err
		}
		defer lock.Release()
		locked = time.Now()
		if waited {
			lockWait = locked.Sub(t0)
		}
		log.Debug("workdir locked", "workdir", w.Workdir, "waited_seconds", round(time.Since(t0).Seconds()))
		sweepTrash(w.Workdir, log)
		if err := markKilledRuns(w.Workdir); err != nil {
			log.Warn("could not mark the record of a killed run", "error", err)
		}
	}
	dg := NewDigester(StatCachePath(w.Workdir))
	t0 := time.Now()
	states, err := w.StatesContext(ctx, dg)
	if !opt.DryRun {
		_ = dg.Save() // also after an interrupt: the digests made so far are kept
	}
	if err != nil {
		return nil, err
	}
	log.Debug("cache checked", "stages", len(states), "files_hashed", dg.Reads, "seconds", round(time.Since(t0).Seconds()))
	byID := map[string]*State{}
	for _, s := range states {
		byID[s.Stage] = s
	}
	plan, forced, err := selectStages(w, byID, opt)
	if err != nil {
		return nil, err
	}
	if log.Enabled(ctx, slog.LevelDebug) {
		for _, s := range states {
			args := []any{"stage", s.Stage, "kind", s.Kind, "key", s.Key, "status", s.Status, "plan", plan[s.Stage]}
			if s.Reason != "" {
				args = append(args, "reason", s.Reason)
			}
			for i, k := range s.InputKeys {
				args = append(args, "input."+w.byID[s.Stage].Inputs[i].ID, short(k))
			}
			for _, e := range s.External {
				args = append(args, "external."+e.Param, e.Source+" sha256:"+short(e.Digest))
			}
			if forced[s.Stage] {
				args = append(args, "forced", true)
			}
			log.Debug("stage state", args...)
		}
	}
	res := &Result{States: states, Plan: plan, Artifacts: map[string]*Artifact{}}
	if opt.DryRun {
		return res, nil
	}
	// The id is from the time the lock was taken, not from start: run ids
	// sort in the order the runs held the workdir lock, which readers of
	// the newest records rely on (a run that waited for the lock started
	// before the one it waited for finished).
	rec := &RunRecord{ID: newRunID(locked), Workflow: w.Name, File: w.File, Sets: opt.Sets, Start: start, Params: w.Params, Status: RunRunning,
		Only: opt.Only, From: opt.From, Until: opt.Until, Force: opt.Force, LockWaitMS: lockWait.Milliseconds()}
	runErr := execute(ctx, w, byID, plan, forced, opt, log, res, rec, dg)
	_ = dg.Save() // the digests of the checks after each stage
	rec.End = time.Now()
	rec.Status = "ok"
	if runErr != nil {
		rec.Status, rec.Error = "failed", runErr.Error()
		if ctx.Err() != nil {
			rec.Status = "canceled"
		}
	}
	path, werr := writeRun(w.Workdir, rec)
	res.Record, res.RecordPath = rec, path
	if runErr == nil && werr != nil {
		runErr = werr
	}
	return res, runErr
}

func checkSelection(w *Workflow, opt RunOptions) error {
	var errs []error
	check := func(flag, id string) {
		switch _, ok := w.byID[id]; {
		case ok:
		case slices.Contains(w.Dropped, id):
			errs = append(errs, fmt.Errorf("%s %s: %w: not needed with these params (every stage that needs it reads a local source)", flag, id, ErrUnknownStage))
		default:
			errs = append(errs, fmt.Errorf("%s %s: %w%s", flag, id, ErrUnknownStage, didYouMean(id, w.StageIDs())))
		}
	}
	for _, id := range opt.Only {
		check("--only", id)
	}
	for _, id := range opt.Force {
		check("--force", id)
	}
	if opt.From != "" {
		check("--from", opt.From)
	}
	if opt.Until != "" {
		check("--until", opt.Until)
	}
	if len(opt.Only) > 0 && (opt.From != "" || opt.Until != "") {
		errs = append(errs, fmt.Errorf("%w: --only cannot be combined with --from or --until", ErrBadOptions))
	}
	return errors.Join(errs...)
}

// Descendants returns id and every stage downstream of it.
func (w *Workflow) Descendants(id string) map[string]bool {
	out := map[string]bool{id: true}
	for _, n := range w.Stages { // topological order
		for _, in := range n.Inputs {
			if out[in.ID] {
				out[n.ID] = true
			}
		}
	}
	return out
}

// Ancestors returns id and every stage upstream of it.
func (w *Workflow) Ancestors(id string) map[string]bool {
	out := map[string]bool{}
	var visit func(n *Node)
	visit = func(n *Node) {
		if out[n.ID] {
			return
		}
		out[n.ID] = true
		for _, in := range n.Inputs {
			visit(in)
		}
	}
	visit(w.byID[id])
	return out
}

// selectStages decides, per stage, whether it runs, is taken from the cache
// or is skipped.
func selectStages(w *Workflow, st map[string]*State, opt RunOptions) (map[string]string, map[string]bool, error) {
	sel := map[string]bool{}
	forced := map[string]bool{}
	for _, n := range w.Stages {
		sel[n.ID] = true
	}
	if opt.Until != "" {
		sel = w.Ancestors(opt.Until)
	}
	if opt.From != "" {
		d := w.Descendants(opt.From)
		for id := range sel {
			if !d[id] {
				delete(sel, id)
			}
		}
		for id := range sel {
			forced[id] = true
		}
		if len(sel) == 0 && opt.Until != "" && len(opt.Only) == 0 {
			return nil, nil, fmt.Errorf("%w: --from %s --until %s select no stage (%s is not upstream of %s)", ErrBadOptions, opt.From, opt.Until, opt.From, opt.Until)
		}
	}
	if len(opt.Only) > 0 {
		sel = map[string]bool{}
		for _, id := range opt.Only {
			sel[id] = true
		}
	}
	for _, id := range opt.Force {
		forced[id] = true
		sel[id] = true
	}
	plan := map[string]string{}
	for _, n := range w.Stages {
		switch {
		case sel[n.ID] && (forced[n.ID] || st[n.ID].Status != StatusCached):
			plan[n.ID] = PlanRun
		case st[n.ID].Status == StatusCached:
			plan[n.ID] = PlanCached
		default:
			plan[n.ID] = PlanSkip
		}
	}
	// A cached stage that shares its key with a forced one would read the
	// directory the forced run replaces: it runs too, which makes it wait
	// for the forced run and take its artifact (one run per key). It is
	// forced as well: whichever of them runs first runs in the place of
	// both, and must clear the work directory as --force says.
	for _, x := range w.Stages {
		if !forced[x.ID] || plan[x.ID] != PlanRun {
			continue
		}
		for _, y := range w.Stages {
			if y.ID != x.ID && plan[y.ID] != PlanSkip && st[y.ID].Key == st[x.ID].Key {
				plan[y.ID] = PlanRun
				forced[y.ID] = true
			}
		}
	}
	// Ancestors of stages that run must be cached or run too: a stage
	// reads tables through its inputs into their ancestors, so a cached
	// input whose own input is gone is not enough. They are pulled in,
	// except with --only, where a missing one is an error.
	var errs []error
	for i := len(w.Stages) - 1; i >= 0; i-- {
		n := w.Stages[i]
		if plan[n.ID] != PlanRun {
			continue
		}
		anc := w.Ancestors(n.ID)
		for _, a := range w.Stages[:i] { // topological order: ancestors come first
			if !anc[a.ID] {
				continue
			}
			if plan[a.ID] == PlanSkip || (plan[a.ID] != PlanRun && st[a.ID].Status != StatusCached) {
				if len(opt.Only) > 0 {
					errs = append(errs, fmt.Errorf("--only %s: %w: stage %q is %s; run it first or drop --only", n.ID, ErrNotCached, a.ID, st[a.ID].Status))
					continue
				}
				plan[a.ID] = PlanRun
			}
		}
	}
	return plan, forced, errors.Join(errs...)
}

type stageDone struct {
	id  string
	art *Artifact
	rec StageRecord
	err error
}

// execute runs the planned stages in dependency order with at most Jobs in
// flight.
func execute(ctx context.Context, w *Workflow, st map[string]*State, plan map[string]string, forced map[string]bool,
	opt RunOptions, log *slog.Logger, res *Result, rec *RunRecord, dg *Digester) error {
	jobs := opt.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	records := map[string]StageRecord{}
	// saveProgress writes the run record as it stands, so a run killed
	// without a chance to write it (SIGKILL, the OOM killer) still
	// references the artifacts it made, and gc keeps them.
	saveProgress := func() {
		rec.Stages = nil
		for _, n := range w.Stages {
			if r, ok := records[n.ID]; ok {
				rec.Stages = append(rec.Stages, r)
			}
		}
		if _, err := writeRun(w.Workdir, rec); err != nil {
			log.Warn("cannot write the run record", "err", err)
		}
	}
	done := map[string]bool{}
	started := map[string]bool{}
	// Stages with the same kind and key (same params and inputs) share one
	// work directory and artifact: one runs, the others wait and take its
	// artifact, instead of writing the same directory at the same time.
	keyOf := func(id string) string { n, _ := w.Stage(id); return n.Kind + "/" + st[id].Key }
	runningKeys := map[string]bool{}
	results := make(chan stageDone)
	running := 0
	var firstErr error

	// snapshot returns a copy of a finished stage's artifact whose Inputs
	// are copies of the current artifacts of its inputs, recursively. Each
	// started stage gets its own snapshot, so nothing a running stage reads is
	// written afterwards; and a cached stage whose ancestor had to be rerun
	// (its artifact was gone) reaches the new artifact.
	var snapshot func(n *Node, memo map[string]*Artifact) *Artifact
	snapshot = func(n *Node, memo map[string]*Artifact) *Artifact {
		if a, ok := memo[n.ID]; ok {
			return a
		}
		a := res.Artifacts[n.ID]
		if a == nil {
			return nil
		}
		c := *a
		c.Inputs = nil
		for _, in := range n.Inputs {
			c.Inputs = append(c.Inputs, snapshot(in, memo))
		}
		memo[n.ID] = &c
		return &c
	}
	inputsOf := func(n *Node) []*Artifact {
		memo := map[string]*Artifact{}
		var ins []*Artifact
		for _, in := range n.Inputs {
			ins = append(ins, snapshot(in, memo))
		}
		return ins
	}
	// Cached stages are opened at once; their inputs are attached by
	// snapshot when a stage that reads through them starts.
	for _, n := range w.Stages {
		switch plan[n.ID] {
		case PlanCached:
			s := st[n.ID]
			res.Artifacts[n.ID] = &Artifact{Stage: n.ID, Dir: s.Dir, Manifest: s.Manifest}
			records[n.ID] = StageRecord{Stage: n.ID, Kind: n.Kind, Key: s.Key, Status: RunCached,
				Summary: s.Manifest.Summary, Metrics: s.Manifest.Metrics, Params: n.Params.Map()}
			done[n.ID] = true
			log.Info("cache hit", "stage", n.ID, "key", short(s.Key))
		case PlanSkip:
			records[n.ID] = StageRecord{Stage: n.ID, Kind: n.Kind, Key: st[n.ID].Key, Status: RunSkipped, Params: n.Params.Map()}
			done[n.ID] = true
		}
	}
	if len(done) < len(w.Stages) {
		// something will run: record the run before it makes anything (a
		// fully cached run makes nothing, and Run writes its record at once)
		saveProgress()
	}
	// A stage is ready when every ancestor that runs in this run has
	// finished, not only its direct inputs: tables are looked up through
	// cached inputs into their own ancestors.
	ancestors := map[string]map[string]bool{}
	for _, n := range w.Stages {
		if plan[n.ID] == PlanRun {
			ancestors[n.ID] = w.Ancestors(n.ID)
		}
	}
	ready := func(n *Node) bool {
		for id := range ancestors[n.ID] {
			if id == n.ID {
				continue
			}
			if plan[id] == PlanRun && (!done[id] || res.Artifacts[id] == nil) {
				return false
			}
		}
		for _, in := range n.Inputs {
			if res.Artifacts[in.ID] == nil {
				return false
			}
		}
		return true
	}
	for {
		if firstErr == nil && ctx.Err() == nil {
			for _, n := range w.Stages {
				if running >= jobs {
					break
				}
				if plan[n.ID] != PlanRun || started[n.ID] || !ready(n) || runningKeys[keyOf(n.ID)] {
					continue
				}
				started[n.ID] = true
				runningKeys[keyOf(n.ID)] = true
				running++
				ins := inputsOf(n)
				go runStageTo(ctx, results, w, n, st[n.ID], ins, forced[n.ID], opt, log, dg)
			}
		}
		if running == 0 {
			break
		}
		r := <-results
		delete(runningKeys, keyOf(r.id))
		running--
		done[r.id] = true
		records[r.id] = r.rec
		if r.err != nil {
			// on disk before the others are canceled: one that ignores
			// its ctx may keep the run going until the process is killed
			// (the second Ctrl-C), and the record must still name this
			// failure then
			saveProgress()
			if firstErr == nil {
				firstErr = r.err
				cancel(fmt.Errorf("stage %s failed", r.id))
			}
			continue
		}
		res.Artifacts[r.id] = r.art
		for _, m := range w.Stages {
			if m.ID != r.id && plan[m.ID] == PlanRun && !started[m.ID] && keyOf(m.ID) == keyOf(r.id) {
				started[m.ID], done[m.ID] = true, true
				res.Artifacts[m.ID] = &Artifact{Stage: m.ID, Dir: r.art.Dir, Manifest: r.art.Manifest}
				records[m.ID] = StageRecord{Stage: m.ID, Kind: m.Kind, Key: st[m.ID].Key, Status: RunCached,
					Summary: r.art.Manifest.Summary, Metrics: r.art.Manifest.Metrics, Params: m.Params.Map()}
				log.Info("same key as a stage that just ran: using its artifact", "stage", m.ID, "ran", r.id, "key", short(st[m.ID].Key))
			}
		}
		saveProgress()
	}
	// Give the returned artifacts complete input chains.
	final := map[string]*Artifact{}
	for _, n := range w.Stages {
		if a := snapshot(n, final); a != nil {
			res.Artifacts[n.ID] = a
		}
	}
	rec.Stages = nil
	for _, n := range w.Stages {
		r, ok := records[n.ID]
		if !ok {
			r = StageRecord{Stage: n.ID, Kind: n.Kind, Key: st[n.ID].Key, Status: RunSkipped, Params: n.Params.Map()}
		}
		rec.Stages = append(rec.Stages, r)
	}
	if firstErr != nil {
		return fmt.Errorf("%w: %w", ErrStageFailed, firstErr)
	}
	return ctx.Err()
}

// runStageTo runs runStage and sends its result to results. It also sends
// one when the stage ends its goroutine with runtime.Goexit (t.FailNow in a
// test's stage), which no recover stops and after which runStage never
// returns: the stage is then failed (its work directory kept), where the
// scheduler would otherwise wait for its result forever, holding the
// workdir lock.
func runStageTo(ctx context.Context, results chan<- stageDone, w *Workflow, n *Node, s *State, inputs []*Artifact, force bool,
	opt RunOptions, log *slog.Logger, dg *Digester) {
	start := time.Now()
	returned := false
	defer func() {
		if returned {
			return
		}
		if r := recover(); r != nil {
			panic(r) // a panic outside the stage's own code: it ends the process, as before
		}
		// runtime.Goexit
		err := fmt.Errorf("stage %q: its goroutine ended with runtime.Goexit (t.FailNow or t.Fatal in a stage?) instead of returning", n.ID)
		rec := StageRecord{Stage: n.ID, Kind: n.Kind, Key: s.Key, Status: RunFailed, Params: n.Params.Map(),
			Seconds: time.Since(start).Seconds(), Error: err.Error()}
		if ctx.Err() != nil {
			rec.Status = RunCanceled
		}
		log.Error("stage failed", "stage", n.ID, "err", err)
		results <- stageDone{id: n.ID, rec: rec, err: err}
	}()
	d := runStage(ctx, w, n, s, inputs, force, opt, log, dg)
	returned = true
	results <- d
}

// runStage runs one stage into its work directory and moves the sealed
// result into the cache. dg digests the stage's external files again once
// it has run (see [externalChanged]).
func runStage(ctx context.Context, w *Workflow, n *Node, s *State, inputs []*Artifact, force bool, opt RunOptions, log *slog.Logger, dg *Digester) stageDone {
	slog := log.With("stage", n.ID)
	rec := StageRecord{Stage: n.ID, Kind: n.Kind, Key: s.Key, Status: RunFailed, Params: n.Params.Map()}
	fail := func(err error, start time.Time) stageDone {
		rec.Seconds = time.Since(start).Seconds()
		rec.Error = err.Error()
		if ctx.Err() != nil {
			rec.Status = RunCanceled
			slog.Warn("stage canceled", "err", err, "seconds", round(rec.Seconds))
			return stageDone{id: n.ID, rec: rec, err: err}
		}
		slog.Error("stage failed", "err", err, "seconds", round(rec.Seconds))
		return stageDone{id: n.ID, rec: rec, err: err}
	}
	start := time.Now()
	wd := workDir(w.Workdir, n.Kind, s.Key)
	if force {
		if err := os.RemoveAll(wd); err != nil {
			return fail(err, start)
		}
	}
	resumed := false
	if _, err := os.Stat(wd); err == nil {
		resumed = true
	}
	if err := os.MkdirAll(wd, 0o755); err != nil {
		return fail(err, start)
	}
	if resumed {
		// An earlier attempt killed between sealing its work directory
		// (manifest written) and renaming it into the cache left a
		// complete artifact here: move it, rather than run the stage
		// again from scratch.
		m, err := verifyArtifact(ctx, wd, s.Key, dg)
		if err == nil {
			_ = os.RemoveAll(filepath.Join(wd, doneDir)) // markers a kill right after the manifest left (seal removes them next)
			slog.Info("found the sealed work directory of an interrupted earlier run: moving it into the cache", "key", short(s.Key))
			return publish(n, s, wd, m, inputs, rec, slog, start, fail)
		}
		if ctx.Err() != nil {
			// the check was cut short, not failed: the directory may
			// hold a complete result, which the stage must not start
			// writing over with a canceled context
			return fail(context.Cause(ctx), start)
		}
	}
	env := NewEnv(n.ID, n.Kind, n.Params, inputs, wd, slog)
	env.Key = s.Key
	env.progress = opt.Progress
	switch shards := len(env.CommittedShards()); {
	case resumed && shards > 0:
		slog.Info("resuming", "key", short(s.Key), "committed_shards", shards)
	case resumed:
		// no committed shard, but the stage may resume from what it keeps
		// in its work dir itself (a download's partial file)
		slog.Info("resuming", "key", short(s.Key), "work_dir", "kept")
	default:
		slog.Info("running", "key", short(s.Key))
	}
	slog.Debug("stage params", "kind", n.Kind, "version", n.Spec.Version, "params", n.Params.Map(), "work_dir", wd)
	if err := runProtected(ctx, n.Spec, env); err != nil {
		if cause := context.Cause(ctx); ctx.Err() != nil && cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%v)", err, cause)
		}
		return fail(err, start)
	}
	warnUndeclared(env, n.Spec, slog)
	if err := externalChanged(ctx, n.Params, dg, s.External, w.Workdir); err != nil {
		return fail(fmt.Errorf("stage %q: %w", n.ID, err), start)
	}
	var inRefs []InputRef
	for _, a := range inputs {
		inRefs = append(inRefs, InputRef{Stage: a.Stage, Kind: a.Kind(), Key: a.Key()})
	}
	m, err := seal(ctx, env, Manifest{Engine: EngineSalt, Stage: n.ID, Kind: n.Kind, Version: n.Spec.Version, Key: s.Key,
		Params: n.Params.Map(), Inputs: inRefs, External: s.External}, start)
	if err != nil {
		return fail(err, start)
	}
	return publish(n, s, wd, m, inputs, rec, slog, start, fail)
}

// publish moves the sealed work directory wd of stage n into the cache.
func publish(n *Node, s *State, wd string, m *Manifest, inputs []*Artifact, rec StageRecord, slog *slog.Logger,
	start time.Time, fail func(error, time.Time) stageDone) stageDone {
	final := s.Dir
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return fail(err, start)
	}
	if err := removeAll(final); err != nil {
		return fail(err, start)
	}
	if err := os.Rename(wd, final); err != nil {
		return fail(err, start)
	}
	_ = atomicfile.SyncDir(filepath.Dir(final)) // the rename survives a power loss (best effort: the artifact is complete either way)
	rec.Status, rec.Seconds, rec.Summary, rec.Metrics = RunRan, m.Seconds, m.Summary, m.Metrics
	var size int64
	for _, f := range m.Files {
		size += f.Size
	}
	slog.Debug("artifact sealed", "dir", final, "files", len(m.Files), "bytes", size)
	slog.Info("stage done", "seconds", round(m.Seconds), "summary", m.Summary)
	return stageDone{id: n.ID, rec: rec, art: &Artifact{Stage: n.ID, Dir: final, Manifest: m, Inputs: inputs}}
}

// warnUndeclared logs the tables of spec.Produces that the stage, which
// returned nil, did not declare with [Env.AddTable]. It is a warning, not
// a failure: a stage may legitimately write no file of a table for an
// empty input. A stage reading such a table downstream fails with
// [ErrNoInput]; the warning names the stage to look at.
func warnUndeclared(env *Env, spec *Spec, log *slog.Logger) {
	env.mu.Lock()
	var missing []string
	for _, t := range spec.Produces {
		if _, ok := env.tables[t]; !ok && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	env.mu.Unlock()
	if len(missing) > 0 {
		log.Warn("the stage returned without declaring tables its kind produces (Env.AddTable); stages reading them will not find them",
			"tables", missing)
	}
}

func round(f float64) float64 { return float64(int64(f*1000)) / 1000 }

// sweepTrash removes artifact directories left renamed aside by a process
// killed while it replaced or deleted them (see removeAll). The caller holds
// the workdir lock.
func sweepTrash(workdir string, log *slog.Logger) {
	m, _ := filepath.Glob(filepath.Join(workdir, cacheDirName, "*", "*.trash-*"))
	for _, dir := range m {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("cannot remove a leftover artifact directory", "dir", dir, "err", err)
		}
	}
}
