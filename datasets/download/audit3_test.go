package download

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestFetchCutsWithProgress: a link (or a proxy that ends connections
// after so many bytes) that cuts every response part way through, while
// each resumed response makes progress, must not exhaust the retries: a
// multi-GB file over such a link took more cuts than Options.Retries and
// failed although every attempt moved it forward. Only attempts that add
// no byte to the part count against the budget.
func TestFetchCutsWithProgress(t *testing.T) {
	t.Parallel()
	data := blob(100_000)
	const chunk = 10_000 // bytes each response gets through before the cut
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		var start int
		if rg := r.Header.Get("Range"); rg != "" {
			if _, err := fmt.Sscanf(rg, "bytes=%d-", &start); err != nil {
				http.Error(w, "bad range", 400)
				return
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
			w.Header().Set("Content-Length", strconv.Itoa(len(data)-start))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		}
		end := min(start+chunk, len(data))
		w.Write(data[start:end])
		if end == len(data) {
			return
		}
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "blob")
	opt := fast // 4 attempts; the file needs 10 responses
	res, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest, SHA256: sum(data)}, opt)
	if err != nil {
		t.Fatalf("after %d requests: %v", n.Load(), err)
	}
	if !res.Resumed || n.Load() != 10 {
		t.Fatalf("Resumed %v after %d requests, want true after 10", res.Resumed, n.Load())
	}

	// A server that cuts at the same byte every time and ignores Range
	// makes no progress: the attempts still run out.
	var m atomic.Int32
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:chunk])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer stuck.Close()
	// The first response is progress (from nothing to chunk bytes) and
	// starts the budget; the ones after it add nothing.
	if _, err := Fetch(t.Context(), Request{URLs: []string{stuck.URL}, Dest: filepath.Join(t.TempDir(), "b")}, opt); err == nil || m.Load() != int32(opt.Retries) {
		t.Fatalf("stuck server: err %v after %d requests, want an error after %d", err, m.Load(), opt.Retries)
	}
}

// TestFetchTrickleRunsOut: a server that honours Range but sends only a
// few bytes per connection before cutting makes a little progress on
// every attempt; less than minProgress per attempt does not renew the
// budget, so the attempts still run out (instead of one connection per
// few bytes for as long as the file lasts).
func TestFetchTrickleRunsOut(t *testing.T) {
	t.Parallel()
	data := blob(100_000)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		var start int
		if rg := r.Header.Get("Range"); rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &start)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
			w.Header().Set("Content-Length", strconv.Itoa(len(data)-start))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		}
		w.Write(data[start:min(start+100, len(data))])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	opt := fast
	_, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: filepath.Join(t.TempDir(), "b")}, opt)
	if err == nil || n.Load() != int32(opt.Retries) {
		t.Fatalf("trickling server: err %v after %d requests, want an error after %d", err, n.Load(), opt.Retries)
	}
}

// TestFetchCloseDelimitedCut: a response without Content-Length or
// chunking ends when the connection closes, so a cut looks like a clean
// end. With the size known, such a short body was verified, failed as a
// checksum mismatch and the part (gigabytes, perhaps) was deleted; it is a
// cut like any other: the rest is fetched with Range.
func TestFetchCloseDelimitedCut(t *testing.T) {
	t.Parallel()
	data := blob(100_000)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, bw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			fmt.Fprint(bw, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
			bw.Write(data[:40_000])
			bw.Flush()
			return
		}
		serve(w, r, data)
	}))
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "blob")
	res, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest, Size: int64(len(data))}, fast)
	if err != nil {
		t.Fatalf("after %d requests: %v", n.Load(), err)
	}
	if !res.Resumed || res.SHA256 != sum(data) {
		t.Fatalf("Resumed %v sha %s, want the file resumed after the cut", res.Resumed, res.SHA256)
	}
}

