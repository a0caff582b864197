package table_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"coderflow/datasets/table"
)

// BenchmarkScan reads a large table with table.Scan (schema, footer and
// page-header checks, then parquet-go's reader) and, as the anchor, with
// parquet-go's GenericReader alone, and reports scan/raw, the ratio of
// their times: the checks read the footer and page headers only, so the
// ratio should be about 1. features: 400 rows of 36x2048 float32 (118 MB
// of values, a feature shard); captions: 500,000 short rows in many small
// pages.
func BenchmarkScan(b *testing.B) {
	b.Run("features", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		rows := make([]table.FeatureRow, 400)
		for i := range rows {
			feats := make([]float32, 36*2048)
			for k := range feats {
				feats[k] = float32(int(rng.ExpFloat64()*64)) / 64
			}
			rows[i] = table.FeatureRow{ImageID: int64(i), NRegions: 36, Dim: 2048, Boxes: make([]float32, 36*4), Feats: feats}
		}
		benchScan(b, rows, 64, table.Options{RowGroupRows: 64, Workers: 2})
	})
	b.Run("captions", func(b *testing.B) {
		benchScan(b, captionRows(500000), 4096, table.Options{})
	})
}

func benchScan[T any](b *testing.B, rows []T, batch int, opt table.Options) {
	p := filepath.Join(b.TempDir(), "bench.parquet")
	if err := table.WriteFile(p, nil, "bench", opt, rows); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	raw := func() int {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		r := parquet.NewGenericReader[T](f)
		defer r.Close()
		buf, n := make([]T, batch), 0
		for {
			k, err := r.Read(buf)
			n += k
			if errors.Is(err, io.EOF) {
				return n
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	scan := func() int {
		n := 0
		if err := table.Scan(b.Context(), []string{p}, batch, func(r []T) error { n += len(r); return nil }); err != nil {
			b.Fatal(err)
		}
		return n
	}
	raw() // warm the page cache
	b.SetBytes(st.Size())
	b.ResetTimer()
	var tScan, tRaw time.Duration
	for range b.N {
		t0 := time.Now()
		if n := scan(); n != len(rows) {
			b.Fatalf("Scan read %d rows, want %d", n, len(rows))
		}
		t1 := time.Now()
		if n := raw(); n != len(rows) {
			b.Fatalf("parquet-go read %d rows, want %d", n, len(rows))
		}
		tScan, tRaw = tScan+t1.Sub(t0), tRaw+time.Since(t1)
	}
	b.ReportMetric(float64(tScan.Milliseconds())/float64(b.N), "scan-ms/op")
	b.ReportMetric(float64(tRaw.Milliseconds())/float64(b.N), "raw-ms/op")
	b.ReportMetric(tScan.Seconds()/tRaw.Seconds(), "scan/raw")
}
