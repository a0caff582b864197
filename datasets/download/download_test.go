package download

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func blob(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

var fast = Options{BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, Retries: 4}

// serve serves data with Range support via http.ServeContent.
func serve(w http.ResponseWriter, r *http.Request, data []byte) {
	http.ServeContent(w, r, "blob", time.Unix(0, 0), bytes.NewReader(data))
}

type counter struct {
	mu       sync.Mutex
	requests int
	ranges   []string
}

func (c *counter) see(r *http.Request) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.ranges = append(c.ranges, r.Header.Get("Range"))
	return c.requests
}

func TestFetchServers(t *testing.T) {
	t.Parallel()
	data := blob(300_000)
	good := sum(data)
	type check func(t *testing.T, res Result, err error, c *counter, dest string)
	ok := func(t *testing.T, res Result, err error, c *counter, dest string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(dest)
		if !bytes.Equal(got, data) || res.SHA256 != good || res.Size != int64(len(data)) {
			t.Fatalf("wrong file: %d bytes, sha %s", len(got), res.SHA256)
		}
		if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
			t.Fatalf(".part left behind")
		}
	}
	failsClean := func(target error) check {
		return func(t *testing.T, res Result, err error, c *counter, dest string) {
			t.Helper()
			if !errors.Is(err, target) {
				t.Fatalf("err = %v, want %v", err, target)
			}
			if _, err := os.Stat(dest); !os.IsNotExist(err) {
				t.Fatalf("destination exists after failure")
			}
		}
	}
	cases := []struct {
		name    string
		handler func(c *counter) http.HandlerFunc
		req     func(r *Request)
		opt     func(o *Options)
		check   check
	}{
		{
			name: "cut mid-body resumes",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if c.see(r) == 1 {
						w.Header().Set("Content-Length", "300000")
						w.WriteHeader(200)
						w.Write(data[:120_000])
						w.(http.Flusher).Flush()
						conn, _, _ := w.(http.Hijacker).Hijack()
						conn.Close()
						return
					}
					serve(w, r, data)
				}
			},
			check: func(t *testing.T, res Result, err error, c *counter, dest string) {
				ok(t, res, err, c, dest)
				if c.requests != 2 || c.ranges[1] != "bytes=120000-" || !res.Resumed {
					t.Fatalf("want a second request for bytes=120000-, got %d requests, ranges %q, resumed %v", c.requests, c.ranges, res.Resumed)
				}
			},
		},
		{
			name: "500 then success",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if c.see(r) <= 2 {
						http.Error(w, "boom", 500)
						return
					}
					serve(w, r, data)
				}
			},
			check: func(t *testing.T, res Result, err error, c *counter, dest string) {
				ok(t, res, err, c, dest)
				if c.requests != 3 || res.Attempts != 3 {
					t.Fatalf("requests %d attempts %d, want 3", c.requests, res.Attempts)
				}
			},
		},
		{
			name: "wrong checksum",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, data) }
			},
			req: func(r *Request) { r.SHA256 = strings.Repeat("ab", 32) },
			check: func(t *testing.T, res Result, err error, c *counter, dest string) {
				failsClean(ErrChecksum)(t, res, err, c, dest)
				if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
					t.Fatal(".part left after a checksum mismatch")
				}
			},
		},
		{
			name: "wrong size",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, data) }
			},
			req:   func(r *Request) { r.Size = int64(len(data)) + 1 },
			check: failsClean(ErrChecksum),
		},
		{
			name: "md5 verified",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, data) }
			},
			req: func(r *Request) {
				m := md5.Sum(data)
				r.MD5, r.SHA256, r.Size = hex.EncodeToString(m[:]), good, int64(len(data))
			},
			check: ok,
		},
		{
			name: "md5 mismatch",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, data) }
			},
			req:   func(r *Request) { r.MD5 = strings.Repeat("0", 32) },
			check: failsClean(ErrChecksum),
		},
		{
			name: "stalled body times out",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					c.see(r)
					w.Header().Set("Content-Length", "300000")
					w.WriteHeader(200)
					w.Write(data[:1000])
					w.(http.Flusher).Flush()
					<-r.Context().Done()
				}
			},
			opt:   func(o *Options) { o.IdleTimeout = 50 * time.Millisecond; o.Retries = 2 },
			check: failsClean(ErrIdle),
		},
		{
			name: "stalled headers time out",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					c.see(r)
					<-r.Context().Done()
				}
			},
			opt:   func(o *Options) { o.HeaderTimeout = 50 * time.Millisecond; o.Retries = 2 },
			check: failsClean(ErrHeaderTimeout),
		},
		{
			name: "redirect",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					c.see(r)
					if r.URL.Path != "/real" {
						http.Redirect(w, r, "/real", http.StatusFound)
						return
					}
					serve(w, r, data)
				}
			},
			check: ok,
		},
		{
			name: "range ignored restarts",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if c.see(r) == 1 {
						w.Header().Set("Content-Length", "300000")
						w.WriteHeader(200)
						w.Write(data[:50_000])
						w.(http.Flusher).Flush()
						conn, _, _ := w.(http.Hijacker).Hijack()
						conn.Close()
						return
					}
					w.Write(data) // 200 with the whole body, Range ignored
				}
			},
			check: ok,
		},
		{
			// A server may answer "bytes=N-" with less than the rest of the
			// file (Content-Range names the end it sent): the download is
			// not complete until the Content-Range total is on disk.
			name: "short range responses continue to the end",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					n := c.see(r)
					var start int
					if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &start); err != nil || n == 1 {
						w.Header().Set("Content-Length", "300000")
						w.WriteHeader(200)
						w.Write(data[:120_000])
						w.(http.Flusher).Flush()
						conn, _, _ := w.(http.Hijacker).Hijack()
						conn.Close()
						return
					}
					end := min(start+100_000, len(data))
					w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, len(data)))
					w.Header().Set("Content-Length", strconv.Itoa(end-start))
					w.WriteHeader(http.StatusPartialContent)
					w.Write(data[start:end])
				}
			},
			check: func(t *testing.T, res Result, err error, c *counter, dest string) {
				ok(t, res, err, c, dest)
				if want := []string{"", "bytes=120000-", "bytes=220000-"}; !slices.Equal(c.ranges, want) {
					t.Fatalf("ranges %q, want %q", c.ranges, want)
				}
			},
		},
		{
			name: "404 is not retried",
			handler: func(c *counter) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { c.see(r); http.NotFound(w, r) }
			},
			check: func(t *testing.T, res Result, err error, c *counter, dest string) {
				var he *httpStatusError
				if !errors.As(err, &he) || he.code != 404 || c.requests != 1 {
					t.Fatalf("err %v after %d requests, want one 404", err, c.requests)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &counter{}
			srv := httptest.NewServer(tc.handler(c))
			defer srv.Close()
			dest := filepath.Join(t.TempDir(), "out", "blob.bin")
			req := Request{URLs: []string{srv.URL + "/blob"}, Dest: dest}
			if tc.req != nil {
				tc.req(&req)
			}
			opt := fast
			if tc.opt != nil {
				tc.opt(&opt)
			}
			res, err := Fetch(t.Context(), req, opt)
			tc.check(t, res, err, c, dest)
		})
	}
}

