package kg

import (
	"path/filepath"
	"testing"
)

func BenchmarkBulkOnly(b *testing.B) {
	path := syntheticFile(b)
	for i := 0; i < b.N; i++ {
		st, d := loadFile(b, path, filepath.Join(b.TempDir(), "bulk"), LoaderBulk)
		b.ReportMetric(float64(st.Edges)/d.Seconds(), "edges/s")
	}
}
