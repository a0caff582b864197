package download

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFetchVsCopy downloads 64 MiB from a local httptest server with
// Fetch (resume bookkeeping, SHA-256 verified against the expected sum,
// written to disk) and, in the same iteration, with a plain http.Get +
// io.Copy into a file (the anchor). The order alternates between
// iterations so neither side always runs on a warmer cache. It reports both
// rates and fetch/copy (total times over all iterations).
func BenchmarkFetchVsCopy(b *testing.B) {
	data := blob(64 << 20)
	want := sum(data)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "blob", time.Unix(0, 0), bytes.NewReader(data))
	}))
	defer srv.Close()
	dir := b.TempDir()
	var tCopy, tFetch time.Duration
	plain := func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		f, _ := os.Create(filepath.Join(dir, "copy"))
		if _, err := io.Copy(f, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		f.Close()
	}
	fetch := func() {
		dest := filepath.Join(dir, "fetch")
		os.Remove(dest)
		if _, err := Fetch(b.Context(), Request{URLs: []string{srv.URL}, Dest: dest, SHA256: want}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			t0 := time.Now()
			plain()
			t1 := time.Now()
			fetch()
			tCopy += t1.Sub(t0)
			tFetch += time.Since(t1)
		} else {
			t0 := time.Now()
			fetch()
			t1 := time.Now()
			plain()
			tFetch += t1.Sub(t0)
			tCopy += time.Since(t1)
		}
		i++
	}
	mb := float64(len(data)) * float64(b.N) / 1e6
	b.ReportMetric(mb/tCopy.Seconds(), "copy_MB/s")
	b.ReportMetric(mb/tFetch.Seconds(), "fetch_MB/s")
	b.ReportMetric(tCopy.Seconds()/tFetch.Seconds(), "fetch/copy")
}