func TestFetchResumesPartialFileFromEarlierRun(t *testing.T) {
	t.Parallel()
	data := blob(100_000)
	c := &counter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, data) }))
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(dest+".part", data[:40_000], 0o644)
	var p progress
	res, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest, SHA256: sum(data)}, Options{Progress: &p})
	if err != nil {
		t.Fatal(err)
	}
	if c.ranges[0] != "bytes=40000-" || !res.Resumed {
		t.Fatalf("ranges %q, want bytes=40000-", c.ranges)
	}
	if p.n.Load() != 100_000 || p.total.Load() != 100_000 {
		t.Fatalf("progress %d/%d, want 100000/100000", p.n.Load(), p.total.Load())
	}
}

func TestFetchMirrors(t *testing.T) {
	t.Parallel()
	data := blob(10_000)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", 410) }))
	defer bad.Close()
	corrupt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(blob(10_001)) }))
	defer corrupt.Close()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serve(w, r, data) }))
	defer good.Close()
	dest := filepath.Join(t.TempDir(), "f")
	res, err := Fetch(t.Context(), Request{URLs: []string{bad.URL, corrupt.URL, good.URL}, Dest: dest, SHA256: sum(data)}, fast)
	if err != nil {
		t.Fatal(err)
	}
	if res.URL != good.URL {
		t.Fatalf("served by %s, want %s", res.URL, good.URL)
	}
}

