package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
)

// GCStats reports what [GC] removed.
type GCStats struct {
	Artifacts, WorkDirs, Kept int
	Bytes                     int64
	// Deleted lists what was deleted (with DryRun: what would be), in
	// directory order: artifacts first, then work directories.
	Deleted []GCItem
	// StatEntries counts the stat-cache entries of files that no longer
	// exist, dropped (with DryRun: found) so that the cache does not grow
	// with every file a workflow ever read.
	StatEntries int
	// Unreadable names run records that could not be decoded; every
	// artifact key found in their text was kept.
	Unreadable []string
}

// GCItem is one artifact or work directory [GC] deletes.
type GCItem struct {
	Kind, Key string
	WorkDir   bool   // an interrupted run's work directory, not an artifact
	Dir       string // its path
	Bytes     int64
}

// GCOptions select what [GC] deletes.
type GCOptions struct {
	// DryRun only counts what would be deleted.
	DryRun bool
	// KeepRuns, when > 0, lets only the KeepRuns newest run records of each
	// workflow protect their artifacts (the records themselves stay: they
	// hold the params and metrics that metrics --diff compares). 0 means
	// every run record protects its artifacts.
	KeepRuns int
}

// GC deletes every artifact under workdir/cache that neither a run record of
// any workflow in workdir (with opt.KeepRuns, one of the newest of its
// workflow) nor the states given in current (the workflow's cached stages
// as they are now, which a killed run never recorded) reference, and every
// leftover work directory in workdir/tmp (the resume state of interrupted
// runs). A run record that cannot be decoded (a truncated file) may be the
// only reference to an artifact, so every key that appears in its text is
// kept, and the file is named in GCStats.Unreadable. The caller must hold
// the workdir lock.
func GC(workdir string, current []*State, opt GCOptions) (GCStats, error) {
	if opt.KeepRuns < 0 {
		return GCStats{}, fmt.Errorf("gc: keep %d runs, want >= 0", opt.KeepRuns)
	}
	dryRun := opt.DryRun
	var st GCStats
	keep := map[string]bool{}
	for _, s := range current {
		if s.Status == StatusCached {
			keep[s.Kind+"/"+s.Key] = true
		}
	}
	keepKey := map[string]bool{} // keys mentioned by unreadable run records, any kind
	wfs, _ := os.ReadDir(filepath.Join(workdir, runsDirName))
	for _, wf := range wfs {
		if !wf.IsDir() {
			continue // a stray file (notes.txt): not a workflow's records
		}
		recs, err := ListRuns(workdir, wf.Name())
		var bad *UnreadableRunsError
		if errors.As(err, &bad) {
			st.Unreadable = append(st.Unreadable, bad.Files...)
			for _, f := range bad.Files {
				b, err := readStateFile(f)
				if errors.Is(err, errNotRegular) {
					continue // a directory or FIFO: no record, and no key to keep
				}
				if err != nil {
					return st, fmt.Errorf("gc: run record %s: %w", f, err)
				}
				for _, k := range keyRe.FindAll(b, -1) {
					keepKey[string(k)] = true
				}
			}
		} else if err != nil {
			return st, err
		}
		if opt.KeepRuns > 0 && len(recs) > opt.KeepRuns {
			// newest last: by start time (IDs have millisecond resolution)
			sort.SliceStable(recs, func(i, j int) bool { return recs[i].Start.Before(recs[j].Start) })
			recs = recs[len(recs)-opt.KeepRuns:]
		}
		for _, r := range recs {
			for _, s := range r.Stages {
				keep[s.Kind+"/"+s.Key] = true
			}
		}
	}
	kinds, _ := os.ReadDir(filepath.Join(workdir, cacheDirName))
	for _, k := range kinds {
		keys, _ := os.ReadDir(filepath.Join(workdir, cacheDirName, k.Name()))
		for _, key := range keys {
			if (keep[k.Name()+"/"+key.Name()] || keepKey[key.Name()]) && !isTrash(key.Name()) {
				st.Kept++
				continue
			}
			dir := filepath.Join(workdir, cacheDirName, k.Name(), key.Name())
			n := dirSize(dir)
			st.Bytes += n
			st.Artifacts++
			st.Deleted = append(st.Deleted, GCItem{Kind: k.Name(), Key: key.Name(), Dir: dir, Bytes: n})
			if !dryRun {
				if err := removeAll(dir); err != nil {
					return st, err
				}
			}
		}
	}
	dg := NewDigester(StatCachePath(workdir))
	st.StatEntries = dg.dropMissing()
	if !dryRun {
		if err := dg.Save(); err != nil {
			return st, err
		}
	}
	kinds, _ = os.ReadDir(filepath.Join(workdir, tmpDirName))
	for _, k := range kinds {
		keys, _ := os.ReadDir(filepath.Join(workdir, tmpDirName, k.Name()))
		for _, key := range keys {
			dir := filepath.Join(workdir, tmpDirName, k.Name(), key.Name())
			n := dirSize(dir)
			st.Bytes += n
			st.WorkDirs++
			st.Deleted = append(st.Deleted, GCItem{Kind: k.Name(), Key: key.Name(), WorkDir: true, Dir: dir, Bytes: n})
			if !dryRun {
				if err := os.RemoveAll(dir); err != nil {
					return st, err
				}
			}
		}
	}
	return st, nil
}

// keyRe matches a cache key (hex sha256) in the text of a run record.
var keyRe = regexp.MustCompile(`[0-9a-f]{64}`)

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
