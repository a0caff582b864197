package dataset

import (
	"os"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

// BenchmarkPrecompSCAN converts a 200 x 36 x 2048 SCAN split (59 MB of
// float32) into the features table (snappy shards) plus images and
// captions, and reports input MB/s.
func BenchmarkPrecompSCAN(b *testing.B) {
	root := b.TempDir()
	const n = 200
	writeNpy(b, filepath.Join(root, "train_ims.npy"), []int{n, 36, 2048}, func(i int) float32 { return float32(i%1013) / 1013 })
	writeCaps(b, filepath.Join(root, "train_caps.txt"), n, "")
	raw := map[string]any{"source": root, "splits": []string{"train"}}
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), "a")
		if _, err := pipeline.RunStandalone(b.Context(), &PrecompSpec, "p", raw, nil, dir, nil); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dir)
	}
	b.ReportMetric(float64(n*36*2048*4)*float64(b.N)/1e6/b.Elapsed().Seconds(), "MB/s")
}
