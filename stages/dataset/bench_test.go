package dataset

import (
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"coderflow/internal/testenv"
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

// BenchmarkReadDims reads the size of the 875 Flickr8k-1k photos (or, when
// shared/data is absent, of testdata/'s orientation fixtures) with readDims,
// header plus EXIF orientation tag, side by side with the anchor, readDims
// as it was before it read the tag (stat, open, image.DecodeConfig), and
// reports readDims' time per image over the anchor's as "x_decodeconfig".
func BenchmarkReadDims(b *testing.B) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.jpg"))
	if root, ok := testenv.FindSharedData("flickr8k-1k", "Flicker8k_Dataset"); ok {
		paths, _ = filepath.Glob(filepath.Join(root, "*.jpg"))
	}
	if len(paths) == 0 {
		b.Skip("no images")
	}
	anchor := func(p string) { // readDims before it read the tag
		if _, err := os.Stat(p); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Stat(); err != nil {
			b.Fatal(err)
		}
		if _, _, err := image.DecodeConfig(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	var ours, base time.Duration
	for b.Loop() {
		t0 := time.Now()
		for _, p := range paths {
			if d := readDims(p); d.err != nil {
				b.Fatal(d.err)
			}
		}
		t1 := time.Now()
		for _, p := range paths {
			anchor(p)
		}
		ours, base = ours+t1.Sub(t0), base+time.Since(t1)
	}
	n := float64(b.N * len(paths))
	b.ReportMetric(float64(ours.Nanoseconds())/n, "ns/image")
	b.ReportMetric(float64(base.Nanoseconds())/n, "anchor-ns/image")
	b.ReportMetric(float64(ours)/float64(base), "x_decodeconfig")
}
