// Package download fetches files over HTTP(S) or from local paths,
// resumably and verified.
//
// # Contract
//
//   - Sources: https://, http://, file://PATH. Anything else (ftp://, s3://,
//     a bare word) is refused with [ErrScheme]; "dir:PATH" (an unpacked local
//     copy used in place) is a reader concern and is refused here too.
//   - The file is written to DEST.part and renamed to DEST only after it is
//     complete, verified and synced to disk (the directory too, after the
//     rename), so DEST never holds a partial or corrupt file, even after a
//     power loss.
//   - Resume: an existing DEST.part is continued with a Range request. A
//     206 that ends before its Content-Range total is followed by the next
//     range request (a short range is progress, not a failed attempt). A
//     connection cut in the middle of the body is retried from the bytes
//     already on disk, not from zero. A server that ignores Range (200
//     instead of 206) restarts the file, and so does a 206 whose
//     Content-Range does not start where the file ends (the part is
//     emptied and the file requested without Range). The validator of the
//     response that started DEST.part (a strong ETag, else Last-Modified) is kept in
//     DEST.part.validator and sent as If-Range when resuming, so a file that
//     changed on the server since is fetched whole (200) instead of being
//     spliced onto the old bytes. A server that ignores If-Range but
//     answers the range with another ETag or Last-Modified than the saved
//     one is caught too: the part is emptied and the file fetched whole.
//     Without a validator the server gave none,
//     and only the size and digests, when known, catch such a change. A
//     416 answer is taken as "the part is already whole" (and verified)
//     unless its Content-Range names another size: then the part is not
//     this file and it is fetched again from the start. A 206 to a request
//     without Range (a misbehaving server or proxy) is taken for the part
//     its Content-Range names, not for the whole file: one that does not
//     start at byte 0 is an error, a short one is continued.
//   - Retries: connection errors, timeouts, 408, 429 and 5xx are retried with
//     exponential backoff and full jitter (Options.Retries attempts per
//     mirror); other 4xx move to the next mirror at once. A 429 or 503
//     with Retry-After waits at least that long (at most 5 minutes), and
//     every wait ends early when ctx is done. Only attempts without
//     progress count: one cut after taking the part at least 8 KiB
//     further than ever before starts a fresh budget (a flaky link or a
//     proxy that ends every connection after so many bytes must not fail
//     a large file; a server trickling a few bytes per connection still
//     runs out of attempts).
//   - Timeouts: Options.HeaderTimeout bounds connect + response headers,
//     Options.IdleTimeout bounds any wait for the next body bytes (a stalled
//     server), and ctx bounds everything. They time network waits only:
//     the existing part is hashed before the request is sent.
//   - Verification: SHA-256 (and MD5 if given, for catalogs that publish
//     only MD5) and the size, when known. A server that sends more than
//     the known size (or than its Content-Range total) is cut off there,
//     as a mismatch, instead of filling the disk; one that announces
//     another size than the known one (Content-Length of a 200,
//     Content-Range total) fails as a mismatch before its body is read. A
//     body without Content-Length that ends short of the known size is a
//     cut (resumed), not a mismatch. A mismatch deletes the partial file
//     and tries the next mirror; when none is left the error wraps
//     [ErrChecksum] and nothing is left behind. A part that still holds
//     bytes the mirror did not send (an earlier run's, another mirror's)
//     is not blamed on it: it is deleted and the file fetched once more
//     from the start. Malformed expected digests are refused before any
//     request ([ValidChecksum]).
//   - An existing DEST that verifies (against whatever is known: digests,
//     size) is kept without any request.
//   - A failure to write the part (a full disk) stops Fetch at once, with
//     the part kept for a rerun: no mirror would do better.
//   - Progress: bytes are reported to Options.Progress as they arrive (the
//     pipeline's progress reporter turns them into bytes/s and an ETA).
package download

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"coderflow/internal/atomicfile"
)

// Errors returned (wrapped) by [Fetch].
var (
	// ErrScheme is returned for a source whose scheme is not https, http or file.
	ErrScheme = errors.New("unsupported source scheme (want https://, http:// or file://)")
	// ErrChecksum is returned when the fetched bytes do not match the expected
	// SHA-256, MD5 or size.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrIdle is the cause of an attempt aborted because no bytes arrived for
	// Options.IdleTimeout.
	ErrIdle = errors.New("idle timeout: no data received")
	// ErrHeaderTimeout is the cause of an attempt aborted because the response
	// headers did not arrive within Options.HeaderTimeout.
	ErrHeaderTimeout = errors.New("timeout waiting for response headers")
)

