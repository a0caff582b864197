package pipeline

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"coderflow/internal/atomicfile"
)

// doneDir is the directory inside a stage's work directory that holds the
// markers of finished shards. It is removed before the artifact is sealed.
const doneDir = ".done"

// ErrNoInput is returned by [Env.Input] when no upstream artifact provides
// the requested table.
var ErrNoInput = errors.New("no upstream stage provides the table")

// Env is what a running stage sees: its params, its inputs, its output
// directory, a logger and a progress reporter. Stages must write only under
// Dir; the engine turns Dir into the artifact when Run returns nil.
type Env struct {
	StageID  string       // id in the workflow, e.g. "features"
	Kind     string       // the stage kind
	Key      string       // the cache key this run will be stored under
	Params   Params       // resolved params
	Inputs   []*Artifact  // direct inputs, in `needs` order
	Dir      string       // the work directory; becomes the artifact
	Log      *slog.Logger // logger with the stage attribute set
	progress ProgressFactory

	mu      sync.Mutex
	tables  map[string]*TableEntry
	metrics map[string]float64
	info    map[string]any
	summary string
	// badTables are AddTable files outside the artifact: seal fails on them
	badTables []string
	// progs are the progress reporters the stage started, finished by
	// the engine when the stage returns (see finishProgress)
	progs []Progress
}

// NewEnv makes an Env for running a stage outside the scheduler (tests and
// tools). dir must exist. A nil logger discards; a nil progress factory logs.
func NewEnv(stageID, kind string, params Params, inputs []*Artifact, dir string, log *slog.Logger) *Env {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Env{StageID: stageID, Kind: kind, Params: params, Inputs: inputs, Dir: dir, Log: log,
		tables: map[string]*TableEntry{}, metrics: map[string]float64{}, info: map[string]any{}}
}

// WalkUpstream calls visit with from and everything upstream of it, nearest
// first: the artifacts in from (in order), then their inputs, breadth first,
// each artifact once. It stops when visit returns false. This is the order
// in which [Env.Input] finds a table.
func WalkUpstream(from []*Artifact, visit func(*Artifact) bool) {
	seen := map[*Artifact]bool{}
	queue := append([]*Artifact(nil), from...)
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		if a == nil || seen[a] {
			continue
		}
		seen[a] = true
		if !visit(a) {
			return
		}
		queue = append(queue, a.Inputs...)
	}
}

// Input returns the nearest upstream artifact that declares table: the
// direct inputs first (in `needs` order), then their inputs, breadth first.
func (e *Env) Input(table string) (*Artifact, error) {
	var found *Artifact
	WalkUpstream(e.Inputs, func(a *Artifact) bool {
		if _, ok := a.Table(table); ok {
			found = a
		}
		return found == nil
	})
	if found == nil {
		return nil, fmt.Errorf("stage %q: table %q: %w (add the stage that writes it to `needs`)", e.StageID, table, ErrNoInput)
	}
	return found, nil
}

// InputTable returns the absolute file paths of the nearest upstream table.
func (e *Env) InputTable(table string) ([]string, *Artifact, error) {
	a, err := e.Input(table)
	if err != nil {
		return nil, nil, err
	}
	files, _ := a.Table(table)
	return files, a, nil
}

// Path returns the absolute path of rel inside the work directory,
// creating its parent directory.
func (e *Env) Path(rel string) string {
	clean, ok := artifactRel(rel)
	if !ok {
		// a stage bug, not bad input: runProtected turns it into the
		// stage's error before anything is written outside the artifact
		panic(fmt.Sprintf("Env.Path(%q): the path leaves the artifact directory", rel))
	}
	p := filepath.Join(e.Dir, filepath.FromSlash(clean))
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	return p
}

// artifactRel cleans a slash-separated path relative to an artifact
// directory, and reports false for one that is absolute or leaves it.
func artifactRel(rel string) (string, bool) {
	c := path.Clean(filepath.ToSlash(rel))
	if path.IsAbs(c) || filepath.IsAbs(rel) || c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}

// AddTable declares a table written by the stage: its files relative to Dir
// (forward slashes) and its row count. Calling it again for the same name
// appends files and adds rows, so sharded stages can declare shard by shard.
func (e *Env) AddTable(name string, rows int64, files ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tables[name]
	if t == nil {
		t = &TableEntry{Name: name}
		e.tables[name] = t
	}
	for _, f := range files {
		c, ok := artifactRel(f)
		if !ok {
			e.badTables = append(e.badTables, fmt.Sprintf("table %q file %q is outside the artifact directory", name, f))
			continue
		}
		t.Files = append(t.Files, c)
	}
	t.Rows += rows
}

// SetMetric records a numeric result (loss, recall, ...) in the manifest and
// the run record.
func (e *Env) SetMetric(name string, v float64) {
	e.mu.Lock()
	e.metrics[name] = v
	e.mu.Unlock()
}

