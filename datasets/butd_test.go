package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTSVReader(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	rec := BUTDRecord{ImageID: 7, Width: 10, Height: 20, NumBoxes: 1, Boxes: []float32{1, 2, 3, 4}, Features: []float32{0.5, -1}}
	EncodeBUTD(&b, rec)
	b.WriteString("\n") // blank lines are skipped
	EncodeBUTD(&b, rec)
	r := NewTSVReader(strings.NewReader(b.String()), "x.tsv", 1, 0)
	for i := 0; i < 2; i++ {
		got, err := r.Next()
		if err != nil || got.ImageID != 7 || got.Dim != 2 || got.Features[1] != -1 || got.Boxes[3] != 4 {
			t.Fatalf("record %d: %+v %v", i, got, err)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestTSVReaderErrors(t *testing.T) {
	t.Parallel()
	var good strings.Builder
	EncodeBUTD(&good, BUTDRecord{ImageID: 1, Width: 1, Height: 1, NumBoxes: 1, Boxes: []float32{0, 0, 1, 1}, Features: []float32{1}})
	for _, tc := range []struct{ line, want string }{
		{"1\t2\t3\n", "want 6 tab-separated fields"},
		{"x\t1\t1\t1\tAAAA\tAAAA\n", "image_id"},
		{"1\t1\t1\t-1\tAAAA\tAAAA\n", "num_boxes"},
		{"1\t1\t1\t1\t!!!!\tAAAA\n", "bad base64"},
		{"1\t1\t1\t2\tAAAAAAAAAAAAAAAAAAAAAA==\tAAAAAA==\n", "boxes hold 4 floats"},
		{"1\t1\t1\t1\tAAAAAAAAAAAAAAAAAAAAAA==\tAAA=\n", "not a whole number"},
		// 4 x num_boxes wraps around to 0 in an int: empty boxes matched it.
		{"1\t1\t1\t4611686018427387904\t\t\n", "boxes hold 0 floats"},
		{"1\t1\t1\t9223372036854775807\t\t\n", "boxes hold 0 floats"},
	} {
		r := NewTSVReader(strings.NewReader(good.String()+tc.line), "f.tsv", 1, 0)
		r.Next()
		_, err := r.Next()
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Line != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want f.tsv:2 %q", tc.line, err, tc.want)
		}
	}
}

// TestIndexTSVCancelled: indexing stops with the context's error.
func TestIndexTSVCancelled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.tsv")
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "%d\t10\t10\t0\t\t\n", i)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := IndexTSV(ctx, []string{p}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if idx, _, err := IndexTSV(t.Context(), []string{p}); err != nil || len(idx) != 3000 {
		t.Fatalf("uncancelled: %d ids, %v; want 3000", len(idx), err)
	}
}
