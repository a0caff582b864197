package arrowfeat_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
)

// TestTokensReader: tokens shards written by parquet-go (as the tokenize
// stage writes them) come out of a Tokens reader in file and row order,
// every value as written, through several row groups and small batches;
// an empty ids list stays empty.
func TestTokensReader(t *testing.T) {
	dir := t.TempDir()
	var want []table.TokenRow
	var files []string
	for s, n := range []int{7, 0, 12} {
		rows := make([]table.TokenRow, n)
		for i := range rows {
			id := int64(len(want))
			ids := make([]int32, id%5)
			for k := range ids {
				ids[k] = int32(id*10 + int64(k))
			}
			rows[i] = table.TokenRow{CaptionID: 1000 + id, ImageID: id / 5, Split: []string{"train", "dev", "test"}[id%3],
				IDs: ids, Length: int32(len(ids))}
			want = append(want, rows[i])
		}
		p := filepath.Join(dir, fmt.Sprintf("part-%05d.parquet", s))
		if err := table.WriteFile(p, nil, table.Tokens, table.Options{RowGroupRows: 4}, rows); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	// The Go allocator, not a checked one: arrow-go v15's delta bit-pack
	// decoder (parquet-go writes the split strings' lengths with it) never
	// returns its 64-byte block buffer to the allocator, once per row
	// group; the Go allocator leaves it to the garbage collector.
	r, err := arrowfeat.NewTableReader(memory.NewGoAllocator(), arrowfeat.Tokens, files, arrowfeat.Options{BatchRows: 3, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := fieldNames(r.Schema()); got != strings.Join(arrowfeat.Tokens.Columns(), ",") {
		t.Errorf("schema %s", got)
	}
	var got []table.TokenRow
	for {
		rec, err := r.Next(t.Context())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		v, err := arrowfeat.NewTokensView(rec)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v.Len() {
			got = append(got, table.TokenRow{CaptionID: v.CaptionIDs[i], ImageID: v.ImageIDs[i],
				Split: strings.Clone(v.Split(i)), IDs: slices.Clone(v.IDs(i)), Length: v.Lengths[i]})
		}
		rec.Release()
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.CaptionID != w.CaptionID || g.ImageID != w.ImageID || g.Split != w.Split || g.Length != w.Length ||
			len(g.IDs) != len(w.IDs) || !slices.Equal(g.IDs, w.IDs) {
			t.Fatalf("row %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestLayoutMismatch: a tokens shard is not a features table and a
// features shard is not a tokens table; each reader names the file and the
// table it wanted.
func TestLayoutMismatch(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tokens.parquet")
	if err := table.WriteFile(tok, nil, table.Tokens, table.Options{}, []table.TokenRow{{CaptionID: 1, Split: "train", IDs: []int32{3}, Length: 1}}); err != nil {
		t.Fatal(err)
	}
	feat := writeShards(t, dir, []int{2}, 1, 2, 0)[0]
	for _, tc := range []struct {
		layout arrowfeat.Layout
		file   string
		want   string
	}{
		{arrowfeat.Features, tok, "not a features table"},
		{arrowfeat.Tokens, feat, "not a tokens table"},
	} {
		_, err := arrowfeat.NewTableReader(nil, tc.layout, []string{tc.file}, arrowfeat.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("%s reader on %s: %v, want an error naming the file and %q", tc.layout.Table, filepath.Base(tc.file), err, tc.want)
		}
	}
	// a tokens reader with no files still has the tokens schema
	r, err := arrowfeat.NewTableReader(nil, arrowfeat.Tokens, nil, arrowfeat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("no files: Next = %v, want io.EOF", err)
	}
	if got := fieldNames(r.Schema()); got != strings.Join(arrowfeat.Tokens.Columns(), ",") {
		t.Errorf("no files: schema %s", got)
	}
}