// SetInfo records a stage fact (counts, skipped items with reasons, ...) in
// the manifest. v must be JSON-encodable.
func (e *Env) SetInfo(key string, v any) {
	e.mu.Lock()
	e.info[key] = v
	e.mu.Unlock()
}

// Summarize sets the one-line summary shown by `run` and `inspect`.
func (e *Env) Summarize(format string, args ...any) {
	e.mu.Lock()
	e.summary = fmt.Sprintf(format, args...)
	e.mu.Unlock()
}

// ShardDone reports whether shard name was committed by an earlier,
// interrupted attempt of this same run (same key) and its file still exists.
func (e *Env) ShardDone(name string) bool { return shardDone(e.Dir, name) }

// CommitShard marks shard name (any non-empty string; slashes and leading
// dots included) finished. file is the shard's file relative to
// Dir (it must be complete: write it with [atomicfile] or rename it into
// place first), or "" for a shard without its own file. A later attempt
// with the same key sees [Env.ShardDone] true and skips the work.
func (e *Env) CommitShard(name, file string) error {
	if name == "" {
		return fmt.Errorf("stage %q: CommitShard: empty shard name", e.StageID)
	}
	p := e.shardMarker(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, []byte(filepath.ToSlash(file)), 0o644)
}

// CommittedShards returns the names of shards committed so far, sorted.
func (e *Env) CommittedShards() []string { return committedShards(e.Dir) }

// committedShards returns the names of the shards committed in the work
// directory dir that a rerun will reuse ([Env.ShardDone]: the marker and,
// if it names one, the shard's file), sorted.
func committedShards(dir string) []string {
	ents, _ := os.ReadDir(filepath.Join(dir, doneDir))
	var out []string
	for _, en := range ents {
		if name := unescapeShard(en.Name()); !strings.HasPrefix(en.Name(), ".") && shardDone(dir, name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// shardDone reports whether shard name of the work directory dir is
// committed and its file (if it has one) is there, a regular file inside
// dir.
func shardDone(dir, name string) bool {
	if name == "" {
		return false
	}
	b, err := readStateFile(shardMarker(dir, name))
	if err != nil {
		return false
	}
	rel := strings.TrimSpace(string(b))
	if rel == "" {
		return true
	}
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		// CommitShard records a file inside the work directory; a damaged
		// or edited marker naming "../x" is not a committed shard
		return false
	}
	// a file: a marker cut short to "." or to the shard's directory
	// ("tokens" of "tokens/part-00003.parquet") names no shard's file
	st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
	return err == nil && st.Mode().IsRegular()
}

func (e *Env) shardMarker(name string) string { return shardMarker(e.Dir, name) }

func shardMarker(dir, name string) string {
	return filepath.Join(dir, doneDir, escapeShard(name))
}

// escapeShard makes a shard name one file name: "%", "/" and NUL are
// escaped ("%25", "%2F", "%00"; no file name holds a NUL, so such a name
// failed CommitShard), and so is a leading "." ("%2E"), so that "." and
// ".." are names like any other and no marker looks like the hidden
// temporary file of an atomic write. Distinct names give distinct markers.
func escapeShard(s string) string {
	s = strings.ReplaceAll(s, "%", "%25")
	s = strings.ReplaceAll(s, "/", "%2F")
	s = strings.ReplaceAll(s, "\x00", "%00")
	if strings.HasPrefix(s, ".") {
		s = "%2E" + s[1:]
	}
	return s
}

func unescapeShard(s string) string {
	if rest, ok := strings.CutPrefix(s, "%2E"); ok {
		s = "." + rest
	}
	s = strings.ReplaceAll(s, "%2F", "/")
	s = strings.ReplaceAll(s, "%00", "\x00")
	return strings.ReplaceAll(s, "%25", "%")
}

// Progress starts a progress reporter for a unit of work of total items
// (0 if unknown). Call Done when finished.
func (e *Env) Progress(label string, total int64) Progress {
	var p Progress
	if e.progress == nil {
		p = newLogProgress(e.Log, label, total)
	} else {
		p = e.progress.Start(e.StageID, label, total)
	}
	e.mu.Lock()
	e.progs = append(e.progs, p)
	e.mu.Unlock()
	return p
}

// finishProgress calls Done on every progress reporter the stage started
// (Done is idempotent): a stage that failed or panicked before calling it
// would otherwise leave a log reporter logging for the rest of the run, or
// a terminal bar drawn as if it still ran.
func (e *Env) finishProgress() {
	e.mu.Lock()
	progs := e.progs
	e.progs = nil
	e.mu.Unlock()
	for _, p := range progs {
		p.Done()
	}
}

// results returns what the stage declared, for the manifest.
func (e *Env) results() (tables []TableEntry, metrics map[string]float64, info map[string]any, summary string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.tables {
		tables = append(tables, *t)
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	metrics = map[string]float64{}
	for k, v := range e.metrics {
		metrics[k] = v
	}
	info = map[string]any{}
	for k, v := range e.info {
		info[k] = v
	}
	return tables, metrics, info, e.summary
}
