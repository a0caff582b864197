package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"coderflow/internal/atomicfile"
)

// seal finishes a successful stage run: it digests every file under env.Dir,
// checks that declared tables exist, makes the files durable, writes the
// manifest and then removes the shard markers. Until the manifest is
// written, a kill or a failure (also ctx's cancellation, honoured while
// hashing, or a failed manifest write) leaves the committed shards for the
// next run to resume from; after it, the work directory is a complete
// artifact that the next run moves into the cache. base carries the
// identity fields (engine, stage, kind, version, key, params, inputs,
// external).
func seal(ctx context.Context, env *Env, base Manifest, start time.Time) (*Manifest, error) {
	env.mu.Lock()
	bad := slices.Clone(env.badTables)
	env.mu.Unlock()
	if len(bad) > 0 {
		return nil, fmt.Errorf("stage %q: %s", env.StageID, strings.Join(bad, "; "))
	}
	m := base
	tables, metrics, info, summary := env.results()
	m.Tables, m.Metrics, m.Info, m.Summary = tables, metrics, info, summary
	if m.Tables == nil {
		m.Tables = []TableEntry{}
	}
	// JSON has no NaN or Inf: such a metric is named in the info instead
	var nonFinite []string
	for k, v := range m.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			nonFinite = append(nonFinite, k)
			delete(m.Metrics, k)
		}
	}
	if len(nonFinite) > 0 {
		sort.Strings(nonFinite)
		if m.Info == nil {
			m.Info = map[string]any{}
		}
		m.Info["metrics_not_finite"] = nonFinite
	}
	files, err := digestTree(ctx, env.Dir)
	if err != nil {
		return nil, err
	}
	m.Files = files
	have := map[string]bool{}
	for _, f := range files {
		have[f.Path] = true
	}
	for _, t := range m.Tables {
		for _, f := range t.Files {
			if !have[f] {
				return nil, fmt.Errorf("stage %q declared table %q file %q, but it was not written", env.StageID, t.Name, f)
			}
		}
	}
	// the files' data is on disk before the manifest says they are complete
	if err := atomicfile.SyncTree(env.Dir); err != nil {
		return nil, fmt.Errorf("stage %q: syncing its files: %w", env.StageID, err)
	}
	m.Start, m.End = start, time.Now()
	m.Seconds = m.End.Sub(start).Seconds()
	b, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("stage %q: encoding manifest: %w", env.StageID, err)
	}
	if sealHook != nil {
		sealHook(env.Dir)
	}
	// the last point where a cancellation stops the stage: after this the
	// manifest is written and the artifact is complete
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	// The manifest first, then the markers: a manifest write that fails
	// (a full disk) or a kill before it leaves the markers, so the rerun
	// resumes from every committed shard; a kill after it leaves a sealed
	// work directory, which the rerun moves into the cache as it is
	// (removing the markers then). The manifest does not list the markers.
	if err := atomicfile.WriteFile(filepath.Join(env.Dir, ManifestName), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(env.Dir, doneDir)); err != nil {
		return nil, err
	}
	return &m, nil
}

// sealHook, when set (by tests), is called in the middle of sealing, after
// the files are hashed and synced and before the manifest is written, with
// the work directory.
var sealHook func(dir string)

// digestTree lists every regular file under dir except the manifest, with
// size and sha256. Temporary files of atomic writes (see [atomicfile.IsTemp])
// are deleted: the stage has returned, so any left are partial files of a
// killed earlier attempt, which would otherwise stay in the artifact.
func digestTree(ctx context.Context, dir string) ([]FileEntry, error) {
	var out []FileEntry
	buf := make([]byte, 1<<20)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == filepath.Join(dir, doneDir) {
				return filepath.SkipDir // shard markers: removed just before the manifest is written
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == ManifestName {
			return nil
		}
		if atomicfile.IsTemp(filepath.Base(p)) {
			return os.Remove(p)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: artifacts may only contain regular files", p)
		}
		sum, size, err := hashFile(ctx, p, buf)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, FileEntry{Path: rel, Size: size, SHA256: sum, MTime: info.ModTime().UnixNano()})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// hashFile returns the sha256 and size of file p. It stops with ctx's cause
// when ctx is done, also inside a large file.
func hashFile(ctx context.Context, p string, buf []byte) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, buf)
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, context.Cause(ctx)
		}
		return "", 0, fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxReader is a reader that fails once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