// Progress receives byte counts; pipeline.Progress satisfies it.
type Progress interface {
	Add(n int64)
	SetTotal(total int64)
}

// Options tune [Fetch]. The zero value uses the defaults.
type Options struct {
	Client        *http.Client  // default: a client without overall timeout (ctx and the timeouts below bound it)
	Retries       int           // attempts per mirror for retryable failures; default 5
	BackoffBase   time.Duration // first backoff; default 500ms
	BackoffMax    time.Duration // backoff cap; default 30s
	HeaderTimeout time.Duration // connect + headers; default 60s
	IdleTimeout   time.Duration // longest wait for body bytes; default 60s
	BufferSize    int           // copy buffer; default 1 MiB
	Progress      Progress      // optional
	Log           *slog.Logger  // optional; default discards
	UserAgent     string        // default "coderflow-download/1"
}

func (o *Options) defaults() {
	if o.Client == nil {
		o.Client = defaultClient
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 500 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = 60 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 1 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.UserAgent == "" {
		o.UserAgent = "coderflow-download/1"
	}
}

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout: 30 * time.Second,
	// Compressed transfer would make Range offsets meaningless.
	DisableCompression:  true,
	MaxIdleConnsPerHost: 4,
}}

// Request describes one file to fetch.
type Request struct {
	URLs   []string // the source and its mirrors, tried in order
	Dest   string   // final path
	SHA256 string   // expected hex SHA-256, or ""
	MD5    string   // expected hex MD5, or ""
	Size   int64    // expected size in bytes, or 0 if unknown
}

// Result describes a fetched file.
type Result struct {
	Path     string
	Size     int64
	SHA256   string
	URL      string // the mirror that served it
	Attempts int    // total attempts over all mirrors
	Resumed  bool   // some bytes came from an earlier partial file or attempt
}

