package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The racy-git problem of the stat cache: a file rewritten with the same
// size in the timestamp tick in which it was read keeps the size, mtime and
// ctime the cache remembered, so a remembered digest would be served for
// the new content. The filesystem's tick cannot be steered, so these tests
// hand the digester the stat it would see after such a rewrite (the stat
// of the first read) and set its clock relative to the file's timestamp.

const (
	racyOld = "content A\n"
	racyNew = "content B\n" // same size
)

func sumOf(s string) string {
	b := sha256.Sum256([]byte(s))
	return hex.EncodeToString(b[:])
}

// stampOf is the timestamp the racy check looks at: the ctime where the
// platform reports it, else the mtime.
func stampOf(st fs.FileInfo) time.Time {
	if ct := changeTime(st); ct != 0 {
		return time.Unix(0, ct)
	}
	return st.ModTime()
}

// writeRacyFile writes racyOld to a new file and returns its path and stat.
func writeRacyFile(t *testing.T) (string, fs.FileInfo) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(p, []byte(racyOld), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, st
}

// TestStatCacheRacyRewrite: a file read within racyWindow of its timestamp
// and then rewritten with the same size and a stat identical to the one of
// the read (same tick; `touch -d` setting the mtime back) must be read
// again and get the new digest, in the same process and in the next one
// (the saved cache). A file read when its timestamp was old enough is
// served from the cache without a read.
func TestStatCacheRacyRewrite(t *testing.T) {
	rewrite := func(t *testing.T, p string, st fs.FileInfo) {
		if err := os.WriteFile(p, []byte(racyNew), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rewriteTouchBack := func(t *testing.T, p string, st fs.FileInfo) {
		rewrite(t, p, st)
		if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil { // touch -d <old mtime>
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		readAt    time.Duration // the clock at the first read, after the file's timestamp
		change    func(t *testing.T, p string, st fs.FileInfo)
		reload    bool   // the second lookup is a fresh digester over the saved cache
		want      string // the content whose digest the second lookup returns
		wantReads int    // content reads of both lookups together
	}{
		{name: "rewritten in the tick of the read", readAt: time.Millisecond, change: rewrite, want: racyNew, wantReads: 2},
		{name: "rewritten in the tick of the read, next run", readAt: time.Millisecond, change: rewrite, reload: true, want: racyNew, wantReads: 2},
		{name: "mtime set back in the tick of the read", readAt: 0, change: rewriteTouchBack, want: racyNew, wantReads: 2},
		{name: "rewritten just inside the window, next run", readAt: racyWindow - time.Nanosecond, change: rewriteTouchBack, reload: true, want: racyNew, wantReads: 2},
		{name: "timestamp ahead of the reader's clock", readAt: -time.Second, change: rewrite, reload: true, want: racyNew, wantReads: 2},
		{name: "old file", readAt: racyWindow, want: racyOld, wantReads: 1},
		{name: "old file, next run", readAt: time.Hour, reload: true, want: racyOld, wantReads: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, st := writeRacyFile(t)
			clock := func() time.Time { return stampOf(st).Add(tc.readAt) }
			cache := StatCachePath(filepath.Join(t.TempDir(), "wd"))
			d := NewDigester(cache)
			d.now = clock
			got, err := d.fileDigest(t.Context(), p, st)
			if err != nil || got != sumOf(racyOld) {
				t.Fatalf("first digest = %.12s, %v; want %.12s", got, err, sumOf(racyOld))
			}
			if tc.change != nil {
				tc.change(t, p, st)
			}
			reads := d.Reads
			if tc.reload {
				if err := d.Save(); err != nil {
					t.Fatal(err)
				}
				d = NewDigester(cache)
				d.now = clock
			}
			// the stat a rewrite in the same tick leaves: the one of the first read
			got, err = d.fileDigest(t.Context(), p, st)
			if tc.reload {
				reads += d.Reads
			} else {
				reads = d.Reads
			}
			if err != nil || got != sumOf(tc.want) {
				t.Errorf("digest after the change = %.12s, %v; want %.12s (of %q)", got, err, sumOf(tc.want), tc.want)
			}
			if reads != tc.wantReads {
				t.Errorf("%d content reads, want %d", reads, tc.wantReads)
			}
		})
	}
}

// TestStatCacheRacyEntryBecomesClean: a racy file is read at every lookup
// until a read starts racyWindow after its timestamp; from then on its
// digest is remembered (also in the saved cache) and it is not read again.
func TestStatCacheRacyEntryBecomesClean(t *testing.T) {
	p, st := writeRacyFile(t)
	cache := StatCachePath(filepath.Join(t.TempDir(), "wd"))
	var at time.Duration
	clock := func() time.Time { return stampOf(st).Add(at) }
	d := NewDigester(cache)
	d.now = clock
	for i, step := range []struct {
		at        time.Duration // the clock, after the file's timestamp
		reload    bool          // a fresh digester over the saved cache first
		wantReads int           // of the digester in use, after the lookup
	}{
		{at: 0, wantReads: 1},
		{at: time.Second, wantReads: 2},                   // still racy: read again
		{at: time.Second, reload: true, wantReads: 1},     // not saved either
		{at: racyWindow, wantReads: 2},                    // read late enough: remembered
		{at: racyWindow + time.Second, wantReads: 2},      // from memory
		{at: time.Hour, reload: true, wantReads: 0},       // from the saved cache
		{at: racyWindow - time.Millisecond, wantReads: 0}, // a clock set back does not matter for a clean entry
	} {
		at = step.at
		if step.reload {
			if err := d.Save(); err != nil {
				t.Fatal(err)
			}
			d = NewDigester(cache)
			d.now = clock
		}
		got, err := d.fileDigest(t.Context(), p, st)
		if err != nil || got != sumOf(racyOld) {
			t.Fatalf("lookup %d: digest %.12s, %v; want %.12s", i, got, err, sumOf(racyOld))
		}
		if d.Reads != step.wantReads {
			t.Errorf("lookup %d at +%v: %d reads, want %d", i, step.at, d.Reads, step.wantReads)
		}
	}
}

// TestRacyStamp: the ctime decides where it is known (Linux), the mtime
// otherwise; a timestamp exactly racyWindow before the read is old enough.
func TestRacyStamp(t *testing.T) {
	readAt := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ns := func(d time.Duration) int64 { return readAt.Add(d).UnixNano() }
	for _, tc := range []struct {
		name         string
		mtime, ctime int64
		want         bool
	}{
		{"old ctime and mtime", ns(-time.Hour), ns(-time.Hour), false},
		{"ctime in the tick of the read", ns(-time.Hour), ns(-time.Millisecond), true},
		{"ctime a moment after the read started", ns(-time.Hour), ns(time.Millisecond), true},
		{"mtime set back (touch -d), ctime of the touch", ns(-24 * time.Hour), ns(-time.Second), true},
		{"mtime in the future, old ctime", ns(time.Hour), ns(-time.Hour), false},
		{"ctime exactly racyWindow old", ns(-time.Hour), ns(-racyWindow), false},
		{"ctime one ns inside racyWindow", ns(-time.Hour), ns(-racyWindow + 1), true},
		{"no ctime, recent mtime", ns(-time.Second), 0, true},
		{"no ctime, old mtime", ns(-time.Hour), 0, false},
		{"no ctime, mtime in the future", ns(time.Hour), 0, true},
	} {
		if got := racy(tc.mtime, tc.ctime, readAt); got != tc.want {
			t.Errorf("%s: racy = %v, want %v", tc.name, got, tc.want)
		}
	}
}
