package download

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFetchUnaskedPartialContent: a server (or proxy) that answers a
// request without Range with a 206 of part of the file was taken to have
// sent the whole file: without a known size or digest, the first part
// became DEST and Fetch succeeded. The 206's Content-Range is now read
// whatever was asked: a short one is continued with Range requests, one
// that does not start at byte 0 is an error.
func TestFetchUnaskedPartialContent(t *testing.T) {
	t.Parallel()
	data := blob(1000)
	for _, tc := range []struct {
		name string
		// first answer to a request without Range
		first func(w http.ResponseWriter)
		ok    bool
	}{
		{"first half", func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-499/%d", len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:500])
		}, true},
		{"whole file", func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-999/%d", len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data)
		}, true},
		{"not from the start", func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 500-999/%d", len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[500:])
		}, false},
		{"no Content-Range", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:500])
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Range") == "" {
					tc.first(w)
					return
				}
				serve(w, r, data)
			}))
			defer srv.Close()
			dest := filepath.Join(t.TempDir(), "f.bin")
			_, err := Fetch(t.Context(), Request{URLs: []string{srv.URL + "/f.bin"}, Dest: dest}, fast)
			got, _ := os.ReadFile(dest)
			if tc.ok {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%d bytes, %v; want the %d-byte file", len(got), err, len(data))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "Content-Range") {
				t.Fatalf("%d bytes in DEST, err %v; want a Content-Range error", len(got), err)
			}
			if _, serr := os.Stat(dest); serr == nil {
				t.Fatalf("DEST exists after the error")
			}
		})
	}
}

// TestFetchEndlessBody: a server that sends more than the known size (a
// wrong file, an endless stream) was read to its end, however long: the
// disk filled, or the download never ended (bytes keep coming, so the idle
// timeout never fires). It is stopped one buffer past the size, as a
// checksum failure, and nothing is left behind.
func TestFetchEndlessBody(t *testing.T) {
	t.Parallel()
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	// The deadline only keeps the old behaviour from hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dest := filepath.Join(t.TempDir(), "f.bin")
	_, err := Fetch(ctx, Request{URLs: []string{srv.URL + "/f.bin"}, Dest: dest, Size: 1000}, fast)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v; want a checksum error (more than the 1000 bytes expected)", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(dest))
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

// TestFetchLocalEndless: a file:// source that never ends (a device such
// as /dev/zero, a FIFO) was copied until the disk filled or ctx ended,
// even with the size known. It stops one buffer past the size.
func TestFetchLocalEndless(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dest := filepath.Join(t.TempDir(), "f.bin")
	_, err := Fetch(ctx, Request{URLs: []string{"file:///dev/zero"}, Dest: dest, Size: 1000}, fast)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v; want a checksum error (more than the 1000 bytes expected)", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}