// Fetch downloads req to req.Dest (see the package doc for the contract).
func Fetch(ctx context.Context, req Request, opt Options) (Result, error) {
	opt.defaults()
	if len(req.URLs) == 0 {
		return Result{}, errors.New("download: no source given")
	}
	for _, u := range req.URLs {
		if _, err := scheme(u); err != nil {
			return Result{}, err
		}
	}
	// A malformed digest could never match: say so now, not after the
	// whole file has been downloaded.
	if err := ValidChecksum("sha256", req.SHA256); err != nil {
		return Result{}, err
	}
	if err := ValidChecksum("md5", req.MD5); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(filepath.Dir(req.Dest), 0o755); err != nil {
		return Result{}, err
	}
	part := req.Dest + ".part"
	res := Result{Path: req.Dest}
	if _, err := os.Stat(req.Dest); err == nil {
		// Finished by an earlier run: keep it if it verifies.
		st := newPartState(req, opt.Progress)
		r, err := verify(ctx, req.Dest, req, "file://"+req.Dest, &res, st)
		if err == nil {
			r.Path = req.Dest
			return r, nil
		}
		if ctx.Err() != nil { // stopped while hashing: the file may be good
			return Result{}, fmt.Errorf("download %s: %w", filepath.Base(req.Dest), context.Cause(ctx))
		}
		opt.Log.Warn("existing file does not verify; fetching again", "path", req.Dest, "error", err)
		if err := os.Remove(req.Dest); err != nil {
			return Result{}, err
		}
	}
	var errs []error
	for i, u := range req.URLs {
		if i > 0 {
			opt.Log.Warn("trying next mirror", "url", redact(u), "after", errs[len(errs)-1])
		}
		r, err := fetchOne(ctx, u, part, req, opt, &res)
		if err == nil {
			// Durable before it looks complete: after a crash DEST holds
			// the verified bytes or does not exist (a file renamed
			// unsynced could come back empty or short after a power loss,
			// which nothing checks when no size or digest is known).
			if err := syncFile(part); err != nil {
				return Result{}, fmt.Errorf("download %s: %w", filepath.Base(req.Dest), err)
			}
			if err := os.Rename(part, req.Dest); err != nil {
				removePart(part)
				return Result{}, err
			}
			if err := atomicfile.SyncDir(filepath.Dir(req.Dest)); err != nil {
				return Result{}, fmt.Errorf("download %s: %w", filepath.Base(req.Dest), err)
			}
			os.Remove(validatorPath(part))
			r.Path = req.Dest
			return r, nil
		}
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("download %s: %w", redact(u), context.Cause(ctx))
		}
		if le := (localError{}); errors.As(err, &le) {
			// Writing here failed (a full disk): every mirror would fail
			// the same way. The part stays for a rerun.
			return Result{}, fmt.Errorf("download %s: %w", filepath.Base(req.Dest), le.err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", redact(u), err))
		if errors.Is(err, ErrChecksum) {
			removePart(part) // never resume from bytes that failed verification
		}
	}
	// Leave nothing behind when every mirror failed verification; keep a
	// partial file from transient failures so a rerun resumes it.
	if errors.Is(errors.Join(errs...), ErrChecksum) {
		removePart(part)
	}
	return Result{}, fmt.Errorf("download %s: %w", filepath.Base(req.Dest), errors.Join(errs...))
}

// ValidChecksum reports whether s is a well-formed expected digest of the
// given kind ("sha256" or "md5"): 64 or 32 hexadecimal digits, either case.
// The empty string (no digest given) is valid. Stages call it when they
// read user params, so that a mistyped or truncated digest (or an MD5
// given as SHA-256) fails at once, naming the param; [Fetch] calls it too,
// before any request.
func ValidChecksum(kind, s string) error {
	var n int
	switch strings.ToLower(kind) {
	case "sha256", "sha-256":
		n = 2 * sha256.Size
	case "md5":
		n = 2 * md5.Size
	default:
		return fmt.Errorf("download: unknown checksum kind %q (want sha256 or md5)", kind)
	}
	if s == "" {
		return nil
	}
	if len(s) != n {
		return fmt.Errorf("download: %s %q: want %d hex digits, got %d characters", kind, s, n, len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return fmt.Errorf("download: %s %q: not a hex digit at position %d: %q", kind, s, i+1, c)
		}
	}
	return nil
}

// writebackChunk is how many bytes of a response are written before the
// kernel is asked to start writing them to disk.
const writebackChunk = 8 << 20

// syncFile flushes the file at p to stable storage.
func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// validatorPath is where the If-Range validator of part is kept.
func validatorPath(part string) string { return part + ".validator" }

// removePart deletes a partial file and its validator.
func removePart(part string) {
	os.Remove(part)
	os.Remove(validatorPath(part))
}

// rangeValidator is the value for If-Range that identifies the version of
// the file resp serves: a strong ETag, else Last-Modified, else "" (weak
// ETags may not be used with If-Range, RFC 9110 13.1.5).
func rangeValidator(resp *http.Response) string {
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return et
	}
	return resp.Header.Get("Last-Modified")
}

// sameVersion reports whether a range response resp comes from the version
// of the file that validator (a strong ETag or a Last-Modified date, as
// saved by saveValidator) names. A response without the same kind of
// validator says nothing, and is taken to match.
func sameVersion(validator string, resp *http.Response) bool {
	if strings.HasPrefix(validator, `"`) { // an ETag
		et := strings.TrimPrefix(resp.Header.Get("ETag"), "W/") // weak comparison
		return et == "" || et == validator
	}
	lm := resp.Header.Get("Last-Modified")
	if lm == "" {
		return true
	}
	a, aerr := http.ParseTime(lm)
	b, berr := http.ParseTime(validator)
	if aerr == nil && berr == nil {
		return a.Equal(b)
	}
	return lm == validator
}

// saveValidator records the validator of the response that starts part
// (or removes a stale one when the server gives none).
func saveValidator(part string, resp *http.Response) error {
	v := rangeValidator(resp)
	if v == "" || strings.ContainsAny(v, "\r\n") {
		if err := os.Remove(validatorPath(part)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(validatorPath(part), []byte(v), 0o644)
}

// redactError drops user info and query from the URL an HTTP client error
// quotes (`Get "https://host/f?X-Amz-Signature=…": …`): a signed URL's
// query is a credential, and the error is logged and returned.
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redact(ue.URL)
	}
	return err
}

