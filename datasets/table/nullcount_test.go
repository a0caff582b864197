package table_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"coderflow/datasets/table"
)

// statsWithoutNullCount is format.Statistics with null_count optional, as
// a writer that leaves it out writes it.
type statsWithoutNullCount struct {
	Max           []byte `thrift:"1"`
	Min           []byte `thrift:"2"`
	NullCount     *int64 `thrift:"3"`
	DistinctCount int64  `thrift:"4"`
	MaxValue      []byte `thrift:"5"`
	MinValue      []byte `thrift:"6"`
}

// dropNullCounts rewrites the footer of the Parquet file at path without
// the null_count of any column chunk's statistics (min and max stay): a
// writer may leave it out, the field is optional in parquet.thrift.
func dropNullCounts(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := len(b)
	size := int(binary.LittleEndian.Uint32(b[n-8 : n-4]))
	footer := slices.Clone(b[n-8-size : n-8])
	var md format.FileMetaData
	proto := &thrift.CompactProtocol{}
	if err := thrift.Unmarshal(proto, footer, &md); err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, rg := range md.RowGroups {
		for _, c := range rg.Columns {
			st := c.MetaData.Statistics
			with, err := thrift.Marshal(proto, &st)
			if err != nil {
				t.Fatal(err)
			}
			without, err := thrift.Marshal(proto, &statsWithoutNullCount{Max: st.Max, Min: st.Min, DistinctCount: st.DistinctCount, MaxValue: st.MaxValue, MinValue: st.MinValue})
			if err != nil {
				t.Fatal(err)
			}
			if k := bytes.Count(footer, with); k > 0 {
				footer = bytes.ReplaceAll(footer, with, without)
				dropped += k
			}
		}
	}
	if dropped == 0 {
		t.Fatal("no column chunk statistics found in the footer")
	}
	var check format.FileMetaData
	if err := thrift.Unmarshal(proto, footer, &check); err != nil {
		t.Fatalf("rewritten footer: %v", err)
	}
	out := append(slices.Clone(b[:n-8-size]), footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	out = append(out, "PAR1"...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScanNullCountAbsent reads files whose column chunk statistics have
// min and max but no null_count: parquet-go reads the absent count as 0,
// which must not let a NULL through as a zero value.
func TestScanNullCountAbsent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		null    func(*optCaption)
		wantErr string
	}{
		{"no NULL", func(*optCaption) {}, ""},
		{"NULL text", func(r *optCaption) { r.Text = nil }, `column "text"`},
		{"NULL ordinal", func(r *optCaption) { r.Ordinal = nil }, `column "ordinal"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := optCaptions(12)
			tc.null(&rows[7])
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".parquet")
			if err := parquet.WriteFile(p, rows, parquet.MaxRowsPerRowGroup(5)); err != nil {
				t.Fatal(err)
			}
			counts := func(want bool) {
				t.Helper()
				c := table.NullCountsIn(openFile(t, p))
				if len(c) != 3 {
					t.Fatalf("null counts %v; want 3 row groups", c)
				}
				for g := range c {
					if len(c[g]) != 5 || slices.Contains(c[g], !want) {
						t.Fatalf("row group %d: null_count present %v, want 5 times %t", g, c[g], want)
					}
				}
			}
			counts(true) // parquet-go writes them: those chunks are not scanned
			dropNullCounts(t, p)
			counts(false)
			// The statistics still hold min and max, and read as a null_count of 0.
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			pf, err := parquet.OpenFile(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			for _, rg := range pf.Metadata().RowGroups {
				for _, c := range rg.Columns {
					if s := c.MetaData.Statistics; s.NullCount != 0 || len(s.MinValue) == 0 {
						t.Fatalf("rewritten statistics %+v: want min/max and a null_count read as 0", s)
					}
				}
			}
			got, err := table.ReadAll[table.CaptionRow](t.Context(), p)
			if tc.wantErr == "" {
				if err != nil || !slices.Equal(got, captionRows(12)) {
					t.Fatalf("read %v, %v; want %v", got, err, captionRows(12))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "row 7") {
				t.Fatalf("read %d rows, error %v; want an error naming %s, %s and row 7", len(got), err, p, tc.wantErr)
			}
		})
	}
}
