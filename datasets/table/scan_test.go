package table_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
)

func captionRows(n int) []table.CaptionRow {
	rows := make([]table.CaptionRow, n)
	for i := range rows {
		rows[i] = table.CaptionRow{CaptionID: int64(i), ImageID: int64(i / 5), Split: "train", Ordinal: int32(i % 5), Text: "a dog runs"}
	}
	return rows
}

// TestScanWrongSchema reads files with another table's rows: an error naming
// the file and the missing column, never zero values (parquet-go fills the
// columns a file lacks with zeros).
func TestScanWrongSchema(t *testing.T) {
	dir := t.TempDir()
	caps := filepath.Join(dir, "captions.parquet")
	if err := table.WriteFile(caps, nil, table.Captions, table.Options{}, captionRows(10)); err != nil {
		t.Fatal(err)
	}
	type narrow struct { // a subset of the captions columns is fine
		CaptionID int64  `parquet:"caption_id"`
		Text      string `parquet:"text"`
	}
	type retyped struct {
		CaptionID string `parquet:"caption_id"`
	}
	check := func(name string, err error, n int, want string) {
		t.Helper()
		if want == "" {
			if err != nil || n != 10 {
				t.Errorf("%s: %d rows, %v", name, n, err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), caps) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %d rows, error %v; want an error naming the file and %q", name, n, err, want)
		}
	}
	im, err := table.ReadAll[table.ImageRow](t.Context(), caps)
	check("images", err, len(im), `no column "key"`)
	fr, err := table.ReadAll[table.FeatureRow](t.Context(), caps)
	check("features", err, len(fr), `no column "n_regions"`)
	rt, err := table.ReadAll[retyped](t.Context(), caps)
	check("retyped", err, len(rt), `column "caption_id" is INT64`)
	nr, err := table.ReadAll[narrow](t.Context(), caps)
	check("narrow", err, len(nr), "")
}

// TestScanCorruptFiles damages a file byte by byte: every read either
// succeeds or returns an error naming the file; parquet-go's panics on
// damaged pages are not let through.
func TestScanCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	if err := table.WriteFile(good, nil, table.Captions, table.Options{}, captionRows(40)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "damaged.parquet")
	try := func(what string, data []byte) {
		t.Helper()
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: panic: %v", what, r)
			}
		}()
		if _, err := table.ReadAll[table.CaptionRow](t.Context(), p); err != nil && !strings.Contains(err.Error(), p) {
			t.Fatalf("%s: error does not name the file: %v", what, err)
		}
		if _, err := table.ReadMeta(p); err != nil && !strings.Contains(err.Error(), p) {
			t.Fatalf("%s: ReadMeta error does not name the file: %v", what, err)
		}
	}
	for _, n := range []int{0, 3, 8, len(b) / 2, len(b) - 1} {
		try("truncated", b[:n])
	}
	for off := 4; off < len(b)-8; off++ {
		c := append([]byte(nil), b...)
		c[off] ^= 0x55
		try(fmt.Sprintf("byte %d", off), c)
	}
}
