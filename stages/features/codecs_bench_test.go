package features

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"coderflow/datasets/table"
)

// BenchmarkShardCodecs writes the stage's 875 feature rows with parquet-go at
// several codecs (256-row groups) and logs MB/s of raw bytes and file size.
func BenchmarkShardCodecs(b *testing.B) {
	_, rows := featureRows(b)
	mb := rawBytes(rows) / 1e6
	dir := b.TempDir()
	for _, c := range []struct {
		name  string
		codec compress.Codec
	}{{"zstd3", &zstd.Codec{}}, {"zstd1", &zstd.Codec{Level: zstd.SpeedFastest}}, {"snappy", &snappy.Codec{}}, {"stage-zstd1-1MiB-window", newZstdCodec(zstd.SpeedFastest)}} {
		var sec float64
		var size int64
		for i := 0; i < 3; i++ {
			p := filepath.Join(dir, c.name+".parquet")
			f, _ := os.Create(p)
			t0 := time.Now()
			w := parquet.NewGenericWriter[table.FeatureRow](f, parquet.Compression(c.codec), parquet.MaxRowsPerRowGroup(256))
			w.Write(rows)
			w.Close()
			f.Close()
			sec += time.Since(t0).Seconds()
			st, _ := os.Stat(p)
			size = st.Size()
		}
		b.Logf("%s: %.1f MB/s, %.1f%% of raw", c.name, 3*mb/sec, 100*float64(size)/1e6/mb)
	}
}
