package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzShardMarker: shard names round-trip through their marker file
// names, which are single, non-hidden file names without a NUL; and a
// marker of any content (a hand edit, damage) makes a shard done only when
// it names no file or a regular file inside the work directory: "../x"
// reaching a file next to it, or "." or "tokens" (a marker cut short),
// naming a directory, is not a committed shard. committedShards lists
// exactly the shards shardDone reports done.
func FuzzShardMarker(f *testing.F) {
	f.Add("part-00000", []byte("tokens/part-00000.parquet"))
	f.Add("../up", []byte("../outside.parquet"))
	f.Add("%2F.x", []byte(""))
	f.Add(".", []byte("\n tokens/part-00000.parquet \n"))
	f.Add("a/b", []byte("/etc/hostname"))
	f.Add("s", []byte("tokens/../../outside.parquet"))
	f.Add("s", []byte("tokens"))
	root := f.TempDir()
	dir := filepath.Join(root, "tmp", "k", "key")
	for _, p := range []string{filepath.Join(dir, "tokens", "part-00000.parquet"), filepath.Join(root, "tmp", "k", "outside.parquet")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, name string, marker []byte) {
		if name == "" {
			return
		}
		esc := escapeShard(name)
		if got := unescapeShard(esc); got != name {
			t.Fatalf("shard %q: marker %q reads back as %q", name, esc, got)
		}
		if esc == "" || strings.ContainsAny(esc, "/\x00") || strings.HasPrefix(esc, ".") {
			t.Fatalf("shard %q: marker file name %q", name, esc)
		}
		if err := os.RemoveAll(filepath.Join(dir, doneDir)); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, doneDir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shardMarker(dir, name), marker, 0o644); err != nil {
			if len(esc) > 255 {
				return // a name too long for the filesystem
			}
			t.Fatal(err)
		}
		done := shardDone(dir, name)
		if rel := strings.TrimSpace(string(marker)); done && rel != "" {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				t.Fatalf("marker %q: shard done with its file outside the work directory (%s)", marker, p)
			}
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				t.Fatalf("marker %q: shard done without its file: %v", marker, err)
			}
		}
		if got := committedShards(dir); done != slices.Equal(got, []string{name}) {
			t.Fatalf("shardDone %v, committedShards %q", done, got)
		}
	})
}