func TestFetchSchemes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := blob(5000)
	src := filepath.Join(dir, "src.bin")
	os.WriteFile(src, data, 0o644)
	res, err := Fetch(t.Context(), Request{URLs: []string{"file://" + src}, Dest: filepath.Join(dir, "copy"), SHA256: sum(data)}, fast)
	if err != nil || res.Size != 5000 {
		t.Fatalf("file://: %v %+v", err, res)
	}
	for _, u := range []string{"ftp://example.com/x", "s3://bucket/x", "dir:" + dir, "example.com/x", "gopher://x"} {
		if _, err := Fetch(t.Context(), Request{URLs: []string{u}, Dest: filepath.Join(dir, "x")}, fast); !errors.Is(err, ErrScheme) {
			t.Errorf("%s: err %v, want ErrScheme", u, err)
		}
	}
}

func TestFetchContextCancel(t *testing.T) {
	t.Parallel()
	var started atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Store(true)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := contextWithCancel(t)
	go func() {
		for !started.Load() {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := Fetch(ctx, Request{URLs: []string{srv.URL}, Dest: filepath.Join(t.TempDir(), "x")}, fast)
	if err == nil {
		t.Fatal("want an error after cancel")
	}
}

func TestParseContentRange(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][3]int64{
		"bytes 100-199/200": {100, 200, 1},
		"bytes 0-9/*":       {0, 0, 1},
		"bytes */200":       {0, 0, 0},
		"items 1-2/3":       {0, 0, 0},
	} {
		s, tot, ok := parseContentRange(in)
		if ok != (want[2] == 1) || (ok && (s != want[0] || tot != want[1])) {
			t.Errorf("%q: %d %d %v", in, s, tot, ok)
		}
	}
}

type progress struct{ n, total atomic.Int64 }

func (p *progress) Add(n int64)          { p.n.Add(n) }
func (p *progress) SetTotal(total int64) { p.total.Store(total) }

func TestFetchKeepsVerifiedDest(t *testing.T) {
	t.Parallel()
	data := blob(1000)
	c := &counter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, data) }))
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "f")
	os.WriteFile(dest, data, 0o644)
	if _, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest, SHA256: sum(data)}, fast); err != nil || c.requests != 0 {
		t.Fatalf("err %v, %d requests; want the existing file kept", err, c.requests)
	}
	os.WriteFile(dest, []byte("corrupt"), 0o644)
	if _, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest, SHA256: sum(data)}, fast); err != nil || c.requests != 1 {
		t.Fatalf("err %v, %d requests; want one refetch", err, c.requests)
	}
	if b, _ := os.ReadFile(dest); !bytes.Equal(b, data) {
		t.Fatal("corrupt file not replaced")
	}
}