func scheme(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" {
		return "", fmt.Errorf("download %q: %w", redact(u), ErrScheme)
	}
	switch s := strings.ToLower(p.Scheme); s {
	case "http", "https", "file":
		return s, nil
	}
	return "", fmt.Errorf("download %q: %w", redact(u), ErrScheme)
}

// redact drops user info and query from a URL for logs and errors.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.User = nil
	p.RawQuery = ""
	return p.String()
}

// partState follows the part file across attempts: the digests cover
// exactly its first hashed bytes, and reported bytes were announced to the
// progress reporter. Hashing as the bytes stream in (rather than rereading
// the file afterwards) keeps a download at one pass over the data; after a
// resume from an earlier run the existing prefix is hashed once.
type partState struct {
	hs, hm   hash.Hash
	hashed   int64
	reported int64
	progress Progress
	// stale: the part holds bytes that were not fetched from the current
	// mirror by this fetchOne (an earlier run's, or another mirror's).
	// Cleared when the part is truncated.
	stale bool
}

func newPartState(req Request, p Progress) *partState {
	st := &partState{hs: sha256.New(), progress: p}
	if req.MD5 != "" {
		st.hm = md5.New()
	}
	return st
}

func (st *partState) reset() {
	st.hs.Reset()
	if st.hm != nil {
		st.hm.Reset()
	}
	st.hashed = 0
}

func (st *partState) write(b []byte) {
	st.hs.Write(b)
	if st.hm != nil {
		st.hm.Write(b)
	}
	st.hashed += int64(len(b))
	st.report(st.hashed)
}

// report moves the progress to have bytes.
func (st *partState) report(have int64) {
	if st.progress != nil && have != st.reported {
		st.progress.Add(have - st.reported)
	}
	st.reported = have
}

