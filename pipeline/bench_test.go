package pipeline_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// BenchmarkCacheCheckUnchanged measures the no-op cache check of a
// 100-stage workflow whose stages reference 10,000 external files (100
// directories of 100 files), against the anchor of stat-ing the same 10,000
// files in the same run. The workflow is run once first, so every stage has
// an artifact and the timed check takes the cached path: digest the external
// files through the stat cache, then read each artifact's manifest and stat
// its files. The check must stay O(stat): it reports content_reads (external
// files and artifact files whose content was read), which must be 0.
func BenchmarkCacheCheckUnchanged(b *testing.B) {
	const stages = 100
	dir := b.TempDir()
	var wf strings.Builder
	wf.WriteString("name: bench\nstages:\n")
	var files []string
	for s := range stages {
		d := filepath.Join(dir, "data", fmt.Sprintf("d%03d", s))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			p := filepath.Join(d, fmt.Sprintf("f%03d.bin", f))
			if err := os.WriteFile(p, []byte(strings.Repeat("x", 1000+f)), 0o644); err != nil {
				b.Fatal(err)
			}
			files = append(files, p)
		}
		// toy.dir lists the directory (it reads no file content); its
		// param is a Path, so the key digests the 100 files.
		fmt.Fprintf(&wf, "  s%03d:\n    uses: toy.dir\n    with: {dir: \"dir:%s\"}\n", s, d)
	}
	wfPath := filepath.Join(dir, "wf.yaml")
	if err := os.WriteFile(wfPath, []byte(wf.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	workdir := filepath.Join(dir, "wd")
	w, err := pipeline.Load(wfPath, pipeline.LoadOptions{Registry: toyRegistry(), Workdir: workdir})
	if err != nil {
		b.Fatal(err)
	}
	res, err := pipeline.Run(b.Context(), w, pipeline.RunOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range res.Record.Stages {
		if s.Status != "ran" {
			b.Fatalf("first run: stage %s %s, want ran", s.Stage, s.Status)
		}
	}
	statcache := pipeline.StatCachePath(workdir)
	// The files were written a moment ago, so the run did not remember
	// their digests (racy: see pipeline.racyWindow). The checks below model
	// a later day: one untimed check reads them once more and remembers
	// them, the timed ones read nothing.
	pretendFilesOld(b)
	// One untimed check (the stat cache the run left, saved again), which
	// must already find every stage cached.
	warm := pipeline.NewDigester(statcache)
	checkAllCached(b, w, warm, stages, "after the run: ")
	if err := warm.Save(); err != nil {
		b.Fatal(err)
	}

	b.Run("anchor=stat-10k-files", func(b *testing.B) {
		for b.Loop() {
			for _, p := range files {
				if _, err := os.Stat(p); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("cache-check", func(b *testing.B) {
		reads := 0
		for b.Loop() {
			dg := pipeline.NewDigester(statcache) // as a fresh process would
			checkAllCached(b, w, dg, stages, "")
			reads += dg.Reads
		}
		b.ReportMetric(float64(reads), "content_reads")
	})
}

// checkAllCached fails b unless all stages stages of w are cached by dg
// (prefix starts the failure message).
func checkAllCached(b *testing.B, w *pipeline.Workflow, dg *pipeline.Digester, stages int, prefix string) {
	b.Helper()
	states, err := w.States(dg)
	if err != nil {
		b.Fatal(err)
	}
	if len(states) != stages {
		b.Fatalf("%d states, want %d", len(states), stages)
	}
	for _, st := range states {
		if st.Status != pipeline.StatusCached {
			b.Fatalf("%sstage %s is %s (%s), want cached", prefix, st.Stage, st.Status, st.Reason)
		}
	}
}
