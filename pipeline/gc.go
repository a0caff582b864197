package pipeline

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// GCStats reports what [GC] removed.
type GCStats struct {
	Artifacts, WorkDirs, Kept int
	Bytes                     int64
}

// GC deletes every artifact under workdir/cache that neither a run record of
// any workflow in workdir nor the states given in current (the workflow's
// cached stages as they are now, which a killed run never recorded)
// reference, and every leftover work directory in workdir/tmp (the resume
// state of interrupted runs). While a run record cannot be read it deletes
// nothing and returns an *UnreadableRunsError naming the files: the record
// may be the only reference to an artifact. The caller must hold the
// workdir lock.
func GC(workdir string, current []*State, dryRun bool) (GCStats, error) {
	var st GCStats
	keep := map[string]bool{}
	for _, s := range current {
		if s.Status == StatusCached {
			keep[s.Kind+"/"+s.Key] = true
		}
	}
	wfs, _ := os.ReadDir(filepath.Join(workdir, runsDirName))
	var unreadable []string
	for _, wf := range wfs {
		recs, err := ListRuns(workdir, wf.Name())
		var bad *UnreadableRunsError
		if errors.As(err, &bad) {
			unreadable = append(unreadable, bad.Files...)
		} else if err != nil {
			return st, err
		}
		for _, r := range recs {
			for _, s := range r.Stages {
				keep[s.Kind+"/"+s.Key] = true
			}
		}
	}
	if len(unreadable) > 0 {
		return st, &UnreadableRunsError{Files: unreadable}
	}
	kinds, _ := os.ReadDir(filepath.Join(workdir, cacheDirName))
	for _, k := range kinds {
		keys, _ := os.ReadDir(filepath.Join(workdir, cacheDirName, k.Name()))
		for _, key := range keys {
			if keep[k.Name()+"/"+key.Name()] && !isTrash(key.Name()) {
				st.Kept++
				continue
			}
			dir := filepath.Join(workdir, cacheDirName, k.Name(), key.Name())
			st.Bytes += dirSize(dir)
			st.Artifacts++
			if !dryRun {
				if err := removeAll(dir); err != nil {
					return st, err
				}
			}
		}
	}
	kinds, _ = os.ReadDir(filepath.Join(workdir, tmpDirName))
	for _, k := range kinds {
		keys, _ := os.ReadDir(filepath.Join(workdir, tmpDirName, k.Name()))
		for _, key := range keys {
			dir := filepath.Join(workdir, tmpDirName, k.Name(), key.Name())
			st.Bytes += dirSize(dir)
			st.WorkDirs++
			if !dryRun {
				if err := os.RemoveAll(dir); err != nil {
					return st, err
				}
			}
		}
	}
	return st, nil
}

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