// catchUp makes the digests cover the first have bytes of f. It stops
// with ctx's cause when ctx is done (hashing a part of gigabytes takes
// seconds).
func (st *partState) catchUp(ctx context.Context, f *os.File, have int64) error {
	if st.hashed > have {
		st.reset()
	}
	if st.hashed < have {
		buf := make([]byte, 1<<20)
		r := io.NewSectionReader(f, st.hashed, have-st.hashed)
		for {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			n, err := r.Read(buf)
			if n > 0 {
				st.write(buf[:n])
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
	}
	st.report(have)
	return nil
}

// fetchOne gets the file from one mirror into part, with retries, and
// verifies it.
//
// A part that fails verification while it still holds bytes this mirror
// did not send (left by an earlier run or another mirror, perhaps of
// exactly the expected size so that no request was even made) does not
// condemn the mirror: the part is deleted and the file fetched once more
// from the start. Only a mismatch of bytes all sent by u fails it.
func fetchOne(ctx context.Context, u, part string, req Request, opt Options, res *Result) (Result, error) {
	s, _ := scheme(u)
	st := newPartState(req, opt.Progress)
	if s == "file" {
		res.Attempts++
		return copyLocal(ctx, u, part, req, opt, st, res)
	}
	if fi, err := os.Stat(part); err == nil && fi.Size() > 0 {
		st.stale = true
	}
	r, err := fetchHTTP(ctx, u, part, req, opt, res, st)
	if errors.Is(err, ErrChecksum) && st.stale {
		opt.Log.Warn("partial file from an earlier attempt does not verify; fetching it again from the start", "url", redact(u), "error", err)
		removePart(part)
		st.reset()
		st.stale = false
		res.Resumed = false // none of the earlier bytes are kept
		r, err = fetchHTTP(ctx, u, part, req, opt, res, st)
	}
	return r, err
}

// fetchHTTP is fetchOne's retry loop: it fetches from u into part, resuming
// what is there, and verifies the result.
func fetchHTTP(ctx context.Context, u, part string, req Request, opt Options, res *Result, st *partState) (Result, error) {
	var last error
	restarted := false
	// best is the longest the part has been: an attempt that failed after
	// taking it further (a cut mid-body) made progress, and a flaky link
	// or a proxy that ends every connection after so many bytes must not
	// run out of attempts on a file that needs more connections than
	// Options.Retries. Only attempts without progress (at least
	// minProgress bytes beyond best) count.
	best := partSize(part)
	for attempt := 0; attempt < opt.Retries; attempt++ {
		if attempt > 0 && !errors.Is(last, errShortRange) && !errors.Is(last, errRestart) {
			d := backoff(opt, attempt)
			// A rate-limited or overloaded server says how long to wait:
			// retrying sooner only spends the attempts.
			var se *httpStatusError
			if errors.As(last, &se) && se.retryAfter > d {
				d = se.retryAfter
			}
			opt.Log.Warn("retrying download", "url", redact(u), "attempt", attempt+1, "in", d.Round(time.Millisecond), "error", last)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return Result{}, context.Cause(ctx)
			case <-t.C:
			}
		}
		res.Attempts++
		done, retry, err := attemptHTTP(ctx, u, part, req, opt, res, st)
		if err == nil && done {
			return verify(ctx, part, req, u, res, st)
		}
		last = err
		if errors.Is(err, errShortRange) {
			attempt-- // progress, not a failure
			continue
		}
		if errors.Is(err, errRestart) && !restarted {
			restarted = true // once: the part is empty now
			attempt--
			continue
		}
		if !retry {
			return Result{}, err
		}
		if n := partSize(part); n >= best+minProgress {
			best = n
			attempt = 0 // a fresh budget, from the first backoff
		}
	}
	return Result{}, fmt.Errorf("giving up after %d attempts: %w", opt.Retries, last)
}

// minProgress is the least an attempt must add to the part file, beyond
// the longest it has been, to start a fresh budget of attempts: a server
// that sends a few bytes per connection and then stalls or cuts still
// runs out of attempts, instead of being retried for as long as it
// trickles.
const minProgress = 8 << 10

// partSize is the size of the part file, 0 if there is none.
func partSize(part string) int64 {
	fi, err := os.Stat(part)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// backoff is exponential with full jitter in [d/2, d].
func backoff(opt Options, attempt int) time.Duration {
	d := opt.BackoffBase << (attempt - 1)
	if d > opt.BackoffMax || d <= 0 {
		d = opt.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// httpStatusError is a non-success HTTP status.
type httpStatusError struct {
	code       int
	status     string
	retryAfter time.Duration // the server's Retry-After (429, 503), or 0
}

func (e *httpStatusError) Error() string { return "HTTP " + e.status }

// maxRetryAfter caps the wait a server's Retry-After asks for.
const maxRetryAfter = 5 * time.Minute

// retryAfter is the wait the Retry-After header of a 429 or 503 asks for
// (seconds or an HTTP date), capped at maxRetryAfter; 0 when there is none.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		d = maxRetryAfter
		if n < int64(maxRetryAfter/time.Second) {
			d = time.Duration(n) * time.Second
		}
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// attemptHTTP makes one request, appending to part. It reports whether the
// file is complete, and whether a failure is worth retrying.
func attemptHTTP(ctx context.Context, u, part string, req Request, opt Options, res *Result, st *partState) (done, retry bool, err error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return false, false, localError{err}
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return false, false, localError{err}
	}
	if req.Size > 0 && have == req.Size {
		return true, false, nil // complete from an earlier run; verify
	}
	if req.Size > 0 && have > req.Size {
		if err := truncate(f); err != nil {
			return false, false, localError{err}
		}
		have = 0
		st.stale = false
	}
	// Hash the bytes already on disk now, before the request: it is local
	// work (seconds for a large part) and must not run while the watchdog
	// below times the wait for headers.
	if err := st.catchUp(ctx, f, have); err != nil {
		return false, false, err
	}

	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// One watchdog: first bounds the wait for headers, then is re-armed on
	// every body read to catch a stalled server.
	var inBody atomic.Bool
	watchdog := time.AfterFunc(opt.HeaderTimeout, func() {
		if inBody.Load() {
			cancel(ErrIdle)
		} else {
			cancel(ErrHeaderTimeout)
		}
	})
	defer watchdog.Stop()

	hreq, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return false, false, redactError(err)
	}
	hreq.Header.Set("User-Agent", opt.UserAgent)
	hreq.Header.Set("Accept-Encoding", "identity")
	var validator string // of the response that started part, sent as If-Range
	if have > 0 {
		hreq.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		if v, err := os.ReadFile(validatorPath(part)); err == nil && len(v) > 0 {
			validator = string(v)
			hreq.Header.Set("If-Range", validator)
		}
	}
	resp, err := opt.Client.Do(hreq)
	if err != nil {
		if c := context.Cause(actx); c != nil && ctx.Err() == nil {
			err = c
		}
		return false, ctx.Err() == nil, redactError(err)
	}
	defer resp.Body.Close()

	var total int64 // the file size a 206 announces, or 0
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		var start int64
		var ok bool
		start, total, ok = parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			// Not the rest of the file (a cache that ignores the range
			// and still says 206): failing here kept the part, so every
			// rerun resumed it and failed the same way. Start over
			// without Range.
			opt.Log.Warn("server answered the range request with another range; restarting", "url", redact(u), "had", have,
				"content_range", resp.Header.Get("Content-Range"))
			return restartPart(f, part, st, res, fmt.Errorf("%w: asked for bytes %d-, server sent Content-Range %q", errRestart, have, resp.Header.Get("Content-Range")))
		}
		if validator != "" && !sameVersion(validator, resp) {
			// A server (or a cache in front of it) that ignores If-Range
			// sends the rest of the file as it is now: spliced onto the
			// old bytes, that would be neither version. Start over.
			opt.Log.Warn("the file changed on the server since the partial download (If-Range ignored); restarting", "url", redact(u), "had", have,
				"was", validator, "now", rangeValidator(resp))
			return restartPart(f, part, st, res, fmt.Errorf("%w: validator %s, the server now sends %s", errRestart, validator, rangeValidator(resp)))
		}
		res.Resumed = true
		if total > 0 && opt.Progress != nil {
			opt.Progress.SetTotal(total)
		}
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent:
		if resp.StatusCode == http.StatusPartialContent {
			// A 206 to a request without Range (have is 0): its
			// Content-Range says which part it is. Taken for the whole
			// file, a short one would become DEST when no size or
			// digest is known.
			var start int64
			var ok bool
			start, total, ok = parseContentRange(resp.Header.Get("Content-Range"))
			if !ok || start != 0 {
				return false, false, fmt.Errorf("asked for the whole file, server sent 206 Partial Content with Content-Range %q", resp.Header.Get("Content-Range"))
			}
		}
		if have > 0 {
			// Range ignored, or the file changed since the partial
			// download (If-Range did not match): start over.
			opt.Log.Warn("server sent the whole file, not the rest (no Range support, or the file changed); restarting", "url", redact(u), "had", have)
			if err := truncate(f); err != nil {
				return false, false, localError{err}
			}
			have = 0
			st.stale = false
			res.Resumed = false // no earlier byte is kept
		}
		if err := saveValidator(part, resp); err != nil {
			return false, false, localError{err}
		}
		if total > 0 && opt.Progress != nil {
			opt.Progress.SetTotal(total)
		} else if resp.ContentLength > 0 && opt.Progress != nil {
			opt.Progress.SetTotal(resp.ContentLength)
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The partial file may already be whole (size unknown to us): let
		// verification decide; on mismatch it is deleted and refetched.
		// A 416 that names the file's size ("bytes */SIZE") says more: a
		// part of another size is not this file (it changed, or the part
		// is another's), whatever verification could check.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		if size, ok := unsatisfiedSize(resp.Header.Get("Content-Range")); ok && size != have {
			opt.Log.Warn("partial file is longer than the file on the server; restarting", "url", redact(u), "had", have, "size", size)
			return restartPart(f, part, st, res, fmt.Errorf("%w: part of %d bytes, the server's file has %d", errRestart, have, size))
		}
		return true, false, nil
	default:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return false, retryableStatus(resp.StatusCode), &httpStatusError{resp.StatusCode, resp.Status, retryAfter(resp, time.Now())}
	}

	// The size the server announces (Content-Range total, else the
	// Content-Length of a 200) is not the expected one: the wrong file,
	// known before its body is downloaded.
	announced := int64(-1)
	if total > 0 {
		announced = total
	} else if resp.StatusCode == http.StatusOK {
		announced = resp.ContentLength // -1 when unknown
	}
	if req.Size > 0 && announced >= 0 && announced != req.Size {
		return false, false, fmt.Errorf("%w: size %d announced by the server, want %d", ErrChecksum, announced, req.Size)
	}
	// Already hashed before the request; this only resets the digests when
	// the server sent the whole file and the part was truncated.
	if err := st.catchUp(ctx, f, have); err != nil {
		return false, false, err
	}
	inBody.Store(true)
	// Hash on a second goroutine while the next chunk is read and written:
	// two buffers rotate between the reader and the hasher.
	h := st.async(opt.BufferSize)
	defer h.wait()
	var n, flushed int64 // flushed: bytes of this response handed to writeback
	// The most the file can have: a server that sends more (a wrong file,
	// an endless stream that never trips the idle timeout) is cut off one
	// buffer past it instead of filling the disk.
	limit := int64(-1)
	if req.Size > 0 {
		limit = req.Size
	}
	if total > 0 && (limit < 0 || total < limit) {
		limit = total
	}
	for {
		// The watchdog times only the read: waiting for the hasher to free
		// a buffer and writing to disk are local work.
		buf := h.buffer()
		watchdog.Reset(opt.IdleTimeout)
		m, rerr := resp.Body.Read(buf)
		watchdog.Stop()
		if m > 0 {
			if _, werr := f.Write(buf[:m]); werr != nil {
				h.give(buf[:0])
				return false, false, localError{werr}
			}
			n += int64(m)
			if limit >= 0 && have+n > limit {
				h.give(buf[:m])
				what := "the expected size"
				if limit != req.Size {
					what = "the size in Content-Range"
				}
				return false, false, fmt.Errorf("%w: server sent more than %s, %d bytes", ErrChecksum, what, limit)
			}
			if n-flushed >= writebackChunk {
				// start the disk writes now, so that the fsync before
				// the rename waits for the tail only
				atomicfile.StartWriteback(f, have+flushed, n-flushed)
				flushed = n
			}
		}
		h.give(buf[:m])
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if n > 0 || have > 0 {
				res.Resumed = true // the next attempt continues from here
			}
			if c := context.Cause(actx); c != nil && ctx.Err() == nil {
				rerr = c
			}
			return false, ctx.Err() == nil, fmt.Errorf("after %d bytes: %w", have+n, redactError(rerr))
		}
	}
	h.wait()
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return false, true, fmt.Errorf("body ended after %d of %d bytes", n, resp.ContentLength)
	}
	if total == 0 && req.Size > 0 && have+n < req.Size {
		// A body without Content-Length ends when the connection closes:
		// a cut looks like the end. Short of the known size, it is a cut
		// (resumed from here), not a wrong file to delete.
		if n > 0 || have > 0 {
			res.Resumed = true
		}
		return false, true, fmt.Errorf("body ended after %d of %d bytes", have+n, req.Size)
	}
	if total > 0 && have+n < total {
		// The server sent less than the rest of the file: ask for more.
		if n > 0 {
			res.Resumed = true
			return false, true, fmt.Errorf("%w: bytes %d-%d of %d", errShortRange, have, have+n-1, total)
		}
		return false, true, fmt.Errorf("empty range response at byte %d of %d", have, total)
	}
	return true, false, nil
}

