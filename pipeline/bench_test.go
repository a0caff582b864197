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
// files in the same run. The check must stay O(stat): it reports
// content_reads, which must be 0.
func BenchmarkCacheCheckUnchanged(b *testing.B) {
	dir := b.TempDir()
	var wf strings.Builder
	wf.WriteString("name: bench\nstages:\n")
	var files []string
	for s := range 100 {
		d := filepath.Join(dir, "data", fmt.Sprintf("d%03d", s))
		os.MkdirAll(d, 0o755)
		for f := range 100 {
			p := filepath.Join(d, fmt.Sprintf("f%03d.bin", f))
			os.WriteFile(p, []byte(strings.Repeat("x", 1000+f)), 0o644)
			files = append(files, p)
		}
		fmt.Fprintf(&wf, "  s%03d:\n    uses: toy.source\n    with: {file: dir:%s}\n", s, d)
	}
	wfPath := filepath.Join(dir, "wf.yaml")
	os.WriteFile(wfPath, []byte(wf.String()), 0o644)
	w, err := pipeline.Load(wfPath, pipeline.LoadOptions{Registry: toyRegistry(), Workdir: filepath.Join(dir, "wd")})
	if err != nil {
		b.Fatal(err)
	}
	statcache := pipeline.StatCachePath(filepath.Join(dir, "wd"))
	warm := pipeline.NewDigester(statcache)
	if _, err := w.States(warm); err != nil {
		b.Fatal(err)
	}
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
			states, err := w.States(dg)
			if err != nil || len(states) != 100 {
				b.Fatal(err)
			}
			reads += dg.Reads
		}
		b.ReportMetric(float64(reads), "content_reads")
	})
}
