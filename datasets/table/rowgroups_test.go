package table_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"coderflow/datasets/table"
)

// featureRows makes n rows of varying width with seeded random values.
func featureRows(n int) []table.FeatureRow {
	r := rand.New(rand.NewPCG(1, 2))
	rows := make([]table.FeatureRow, n)
	for i := range rows {
		regions := 1 + r.IntN(36)
		f := make([]float32, regions*40)
		for j := range f {
			f[j] = r.Float32()
		}
		b := make([]float32, regions*4)
		for j := range b {
			b[j] = float32(j%4) / 4
		}
		rows[i] = table.FeatureRow{ImageID: int64(i), NRegions: int32(regions), Dim: 40, Boxes: b, Feats: f}
	}
	return rows
}

// TestGroupWriterSameFile checks that writing with row groups compressed on
// 1, 2 or 4 goroutines gives the very file of the streaming writer, whether
// rows come in one call or in uneven pieces, and that the rows read back.
func TestGroupWriterSameFile(t *testing.T) {
	rows := featureRows(1000)
	dir := t.TempDir()
	write := func(name string, workers int, pieces []int) []byte {
		t.Helper()
		p := filepath.Join(dir, name)
		w, err := table.Create[table.FeatureRow](p, nil, table.Features, table.Options{RowGroupRows: 96, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		rest := rows
		for _, n := range pieces {
			if err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Write(rest); err != nil {
			t.Fatal(err)
		}
		if w.Rows() != int64(len(rows)) {
			t.Fatalf("%s: Rows() = %d", name, w.Rows())
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := write("stream.parquet", 0, nil)
	for _, c := range []struct {
		name    string
		workers int
		pieces  []int
	}{
		{"w1.parquet", 1, nil},
		{"w2.parquet", 2, nil},
		{"w4-pieces.parquet", 4, []int{1, 95, 0, 300, 7}},
	} {
		if got := write(c.name, c.workers, c.pieces); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from the streaming writer's %d", c.name, len(got), len(want))
		}
	}
	back, err := table.ReadAll[table.FeatureRow](t.Context(), filepath.Join(dir, "w2.parquet"))
	if err != nil || len(back) != len(rows) {
		t.Fatalf("read back: %v, %d rows", err, len(back))
	}
	for i := range rows {
		if back[i].ImageID != rows[i].ImageID || len(back[i].Feats) != len(rows[i].Feats) || back[i].Feats[len(rows[i].Feats)-1] != rows[i].Feats[len(rows[i].Feats)-1] {
			t.Fatalf("row %d differs", i)
		}
	}
	f := openFile(t, filepath.Join(dir, "w2.parquet"))
	if n := len(f.RowGroups()); n != 11 { // ceil(1000/96)
		t.Errorf("%d row groups, want 11", n)
	}
}

// TestNoBounds checks that the named columns lose their min/max statistics
// and the others keep them.
func TestNoBounds(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.parquet")
	if err := table.WriteFile(p, nil, table.Features, table.Options{Workers: 2, NoBounds: []string{"feats"}}, featureRows(50)); err != nil {
		t.Fatal(err)
	}
	f := openFile(t, p)
	for _, cc := range f.Metadata().RowGroups[0].Columns {
		path := cc.MetaData.PathInSchema
		has := cc.MetaData.Statistics.MaxValue != nil
		if want := path[0] != "feats"; has != want {
			t.Errorf("%v: min/max present = %v, want %v", path, has, want)
		}
	}
}

// TestGroupWriterAbort checks that an aborted parallel write leaves no file
// and no temporary behind.
func TestGroupWriterAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.parquet")
	w, err := table.Create[table.FeatureRow](p, nil, table.Features, table.Options{RowGroupRows: 10, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(featureRows(95)); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file after Abort: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func openFile(t *testing.T, p string) *parquet.File {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, _ := fh.Stat()
	f, err := parquet.OpenFile(fh, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOnRelease checks that every written row is handed back exactly once,
// by the streaming and by the parallel writer.
func TestOnRelease(t *testing.T) {
	rows := featureRows(300)
	for _, workers := range []int{0, 1, 3} {
		var mu sync.Mutex
		seen := map[int64]int{}
		w, err := table.Create[table.FeatureRow](filepath.Join(t.TempDir(), "f.parquet"), nil, table.Features,
			table.Options{RowGroupRows: 64, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		w.OnRelease(func(rs []table.FeatureRow) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range rs {
				seen[r.ImageID]++
			}
		})
		for i := 0; i < len(rows); i += 50 {
			if err := w.Write(rows[i:min(i+50, len(rows))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(rows) {
			t.Fatalf("workers %d: %d of %d rows released", workers, len(seen), len(rows))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("workers %d: row %d released %d times", workers, id, n)
			}
		}
	}
}

// TestExpectedRowsBalancesRowGroups checks the row-group sizes WriteFile
// picks: RowGroupRows, the last two sharing a remainder.
func TestExpectedRowsBalancesRowGroups(t *testing.T) {
	for _, c := range []struct {
		rows, max int
		want      []int64
	}{
		{300, 256, []int64{150, 150}},
		{875, 256, []int64{256, 256, 182, 181}},
		{512, 256, []int64{256, 256}},
		{100, 256, []int64{100}},
		{257, 256, []int64{129, 128}},
	} {
		var files [][]byte
		for _, workers := range []int{0, 2} {
			p := filepath.Join(t.TempDir(), "f.parquet")
			if err := table.WriteFile(p, nil, table.Features, table.Options{RowGroupRows: int64(c.max), Workers: workers}, featureRows(c.rows)); err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, rg := range openFile(t, p).RowGroups() {
				got = append(got, rg.NumRows())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("workers %d: %d rows, at most %d per group: row groups %v, want %v", workers, c.rows, c.max, got, c.want)
			}
			b, _ := os.ReadFile(p)
			files = append(files, b)
		}
		if !bytes.Equal(files[0], files[1]) {
			t.Errorf("%d rows: the streaming and the parallel writer made different files", c.rows)
		}
	}
}

// TestReuseSameFile writes a series of files through one Reuse, changing
// rows, worker count, options and row type between them, and checks that
// every file is the one written without reuse, that encoders and buffers
// are kept between files (at most one writer's worth), and that an aborted
// write leaves the Reuse usable.
func TestReuseSameFile(t *testing.T) {
	dir := t.TempDir()
	codec := &zstd.Codec{Level: zstd.SpeedFastest} // one codec value for all files, as a stage does
	var reuse table.Reuse
	write := func(name string, opt table.Options, rows any) []byte {
		t.Helper()
		p := filepath.Join(dir, name)
		var err error
		switch rows := rows.(type) {
		case []table.FeatureRow:
			err = table.WriteFile(p, nil, table.Features, opt, rows)
		case []table.TokenRow:
			err = table.WriteFile(p, nil, table.Tokens, opt, rows)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tokens := make([]table.TokenRow, 700)
	for i := range tokens {
		tokens[i] = table.TokenRow{CaptionID: int64(i), ImageID: int64(i / 5), Split: "train", IDs: []int32{int32(i), 4, 5}, Length: 3}
	}
	base := table.Options{Codec: codec, RowGroupRows: 64, Workers: 2}
	noBounds := base
	noBounds.NoBounds = []string{"feats"}
	three := base
	three.Workers = 3
	byName := table.Options{Compression: "zstd", RowGroupRows: 64, Workers: 2}
	steps := []struct {
		name string
		opt  table.Options
		rows any
	}{
		{"a", base, featureRows(300)},
		{"b-other-rows", base, featureRows(170)},
		{"c-three-workers", three, featureRows(300)},
		{"d-other-options", noBounds, featureRows(300)},
		{"e-other-type", base, tokens},
		{"f-again", base, featureRows(300)},
		{"g-by-name", byName, featureRows(200)},
		{"h-by-name-again", byName, featureRows(300)},
	}
	// steps whose encoders must come from the file before: same row type,
	// options and codec value (a compression name is one shared codec);
	// not b, because the aborted write after a took a's encoders and
	// dropped them
	reused := map[string]bool{"c-three-workers": true, "h-by-name-again": true}
	for i, s := range steps {
		want := write(s.name+"-plain.parquet", s.opt, s.rows)
		opt := s.opt
		opt.Reuse = &reuse
		before := reuse.Taken()
		if got := write(s.name+"-reuse.parquet", opt, s.rows); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes with Reuse differ from the %d without", s.name, len(got), len(want))
		}
		if took := reuse.Taken() > before; took != reused[s.name] {
			t.Errorf("%s: encoders taken from the Reuse = %v, want %v", s.name, took, reused[s.name])
		}
		encs, bufs := reuse.Idle()
		if encs < 1 || encs > opt.Workers || bufs < 1 || bufs > opt.Workers+1 {
			t.Errorf("%s: Reuse holds %d encoders and %d buffers after the write, want 1..%d and 1..%d", s.name, encs, bufs, opt.Workers, opt.Workers+1)
		}
		if i == 0 {
			// an aborted write gives nothing back and breaks nothing
			w, err := table.Create[table.FeatureRow](filepath.Join(dir, "aborted.parquet"), nil, table.Features, opt)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(featureRows(200)); err != nil {
				t.Fatal(err)
			}
			w.Abort()
		}
	}
}