// restartPart empties the part file f and forgets its validator: what it
// holds is not a prefix of the server's file. It returns attemptHTTP's
// results for a retry from the first byte, with why (an errRestart).
func restartPart(f *os.File, part string, st *partState, res *Result, why error) (done, retry bool, err error) {
	if err := truncate(f); err != nil {
		return false, false, localError{err}
	}
	if err := os.Remove(validatorPath(part)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, false, localError{err}
	}
	st.stale = false
	res.Resumed = false
	return false, true, why
}

// localError is a failure on this machine while keeping the part file (a
// full disk, a read-only or vanished directory): no mirror would do better,
// so Fetch stops at once and keeps the part for a rerun.
type localError struct{ err error }

func (e localError) Error() string { return e.err.Error() }
func (e localError) Unwrap() error { return e.err }

// errRestart marks a part that was found not to be a prefix of the file
// and emptied: the next request, from byte 0, follows at once.
var errRestart = errors.New("partial file does not match the server's file")

// unsatisfiedSize parses the "bytes */SIZE" Content-Range of a 416.
func unsatisfiedSize(s string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "bytes */")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}

// errShortRange marks a range response that ended before the file did but
// made progress: the next request continues at once, without counting as a
// failed attempt.
var errShortRange = errors.New("range response ended before the end of the file")