// TestFetchIfRange: a partial file from an earlier run is resumed only if
// the server still has the same version of the file (If-Range with the
// validator of the response that started it); a changed file is fetched
// whole instead of being spliced onto the old bytes.
func TestFetchIfRange(t *testing.T) {
	t.Parallel()
	v1, v2 := blob(100_000), bytes.Repeat([]byte("new version "), 9_000)
	for _, tc := range []struct {
		name      string
		etag      string // of the second request's file
		data      []byte
		wantRange string
	}{
		{"unchanged file resumes", `"v1"`, v1, "bytes=40000-"},
		{"changed file restarts", `"v2"`, v2, "bytes=40000-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var req atomic.Int32
			var ifRange, rng atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if req.Add(1) == 1 {
					// the first run: v1, cut after 40,000 bytes
					w.Header().Set("ETag", `"v1"`)
					w.Header().Set("Content-Length", strconv.Itoa(len(v1)))
					w.Write(v1[:40_000])
					w.(http.Flusher).Flush()
					panic(http.ErrAbortHandler)
				}
				ifRange.Store(r.Header.Get("If-Range"))
				rng.Store(r.Header.Get("Range"))
				w.Header().Set("ETag", tc.etag)
				serve(w, r, tc.data)
			}))
			defer srv.Close()
			dest := fetchCut(t, srv.URL)
			if v, err := os.ReadFile(dest + ".part.validator"); err != nil || string(v) != `"v1"` {
				t.Fatalf("validator after the first run: %q, %v; want \"v1\"", v, err)
			}
			res, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest}, fast)
			if err != nil {
				t.Fatal(err)
			}
			if got := ifRange.Load(); got != `"v1"` || rng.Load() != tc.wantRange {
				t.Fatalf("second request If-Range %q Range %q, want \"v1\" and %s", got, rng.Load(), tc.wantRange)
			}
			got, _ := os.ReadFile(dest)
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("file has %d bytes, not the server's current %d-byte version", len(got), len(tc.data))
			}
			if res.Resumed != (tc.etag == `"v1"`) {
				t.Fatalf("Resumed = %v", res.Resumed)
			}
			for _, leftover := range []string{dest + ".part", dest + ".part.validator"} {
				if _, err := os.Stat(leftover); err == nil {
					t.Fatalf("%s left behind", leftover)
				}
			}
		})
	}
}

// TestFetchStalePart: a .part left by an earlier run (or another mirror)
// whose bytes do not verify is deleted and the file fetched again from the
// start, once, instead of failing with a checksum mismatch blamed on a
// mirror that sent none of those bytes. A fresh download that also
// mismatches fails, naming the mirror.
func TestFetchStalePart(t *testing.T) {
	t.Parallel()
	data := blob(300_000)
	wrong := bytes.Repeat([]byte{0x5a}, len(data))
	for _, tc := range []struct {
		name       string
		part       []byte
		req        func(r *Request)
		wantRanges []string // of the requests made
		wantErr    bool
	}{
		{"complete part verifies: no request", data, func(r *Request) { r.Size = int64(len(data)) }, nil, false},
		{"part of the expected size, wrong bytes", wrong, func(r *Request) { r.Size = int64(len(data)) }, []string{""}, false},
		{"part of the whole size, size unknown (416)", wrong, func(r *Request) {}, []string{"bytes=300000-", ""}, false},
		{"resumed part with a wrong prefix", wrong[:40_000], func(r *Request) {}, []string{"bytes=40000-", ""}, false},
		{"fresh download mismatches too", wrong, func(r *Request) { r.Size, r.SHA256 = int64(len(data)), strings.Repeat("ab", 32) }, []string{""}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &counter{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, data) }))
			defer srv.Close()
			dest := filepath.Join(t.TempDir(), "blob")
			if err := os.WriteFile(dest+".part", tc.part, 0o644); err != nil {
				t.Fatal(err)
			}
			req := Request{URLs: []string{srv.URL + "/blob"}, Dest: dest, SHA256: sum(data)}
			tc.req(&req)
			res, err := Fetch(t.Context(), req, fast)
			if !slices.Equal(c.ranges, tc.wantRanges) {
				t.Errorf("requests with ranges %q, want %q", c.ranges, tc.wantRanges)
			}
			if _, serr := os.Stat(dest + ".part"); !os.IsNotExist(serr) {
				t.Errorf(".part left behind")
			}
			if tc.wantErr {
				if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), srv.URL+"/blob") {
					t.Fatalf("err = %v, want ErrChecksum naming the mirror", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) || res.SHA256 != sum(data) {
				t.Fatalf("wrong file: %d bytes, sha %s", len(got), res.SHA256)
			}
		})
	}
}

