package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	fuzzOldRun = "20260101T000000.000Z-000001"
	fuzzNewRun = "20260102T000000.000Z-000002"
)

// fuzzRunRecord returns the JSON of a run record of workflow wf.
func fuzzRunRecord(t testing.TB, id, workflow, status string) []byte {
	r := RunRecord{ID: id, Workflow: workflow, File: "wf.yaml", Status: status,
		Start: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		Stages: []StageRecord{{Stage: "s", Kind: "k", Key: strings.Repeat("ab", 32), Status: RunRan, Seconds: 1,
			Metrics: map[string]float64{"loss": 0.5}}}}
	b, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// treeFiles returns the regular files under dir, relative and sorted.
func treeFiles(t *testing.T, dir string) []string {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// FuzzRunRecord: a run record file of any content is read or named as
// unreadable by ListRuns, never lost silently; FindRun and a dry-run GC
// cope with it; and markKilledRuns, which rewrites a record left
// "running", rewrites that very file: whatever its id and workflow fields
// say, it creates no other file (inside or outside the workdir) and
// leaves the other records alone.
func FuzzRunRecord(f *testing.F) {
	f.Add(fuzzRunRecord(f, fuzzNewRun, "wf", RunRunning))
	f.Add(fuzzRunRecord(f, fuzzNewRun, "wf", "ok"))
	f.Add(fuzzRunRecord(f, fuzzNewRun, "../../../escaped", RunRunning))
	f.Add(fuzzRunRecord(f, "20990101T000000.000Z-ffffff", "wf", RunRunning))
	f.Add(fuzzRunRecord(f, fuzzNewRun, "other", RunRunning))
	b := fuzzRunRecord(f, fuzzNewRun, "wf", RunRunning)
	f.Add(b[:len(b)/2])
	f.Add([]byte(`{"status":"running"}`))
	f.Add([]byte(`null`))
	old := fuzzRunRecord(f, fuzzOldRun, "wf", "ok")
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		workdir := filepath.Join(root, "a", "b", "workdir")
		dir := runsDir(workdir, "wf")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		oldPath, newPath := filepath.Join(dir, fuzzOldRun+".json"), filepath.Join(dir, fuzzNewRun+".json")
		if err := os.WriteFile(oldPath, old, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(newPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rec, rerr := readRun(newPath)
		recs, err := ListRuns(workdir, "wf")
		var bad *UnreadableRunsError
		switch {
		case rerr != nil && (!errors.As(err, &bad) || !slices.Equal(bad.Files, []string{newPath})):
			t.Fatalf("unreadable record: ListRuns error %v, want one naming %s", err, newPath)
		case rerr == nil && err != nil:
			t.Fatalf("ListRuns: %v", err)
		case rerr == nil && len(recs) != 2, rerr != nil && len(recs) != 1:
			t.Fatalf("ListRuns returned %d records", len(recs))
		}
		if !slices.IsSortedFunc(recs, func(a, b *RunRecord) int { return strings.Compare(a.ID, b.ID) }) {
			t.Fatal("ListRuns: records not sorted by id")
		}
		for _, id := range []string{"latest", "latest~1", "2026", ""} {
			_, _ = FindRun(workdir, "wf", id)
		}
		if _, err := GC(workdir, nil, GCOptions{DryRun: true}); err != nil {
			t.Fatalf("GC: %v", err)
		}
		before := treeFiles(t, root)
		if err := markKilledRuns(workdir); err != nil {
			t.Fatalf("markKilledRuns: %v", err)
		}
		if after := treeFiles(t, root); !slices.Equal(after, before) {
			t.Fatalf("markKilledRuns changed the files from\n%q\nto\n%q", before, after)
		}
		if b, _ := os.ReadFile(oldPath); !bytes.Equal(b, old) {
			t.Fatal("markKilledRuns rewrote a finished record")
		}
		if rerr == nil && rec.Status == RunRunning {
			got, err := readRun(newPath)
			if err != nil {
				t.Fatalf("record marked killed: %v", err)
			}
			if got.Status != RunKilled || got.End.IsZero() {
				t.Fatalf("record left running is now %q (end %v), want %q with an end", got.Status, got.End, RunKilled)
			}
		}
	})
}

// TestLatestKeysIgnoresDamagedKeys: a run record whose stage key is not a
// cache key ("../../x", which staleReason would join into the path of the
// manifest it reads) does not count as the stage's latest key; the older
// record's intact key does.
func TestLatestKeysIgnoresDamagedKeys(t *testing.T) {
	workdir := t.TempDir()
	dir := runsDir(workdir, "wf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	good := strings.Repeat("ab", 32)
	for id, key := range map[string]string{fuzzOldRun: good, fuzzNewRun: "../../../../elsewhere"} {
		r := RunRecord{ID: id, Workflow: "wf", Status: "ok", Stages: []StageRecord{{Stage: "s", Kind: "k", Key: key, Status: RunRan}}}
		b, _ := json.Marshal(&r)
		if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w := &Workflow{Name: "wf", Workdir: workdir, Stages: []*Node{{ID: "s", Kind: "k"}}}
	if got := latestKeys(w)["s"]; got != good {
		t.Errorf("latest key %q, want %q", got, good)
	}
}