// asyncHasher feeds a partState from its own goroutine.
type asyncHasher struct {
	free chan []byte
	in   chan []byte
	done chan struct{}
	once bool
}

// async starts a hasher with two buffers of size n. Until wait returns,
// only the hasher goroutine touches st.
func (st *partState) async(n int) *asyncHasher {
	h := &asyncHasher{free: make(chan []byte, 2), in: make(chan []byte, 2), done: make(chan struct{})}
	h.free <- make([]byte, n)
	h.free <- make([]byte, n)
	go func() {
		defer close(h.done)
		for b := range h.in {
			if len(b) > 0 {
				st.write(b)
			}
			h.free <- b[:cap(b)]
		}
	}()
	return h
}

// buffer returns a buffer the hasher is done with.
func (h *asyncHasher) buffer() []byte { return <-h.free }

// give hands b (already written to disk) to the hasher.
func (h *asyncHasher) give(b []byte) { h.in <- b }

// wait stops the hasher after it has hashed everything given; idempotent.
func (h *asyncHasher) wait() {
	if !h.once {
		h.once = true
		close(h.in)
		<-h.done
	}
}

func truncate(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*").
func parseContentRange(s string) (start, total int64, ok bool) {
	s, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	a, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if tot != "*" {
		total, err = strconv.ParseInt(tot, 10, 64)
		if err != nil {
			return 0, 0, false
		}
	}
	return start, total, true
}

// copyLocal copies a file:// source into part (no resume: local copies are
// fast and a partial one is simply redone).
func copyLocal(ctx context.Context, u, part string, req Request, opt Options, st *partState, res *Result) (Result, error) {
	p, err := url.Parse(u)
	if err != nil {
		return Result{}, err
	}
	path := p.Path
	if p.Host != "" && p.Host != "localhost" { // file://relative/path
		path = p.Host + p.Path
	}
	src, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer src.Close()
	if fi, err := src.Stat(); err == nil && opt.Progress != nil {
		opt.Progress.SetTotal(fi.Size())
	}
	dst, err := os.Create(part)
	if err != nil {
		return Result{}, localError{err}
	}
	buf := make([]byte, opt.BufferSize)
	var copied int64
	for err == nil {
		if err = ctx.Err(); err != nil {
			break
		}
		var n int
		n, err = src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = localError{werr}
				break
			}
			st.write(buf[:n])
			copied += int64(n)
			if req.Size > 0 && copied > req.Size {
				// a device or FIFO (file:///dev/zero) never ends
				err = fmt.Errorf("%w: %s holds more than the expected %d bytes", ErrChecksum, path, req.Size)
			}
		}
	}
	if err == io.EOF {
		err = nil
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(part)
		return Result{}, err
	}
	return verify(ctx, part, req, u, res, st)
}