// slowProgress is a Progress that takes 100 ms per MiB reported, standing
// in for hashing a large partial file on a slow disk.
type slowProgress struct{ progress }

func (p *slowProgress) Add(n int64) {
	time.Sleep(time.Duration(n) * 100 * time.Millisecond / (1 << 20))
	p.progress.Add(n)
}

// TestFetchHashesPartBeforeRequest: resuming a large .part hashes its
// existing bytes; that local work must not count against HeaderTimeout
// (nor IdleTimeout), which bound network waits only. Here hashing the part
// takes 500 ms and the header timeout is 250 ms: the resume must succeed
// with a single request.
func TestFetchHashesPartBeforeRequest(t *testing.T) {
	t.Parallel()
	data := blob(6 << 20)
	c := &counter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, data) }))
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(dest+".part", data[:5<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	opt := fast
	opt.Retries = 1
	opt.HeaderTimeout = 250 * time.Millisecond
	opt.Progress = &slowProgress{}
	res, err := Fetch(t.Context(), Request{URLs: []string{srv.URL}, Dest: dest, SHA256: sum(data)}, opt)
	if err != nil {
		t.Fatalf("err = %v, want the resume to succeed (hashing the part is not a wait for headers)", err)
	}
	if !res.Resumed || !slices.Equal(c.ranges, []string{"bytes=5242880-"}) {
		t.Fatalf("resumed %v, ranges %q; want one request for bytes=5242880-", res.Resumed, c.ranges)
	}
}

// TestValidChecksum: user-given digests are checked up front; Fetch
// refuses a malformed one before any request instead of downloading the
// whole file to report a mismatch.
func TestValidChecksum(t *testing.T) {
	t.Parallel()
	good256, goodMD5 := strings.Repeat("ab", 32), strings.Repeat("0F", 16)
	for _, tc := range []struct {
		kind, s string
		ok      bool
	}{
		{"sha256", good256, true},
		{"SHA-256", strings.ToUpper(good256), true},
		{"md5", goodMD5, true},
		{"md5", "", true},
		{"sha256", "", true},
		{"sha256", good256[:63], false},
		{"sha256", good256 + "0", false},
		{"sha256", goodMD5, false}, // an MD5 given as SHA-256
		{"sha256", strings.Repeat("g", 64), false},
		{"sha256", " " + good256[1:], false},
		{"md5", "none", false}, // "none" is the stage's keyword, resolved before
		{"md5", goodMD5[:31] + "z", false},
		{"sha1", strings.Repeat("a", 40), false},
	} {
		err := ValidChecksum(tc.kind, tc.s)
		if (err == nil) != tc.ok {
			t.Errorf("ValidChecksum(%q, %q) = %v, want ok %v", tc.kind, tc.s, err, tc.ok)
		}
	}
	c := &counter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.see(r); serve(w, r, blob(10)) }))
	defer srv.Close()
	for _, req := range []Request{{SHA256: "abc"}, {MD5: "not-an-md5-value-not-an-md5-valu"}} {
		req.URLs, req.Dest = []string{srv.URL}, filepath.Join(t.TempDir(), "f")
		if _, err := Fetch(t.Context(), req, fast); err == nil || !strings.Contains(err.Error(), "hex") {
			t.Errorf("%+v: err = %v, want a malformed-checksum error", req, err)
		}
	}
	if c.requests != 0 {
		t.Errorf("%d requests made for malformed checksums", c.requests)
	}
}
