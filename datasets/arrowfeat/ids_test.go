package arrowfeat_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
)

// TestImageIDs reads the ids of shards with several row groups (and more
// rows than one decoded batch of ids) in file and row order, and agrees
// with the full reader.
func TestImageIDs(t *testing.T) {
	files := writeShards(t, t.TempDir(), []int{5000, 0, 7, 3000}, 2, 3, 1024)
	var got []int64
	if err := arrowfeat.ImageIDs(t.Context(), files, func(id int64) error {
		got = append(got, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r, err := arrowfeat.NewReader(memory.NewGoAllocator(), files, arrowfeat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var want []int64
	for {
		rec, err := r.Next(t.Context())
		if err != nil {
			break
		}
		want = append(want, rec.Column(0).(interface{ Int64Values() []int64 }).Int64Values()...)
		rec.Release()
	}
	if len(got) != 8007 || len(got) != len(want) {
		t.Fatalf("%d ids, the reader has %d rows, want 8007", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] || got[i] != int64(i) {
			t.Fatalf("id %d is %d, the reader's %d", i, got[i], want[i])
		}
	}
}

// TestImageIDsErrors: bad files are errors naming the file, fn's error and
// a cancelled context stop the read, and damaged bytes never panic.
func TestImageIDsErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeShards(t, dir, []int{20}, 3, 4, 7)[0]
	garbage, captions := badFiles(t, dir)
	nop := func(int64) error { return nil }
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{[]string{filepath.Join(dir, "missing.parquet")}, "missing.parquet"},
		{[]string{good, garbage}, "garbage.parquet"},
		{[]string{captions}, "captions.parquet"},
	} {
		if err := arrowfeat.ImageIDs(t.Context(), tc.files, nop); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to name %s", tc.files, err, tc.want)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := arrowfeat.ImageIDs(t.Context(), []string{good}, func(int64) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: got %v after %d ids, want it after 1", err, n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := arrowfeat.ImageIDs(ctx, []string{good}, nop); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}

	// Every byte of the file damaged in turn: an error naming the file or
	// a read that ends (a damaged feats page is not read at all).
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "damaged.parquet")
	failed := 0
	for off := range b {
		c := append([]byte(nil), b...)
		c[off] ^= 0x55
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := arrowfeat.ImageIDs(t.Context(), []string{p}, nop); err != nil {
			failed++
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("byte %d: error does not name the file: %v", off, err)
			}
		}
	}
	if failed == 0 {
		t.Fatal("no damaged file was reported")
	}
}
