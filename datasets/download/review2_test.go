package download

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFetchIgnoredIfRange: a server that honours Range but ignores If-Range
// answers the resumed request with a 206 of the file as it is now. When its
// ETag or Last-Modified differs from the one that started the part, those
// bytes belong to another version: spliced onto the old ones they would
// make neither (and without a digest nothing else would notice). The part
// is emptied and the file fetched whole.
func TestFetchIgnoredIfRange(t *testing.T) {
	t.Parallel()
	v1, v2 := blob(100_000), bytes.Repeat([]byte("new version "), 9_000)[:100_000]
	t1, t2 := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		etag1      string // ETag of the first response ("" = none)
		etag2      string // ETag of the later ones
		lm1, lm2   time.Time
		want       []byte
		wantResume bool
	}{
		{"etag changed", `"v1"`, `"v2"`, t1, t1, v2, false},
		{"last-modified changed", "", "", t1, t2, v2, false},
		{"etag unchanged", `"v1"`, `"v1"`, t1, t2, v1, true},
		{"weak form of the same etag", `"v1"`, `W/"v1"`, t1, t1, v1, true},
		{"last-modified unchanged", "", "", t1, t1, v1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var req atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if req.Add(1) == 1 {
					if tc.etag1 != "" {
						w.Header().Set("ETag", tc.etag1)
					}
					w.Header().Set("Last-Modified", tc.lm1.Format(http.TimeFormat))
					w.Header().Set("Content-Length", strconv.Itoa(len(v1)))
					w.Write(v1[:40_000])
					w.(http.Flusher).Flush()
					panic(http.ErrAbortHandler)
				}
				r.Header.Del("If-Range") // the server ignores it
				if tc.etag2 != "" {
					w.Header().Set("ETag", tc.etag2)
				}
				http.ServeContent(w, r, "blob", tc.lm2, bytes.NewReader(tc.want))
			}))
			defer srv.Close()
			dest := fetchCut(t, srv.URL)
			res, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest}, fast)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dest)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("file is not the server's current version (first 40,000 bytes old: %v)", bytes.Equal(got[:40_000], v1[:40_000]))
			}
			if res.Resumed != tc.wantResume {
				t.Fatalf("Resumed = %v, want %v", res.Resumed, tc.wantResume)
			}
		})
	}
}

// TestFetchRedirectAuth: credentials in the URL go to its host, also after
// a redirect within it, and never to another host a redirect points at
// (a mirror or CDN must not see them).
func TestFetchRedirectAuth(t *testing.T) {
	t.Parallel()
	data := blob(1000)
	var otherAuth, finalAuth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization"))
		serve(w, r, data)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		default:
			finalAuth.Store(r.Header.Get("Authorization"))
			serve(w, r, data)
		}
	}))
	defer srv.Close()
	withAuth := strings.Replace(srv.URL, "http://", "http://user:secret@", 1)
	for _, p := range []string{"/same", "/away"} {
		res, err := Fetch(t.Context(), Request{URLs: []string{withAuth + p}, Dest: filepath.Join(t.TempDir(), "x"), SHA256: sum(data)}, fast)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if strings.Contains(res.URL, "secret") {
			t.Errorf("%s: Result.URL %q holds the password", p, res.URL)
		}
	}
	if a, _ := finalAuth.Load().(string); a == "" {
		t.Error("a redirect within the host dropped the credentials")
	}
	if a, _ := otherAuth.Load().(string); a != "" {
		t.Errorf("another host received Authorization %q", a)
	}
}

// TestFetchContentEncodingGzip: a server that labels a .gz file
// "Content-Encoding: gzip" (a common Apache setting) must not have it
// decompressed on the way: the file on disk is the .gz whose digest the
// catalog gives, with the default client and with a caller's plain one.
func TestFetchContentEncodingGzip(t *testing.T) {
	t.Parallel()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(bytes.Repeat([]byte("uri,rel,start,end,json\n"), 5000))
	zw.Close()
	gz := z.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/csv")
		serve(w, r, gz)
	}))
	defer srv.Close()
	for name, client := range map[string]*http.Client{"default": nil, "plain": {}} {
		opt := fast
		opt.Client = client
		dest := filepath.Join(t.TempDir(), "a.csv.gz")
		if _, err := Fetch(t.Context(), Request{URLs: []string{srv.URL + "/a.csv.gz"}, Dest: dest, SHA256: sum(gz)}, opt); err != nil {
			t.Fatalf("%s client: %v", name, err)
		}
		if got, _ := os.ReadFile(dest); !bytes.Equal(got, gz) {
			t.Fatalf("%s client: %d bytes on disk, want the %d-byte .gz as served", name, len(got), len(gz))
		}
	}
}

// TestFetchResumedAfterRestart: Result.Resumed (recorded in the download
// stage's info) says some bytes came from an earlier attempt; after a
// server that ignores Range sent the whole file again, none did.
func TestFetchResumedAfterRestart(t *testing.T) {
	t.Parallel()
	data := blob(100_000)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:30_000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		w.Write(data) // 200 with the whole body, Range ignored
	}))
	defer srv.Close()
	res, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: filepath.Join(t.TempDir(), "x"), SHA256: sum(data)}, fast)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed || res.Attempts != 2 {
		t.Fatalf("Resumed %v after %d attempts, want false after 2", res.Resumed, res.Attempts)
	}
}

// TestFetchRetryAfter: a 429 or 503 with Retry-After is retried no sooner
// than the server asks (the quick exponential backoff alone spent every
// attempt within a second, then failed), and the wait still ends when the
// context does. With Retry-After an hour away and a context that ends
// first, the one request is all there is.
func TestFetchRetryAfter(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(code)
		}))
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		_, err := Fetch(ctx, Request{URLs: []string{srv.URL}, Dest: filepath.Join(t.TempDir(), "x")}, fast)
		cancel()
		srv.Close()
		if !errors.Is(err, context.DeadlineExceeded) || n.Load() != 1 {
			t.Errorf("%d: err = %v after %d requests; want the context's deadline after 1", code, err, n.Load())
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		code  int
		value string
		want  time.Duration
	}{
		{429, "7", 7 * time.Second},
		{503, "0", 0},
		{503, "-3", 0},
		{429, "99999999999999999", maxRetryAfter},
		{429, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{429, now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{429, now.Add(24 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		{429, "soon", 0},
		{500, "7", 0},
		{429, "", 0},
	} {
		resp := &http.Response{StatusCode: tc.code, Header: http.Header{}}
		if tc.value != "" {
			resp.Header.Set("Retry-After", tc.value)
		}
		if got := retryAfter(resp, now); got != tc.want {
			t.Errorf("%d Retry-After %q: %v, want %v", tc.code, tc.value, got, tc.want)
		}
	}
}

// fetchCut fetches url, whose server cuts the first response's body, once
// without retrying into a fresh blob path, which it returns: the partial
// file is left for the next Fetch to resume.
func fetchCut(t *testing.T, url string) string {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "blob")
	once := fast
	once.Retries = 1
	if _, err := Fetch(t.Context(), Request{URLs: []string{url}, Dest: dest}, once); err == nil {
		t.Fatal("first run: no error from a cut body")
	}
	return dest
}
