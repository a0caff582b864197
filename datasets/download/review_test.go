package download

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestFetch416OtherSize resumes a part from an earlier run that is longer
// than the file the server has now (no size or digest known, no validator
// saved): the server answers 416 with "Content-Range: bytes */SIZE". Only a
// part of exactly SIZE bytes may be taken as complete; this one is fetched
// again, not renamed into place with the wrong bytes.
func TestFetch416OtherSize(t *testing.T) {
	t.Parallel()
	data := blob(1000)
	for _, tc := range []struct {
		name string
		part []byte
		reqs int
	}{
		{"part longer than the file", blob(1500), 2},
		{"part is the whole file", data, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &counter{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, data) }))
			defer srv.Close()
			dest := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(dest+".part", tc.part, 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest}, fast)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(dest); !bytes.Equal(b, data) || res.Size != int64(len(data)) || c.requests != tc.reqs {
				t.Fatalf("dest holds %d bytes (want the server's %d) after %d requests %q (want %d)", len(b), len(data), c.requests, c.ranges, tc.reqs)
			}
		})
	}
}

// cancelOnAdd cancels a context at the first progress it is told of.
type cancelOnAdd struct {
	cancel func()
	n      atomic.Int64
}

func (p *cancelOnAdd) Add(n int64)      { p.n.Add(n); p.cancel() }
func (p *cancelOnAdd) SetTotal(n int64) {}

// TestFetchCancelWhileHashing cancels the context while Fetch hashes what
// is on disk (an existing DEST to verify, a part from an earlier run to
// resume: gigabytes for the COCO zips): hashing stops within a buffer, it
// does not run on to the end of the file first.
func TestFetchCancelWhileHashing(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	data := blob(size)
	for _, name := range []string{"dest", "dest.part"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			p := &cancelOnAdd{cancel: cancel}
			req := Request{URLs: []string{"http://127.0.0.1:1/f"}, Dest: filepath.Join(dir, "dest"), Size: 2 * size, SHA256: sum(data)}
			_, err := Fetch(ctx, req, Options{Progress: p, Retries: 1})
			if !errors.Is(err, context.Canceled) || p.n.Load() >= size {
				t.Fatalf("error %v after hashing %d of %d bytes; want context.Canceled within the first MiB", err, p.n.Load(), size)
			}
		})
	}
}