// TestFetchWrongLengthFailsFast: a 200 whose Content-Length (or a 206
// whose Content-Range total) is not the expected size is the wrong file:
// it fails at the headers as a mismatch, instead of after the whole body
// (gigabytes, perhaps) has been downloaded. The servers here stall after
// the first bytes, so reading the body ends in an idle timeout.
func TestFetchWrongLengthFailsFast(t *testing.T) {
	t.Parallel()
	data := blob(100_000)
	for _, tc := range []struct {
		name  string
		part  int                         // bytes already in DEST.part
		write func(w http.ResponseWriter) // the answer to a Range request
	}{
		{"200 Content-Length", 0, nil},
		{"206 Content-Range total", 1000, func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 1000-%d/%d", len(data)-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Range") == "" {
					w.Header().Set("Content-Length", strconv.Itoa(len(data)))
				} else {
					tc.write(w)
				}
				w.Write(data[:1000])
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}))
			defer srv.Close()
			dest := filepath.Join(t.TempDir(), "blob")
			if tc.part > 0 {
				if err := os.WriteFile(dest+".part", data[:tc.part], 0o644); err != nil {
					t.Fatal(err)
				}
			}
			opt := fast
			opt.Retries = 1
			opt.IdleTimeout = 50 * time.Millisecond
			_, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest, Size: 2 * int64(len(data))}, opt)
			if !errors.Is(err, ErrChecksum) || errors.Is(err, ErrIdle) {
				t.Fatalf("err = %v, want ErrChecksum from the headers", err)
			}
			if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
				t.Fatal(".part left behind")
			}
		})
	}
}

// TestFetchDiskFullStops: a write to the partial file that fails (a full
// disk, simulated with /dev/full) is no mirror's fault: the next mirror
// would fail the same way, after a request (and after hashing a partial
// file of gigabytes again). Fetch stops at the first such failure, naming
// it, and keeps the partial file for a rerun once there is room.
func TestFetchDiskFullStops(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	data := blob(10_000)
	var other atomic.Int32
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serve(w, r, data) }))
	defer first.Close()
	second := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.Add(1)
		serve(w, r, data)
	}))
	defer second.Close()
	dest := filepath.Join(t.TempDir(), "blob")
	if err := os.Symlink("/dev/full", dest+".part"); err != nil {
		t.Skip(err)
	}
	_, err := Fetch(t.Context(), Request{URLs: []string{first.URL, second.URL}, Dest: dest}, fast)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
	if other.Load() != 0 {
		t.Fatalf("the second mirror got %d requests after the disk was full", other.Load())
	}
}

// TestFetchRangeFromElsewhere: a server or cache that answers "bytes=N-"
// with a 206 starting at another byte (often the whole file as "bytes
// 0-…") failed the mirror and kept the partial file, so every rerun
// resumed it and failed the same way until someone found and deleted the
// .part by hand. The part is now emptied and the file fetched from the
// start without Range.
func TestFetchRangeFromElsewhere(t *testing.T) {
	t.Parallel()
	data := blob(100_000)
	for _, start := range []int{0, 1000} {
		t.Run(strconv.Itoa(start), func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case n.Add(1) == 1:
					w.Header().Set("Content-Length", strconv.Itoa(len(data)))
					w.Write(data[:40_000])
					w.(http.Flusher).Flush()
					panic(http.ErrAbortHandler)
				case r.Header.Get("Range") != "":
					w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
					w.Header().Set("Content-Length", strconv.Itoa(len(data)-start))
					w.WriteHeader(http.StatusPartialContent)
					w.Write(data[start:])
				default:
					serve(w, r, data)
				}
			}))
			defer srv.Close()
			dest := filepath.Join(t.TempDir(), "blob")
			res, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest}, fast)
			if err != nil {
				t.Fatalf("after %d requests: %v", n.Load(), err)
			}
			if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) || res.Resumed {
				t.Fatalf("%d bytes, resumed %v; want the whole file, fetched from the start", len(got), res.Resumed)
			}
		})
	}
}

// TestFetchErrorsRedactQuery: a signed URL's query (an S3, GCS or Azure
// signature, a token) is a credential: the contract drops it from logged
// and recorded URLs, but the HTTP client's errors quote the whole URL
// ("Get \"https://…?token=…\": connection refused"), and those went into
// the retry log and the returned error.
func TestFetchErrorsRedactQuery(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	u := strings.Replace(srv.URL, "http://", "http://user:PASSWORD@", 1) + "/x?token=SECRET"
	srv.Close() // connection refused
	var logs bytes.Buffer
	opt := fast
	opt.Log = slog.New(slog.NewTextHandler(&logs, nil))
	_, err := Fetch(t.Context(), Request{URLs: []string{u}, Dest: filepath.Join(t.TempDir(), "x")}, opt)
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	for what, s := range map[string]string{"error": err.Error(), "log": logs.String()} {
		if strings.Contains(s, "SECRET") || strings.Contains(s, "PASSWORD") || strings.Contains(s, "user") {
			t.Errorf("the %s holds the URL's credentials: %s", what, s)
		}
	}
}
