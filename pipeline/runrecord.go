package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"coderflow/internal/atomicfile"
)

// Stage statuses in a run record.
const (
	RunRan     = "ran"
	RunCached  = "cached"
	RunFailed  = "failed"
	RunSkipped = "skipped" // not selected, or not reached because another stage failed
	// RunCanceled: the stage was stopped before it finished, by an interrupt
	// (Ctrl-C, SIGTERM) or because another stage failed; its committed
	// shards are kept for the next run.
	RunCanceled = "canceled"
)

// RunRunning is the status of a run record while its run goes on. The
// record is rewritten as stages finish, so a run killed without a chance
// to finish it (SIGKILL, the OOM killer) leaves it with this status and the
// stages done so far.
const RunRunning = "running"

// RunKilled is the status the next run in the workdir gives a record left
// at RunRunning: the workdir lock shows that no run is going on, so that
// run ended without finishing its record.
const RunKilled = "killed"

// markKilledRuns sets RunKilled on the records left at RunRunning by runs
// that ended without finishing them, for every workflow of the workdir (the
// lock is per workdir, so a record of another workflow left running is as
// dead as one of this workflow's). The caller holds the workdir lock, so no
// run of this workdir is going on. Per workflow it reads records newest
// first and stops at the first finished one: an older record left running
// was marked by an earlier run. End becomes the time the record was last
// written, the last moment the run is known to have been alive.
func markKilledRuns(workdir string) error {
	ents, err := os.ReadDir(filepath.Join(workdir, runsDirName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		// The record is rewritten in the file it was read from: its id and
		// workflow fields, which a damaged or hand-edited record may have
		// wrong ("../../x"), must not choose where it goes.
		eachRunFileNewestFirst(workdir, e.Name(), func(p string, r *RunRecord) bool {
			if r.Status != RunRunning {
				return false
			}
			r.Status = RunKilled
			if r.Error == "" {
				r.Error = "the run ended without finishing its record (SIGKILL, the OOM killer, a crash or power loss)"
			}
			if r.End.IsZero() {
				if st, serr := os.Stat(p); serr == nil {
					r.End = st.ModTime().UTC()
				}
			}
			err = writeRunFile(p, r)
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// RunRecord is written to <workdir>/runs/<workflow>/<id>.json after every run.
type RunRecord struct {
	// ID begins with the UTC time the run took the workdir lock (ids sort
	// in lock order), then a random suffix.
	ID       string   `json:"id"`
	Workflow string   `json:"workflow"`
	File     string   `json:"file"`
	Sets     []string `json:"sets,omitempty"`
	// the stage selection the run was started with (--only, --from, --until, --force)
	Only  []string `json:"only,omitempty"`
	From  string   `json:"from,omitempty"`
	Until string   `json:"until,omitempty"`
	Force []string `json:"force,omitempty"`
	// Start is when the run began, before it waited for the workdir lock
	// and computed the keys; End - Start is the run's whole duration.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// LockWaitMS is how long, in milliseconds, the run waited for another
	// run to release the workdir lock (included in End - Start); absent
	// (0) when the lock was free.
	LockWaitMS int64          `json:"lock_wait_ms,omitempty"`
	Status     string         `json:"status"` // ok | failed | canceled | running | killed (see RunRunning, RunKilled)
	Error      string         `json:"error,omitempty"`
	Stages     []StageRecord  `json:"stages"`
	Params     map[string]any `json:"params,omitempty"` // workflow params
}

// StageRecord is one stage's line in a run record.
type StageRecord struct {
	Stage   string             `json:"stage"`
	Kind    string             `json:"kind"`
	Key     string             `json:"key"`
	Status  string             `json:"status"`
	Seconds float64            `json:"seconds"`
	Summary string             `json:"summary,omitempty"`
	Error   string             `json:"error,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Params  map[string]any     `json:"params,omitempty"`
}

// Stage returns the record of stage id.
func (r *RunRecord) Stage(id string) (StageRecord, bool) {
	for _, s := range r.Stages {
		if s.Stage == id {
			return s, true
		}
	}
	return StageRecord{}, false
}

func newRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

func writeRun(workdir string, r *RunRecord) (string, error) {
	p := filepath.Join(runsDir(workdir, r.Workflow), r.ID+".json")
	return p, writeRunFile(p, r)
}

// writeRunFile writes run record r to the file p.
func writeRunFile(p string, r *RunRecord) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(p, append(b, '\n'), 0o644)
}

// UnreadableRunsError lists run record files that could not be read or
// decoded. [ListRuns] returns it together with the records it could read.
type UnreadableRunsError struct{ Files []string }

func (e *UnreadableRunsError) Error() string {
	return "unreadable run records (ignored): " + strings.Join(e.Files, ", ")
}

// runFiles returns the paths of a workflow's run record files, oldest
// first: run ids start with the UTC time the run took the workdir lock, so
// names sort in the order the runs held it.
func runFiles(workdir, workflow string) ([]string, error) {
	dir := runsDir(workdir, workflow)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// readRun reads one run record file.
func readRun(p string) (*RunRecord, error) {
	b, err := readStateFile(p)
	if err != nil {
		return nil, err
	}
	var r RunRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListRuns returns the run records of a workflow, oldest first. Records that
// cannot be read are skipped and named in an *UnreadableRunsError returned
// along with the others.
func ListRuns(workdir, workflow string) ([]*RunRecord, error) {
	files, err := runFiles(workdir, workflow)
	if err != nil {
		return nil, err
	}
	var out []*RunRecord
	var bad []string
	for _, p := range files {
		r, err := readRun(p)
		if err != nil {
			bad = append(bad, p)
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(bad) > 0 {
		return out, &UnreadableRunsError{Files: bad}
	}
	return out, nil
}

// eachRunNewestFirst calls fn with the readable run records of a workflow,
// newest first, until fn returns false.
func eachRunNewestFirst(workdir, workflow string, fn func(*RunRecord) bool) {
	eachRunFileNewestFirst(workdir, workflow, func(_ string, r *RunRecord) bool { return fn(r) })
}

// eachRunFileNewestFirst is eachRunNewestFirst that also passes the file
// each record was read from.
func eachRunFileNewestFirst(workdir, workflow string, fn func(string, *RunRecord) bool) {
	files, _ := runFiles(workdir, workflow)
	for i := len(files) - 1; i >= 0; i-- {
		if r, err := readRun(files[i]); err == nil && !fn(files[i], r) {
			return
		}
	}
}

// FindRun returns the run whose id is id or starts with it; "latest" is the
// newest run and "latest~N" the one N runs before it.
func FindRun(workdir, workflow, id string) (*RunRecord, error) {
	recs, err := ListRuns(workdir, workflow)
	var bad *UnreadableRunsError
	if err != nil && !errors.As(err, &bad) {
		return nil, err
	}
	if len(recs) == 0 {
		if bad != nil {
			return nil, fmt.Errorf("%w (%v)", os.ErrNotExist, bad)
		}
		return nil, os.ErrNotExist
	}
	if id == "" || id == "latest" {
		return recs[len(recs)-1], nil
	}
	if n, ok := strings.CutPrefix(id, "latest~"); ok {
		back, err := strconv.Atoi(n)
		if err != nil || back < 0 || back >= len(recs) {
			return nil, os.ErrNotExist
		}
		return recs[len(recs)-1-back], nil
	}
	var hits []string
	var hit *RunRecord
	for _, r := range recs {
		if strings.HasPrefix(r.ID, id) {
			hits = append(hits, r.ID)
			hit = r
		}
	}
	switch len(hits) {
	case 0:
		return nil, os.ErrNotExist
	case 1:
		return hit, nil
	}
	return nil, &AmbiguousRunError{ID: id, Matches: hits}
}

// AmbiguousRunError is [FindRun]'s error for an id prefix that matches more
// than one run; Matches lists their ids, oldest first.
type AmbiguousRunError struct {
	ID      string
	Matches []string
}

func (e *AmbiguousRunError) Error() string {
	return fmt.Sprintf("run id prefix %q is ambiguous: it matches %d runs", e.ID, len(e.Matches))
}
