package pipeline

import (
	"bytes"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzStatCache: the stat cache parser keeps only well-formed lines: a
// 64-digit lowercase hex sha256 (what Save writes and digests compare
// with), a non-empty path, and the newline Save ends every line with (a
// last line cut short by a crash or a full disk is a cache miss, not an
// entry for a shorter path). What it keeps survives Save and a reload
// unchanged, and Save's output is its own fixed point.
func FuzzStatCache(f *testing.F) {
	sum := strings.Repeat("0123456789abcdef", 4)
	f.Add([]byte(statCacheHeader + sum + "\t5\t1700000000000000000\t1700000000000000001\t/data/a.jpg\n"))
	f.Add([]byte(statCacheHeader + sum + "\t5\t17\t18\t/data/with\ttab\n" + sum + "\t-1\t0\t0\t/x\n"))
	f.Add([]byte(statCacheHeader + sum + "\t5\t17\t18\t/data/a.jpg\n" + sum + "\t5\t17\t18\t/data/a.j"))
	f.Add([]byte("coderflow statcache 1\n" + sum + "\t5\t17\t/data/a.jpg\n"))
	f.Add([]byte(statCacheHeader + strings.ToUpper(sum) + "\t5\t17\t18\t/a\n"))
	f.Add([]byte(statCacheHeader + "\n\n\t\t\t\t\n"))
	file := filepath.Join(f.TempDir(), "statcache")
	f.Fuzz(func(t *testing.T, data []byte) {
		m := parseStatCache(data)
		for p, e := range m {
			if p == "" || strings.ContainsRune(p, '\n') {
				t.Fatalf("entry for path %q", p)
			}
			if len(e.SHA256) != 64 || strings.ToLower(e.SHA256) != e.SHA256 {
				t.Fatalf("entry %q: sha256 %q is not 64 lowercase hex digits", p, e.SHA256)
			}
			if _, err := hex.DecodeString(e.SHA256); err != nil {
				t.Fatalf("entry %q: sha256 %q is not hex", p, e.SHA256)
			}
			if !bytes.Contains(data, []byte("\t"+p+"\n")) {
				t.Fatalf("entry %q: no line ends with that path and a newline", p)
			}
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d := NewDigester(file)
		if !maps.Equal(d.cache, m) {
			t.Fatalf("NewDigester loaded %v, parseStatCache %v", d.cache, m)
		}
		d.dirty = true
		if err := d.Save(); err != nil {
			t.Fatal(err)
		}
		saved, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := parseStatCache(saved); !maps.Equal(got, m) {
			t.Fatalf("after Save and reload: %v, want %v", got, m)
		}
		d2 := NewDigester(file)
		d2.dirty = true
		if err := d2.Save(); err != nil {
			t.Fatal(err)
		}
		if again, _ := os.ReadFile(file); !bytes.Equal(again, saved) {
			t.Fatalf("Save is not a fixed point:\n%q\n%q", saved, again)
		}
	})
}

// TestStatCacheDamagedLines: a last line without its newline (a file cut
// short) and a sha256 that is not lowercase hex are not entries; the
// intact lines around them are.
func TestStatCacheDamagedLines(t *testing.T) {
	sum := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		name string
		data string
		want []string
	}{
		{"cut last line", statCacheHeader + sum + "\t5\t17\t18\t/data/a.jpg\n" + sum + "\t5\t17\t18\t/data/b.j", []string{"/data/a.jpg"}},
		{"upper-case sum", statCacheHeader + strings.ToUpper(sum) + "\t5\t17\t18\t/data/a.jpg\n" + sum + "\t5\t17\t18\t/data/b.jpg\n", []string{"/data/b.jpg"}},
		{"non-hex sum", statCacheHeader + strings.Repeat("zz", 32) + "\t5\t17\t18\t/data/a.jpg\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := parseStatCache([]byte(tc.data))
			var got []string
			for p := range m {
				got = append(got, p)
			}
			slices.Sort(got)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("entries %q, want %q", got, tc.want)
			}
		})
	}
}