// verify checks the complete part file against req, with the digests
// computed as it streamed in (topped up from disk if needed).
func verify(ctx context.Context, part string, req Request, u string, res *Result, st *partState) (Result, error) {
	f, err := os.Open(part)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Result{}, err
	}
	n := fi.Size()
	if err := st.catchUp(ctx, f, n); err != nil {
		return Result{}, err
	}
	sum := hex.EncodeToString(st.hs.Sum(nil))
	out := Result{Size: n, SHA256: sum, URL: redact(u), Attempts: res.Attempts, Resumed: res.Resumed}
	if req.Size > 0 && n != req.Size {
		return Result{}, fmt.Errorf("%w: size %d, want %d", ErrChecksum, n, req.Size)
	}
	if req.SHA256 != "" && !strings.EqualFold(sum, req.SHA256) {
		return Result{}, fmt.Errorf("%w: sha256 %s, want %s", ErrChecksum, sum, strings.ToLower(req.SHA256))
	}
	if st.hm != nil {
		if got := hex.EncodeToString(st.hm.Sum(nil)); !strings.EqualFold(got, req.MD5) {
			return Result{}, fmt.Errorf("%w: md5 %s, want %s", ErrChecksum, got, strings.ToLower(req.MD5))
		}
	}
	return out, nil
}
