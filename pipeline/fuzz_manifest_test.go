package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzKey is the cache key of the artifact fuzzArtifact makes.
var fuzzKey = strings.Repeat("ab", 32)

// fuzzMTime is the fixed modification time of fuzzArtifact's files, so
// that a manifest found in one fuzz worker verifies in another.
var fuzzMTime = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

// fuzzFiles are the files of fuzzArtifact's artifact. A file of the same
// name and content as a.txt also lies next to the artifact directory, where
// a manifest path "../a.txt" would reach it.
var fuzzFiles = map[string]string{"a.txt": "alpha", "t/part-0.parquet": "table bytes"}

// fuzzArtifact makes a sealed-looking artifact under a new temporary
// workdir and returns its directory and the manifest that describes it.
func fuzzArtifact(t testing.TB) (dir string, manifest []byte) {
	root := t.TempDir()
	dir = filepath.Join(root, "cache", "k", fuzzKey)
	put := func(p, content string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, fuzzMTime, fuzzMTime); err != nil {
			t.Fatal(err)
		}
	}
	m := Manifest{Engine: EngineSalt, Stage: "s", Kind: "k", Version: "1", Key: fuzzKey,
		Params: map[string]any{"n": 1.0, "name": "x"}, Inputs: []InputRef{{Stage: "up", Kind: "u", Key: strings.Repeat("cd", 32)}},
		Tables:  []TableEntry{{Name: "t", Files: []string{"t/part-0.parquet"}, Rows: 3}},
		Metrics: map[string]float64{"loss": 0.5}, Info: map[string]any{"skipped": 0.0}, Summary: "3 rows",
		Start: fuzzMTime, End: fuzzMTime.Add(time.Second), Seconds: 1}
	for _, rel := range []string{"a.txt", "t/part-0.parquet"} {
		put(filepath.Join(dir, filepath.FromSlash(rel)), fuzzFiles[rel])
		sum := sha256.Sum256([]byte(fuzzFiles[rel]))
		m.Files = append(m.Files, FileEntry{Path: rel, Size: int64(len(fuzzFiles[rel])), SHA256: hex.EncodeToString(sum[:]), MTime: fuzzMTime.UnixNano()})
	}
	put(filepath.Join(root, "cache", "k", "a.txt"), fuzzFiles["a.txt"])
	b, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return dir, b
}

// FuzzReadManifest: ReadManifest decodes a manifest as encoding/json does
// (the same error or success, the same values; nesting deeper than
// maxJSONDepth is an error besides), names the file in its
// errors, and a damaged manifest never makes verifyArtifact report a hit
// unless every file it lists lies inside the artifact, holds its listed
// size, and either has its sealed mtime or still its listed sha256.
func FuzzReadManifest(f *testing.F) {
	_, good := fuzzArtifact(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(bytes.Replace(good, []byte(`"a.txt"`), []byte(`"../a.txt"`), 1))
	f.Add(bytes.Replace(good, []byte(`"size": 5`), []byte(`"size": 6`), 1))
	f.Add([]byte(`{"key":"` + fuzzKey + `","files":[],"tables":[]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"key":"` + fuzzKey + `","files":[{"path":"a.txt","size":5}],"tables":[{"name":"t","files":["a.txt"]}]}`))
	dir, _ := fuzzArtifact(f)
	mp := filepath.Join(dir, ManifestName)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(mp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(dir)
		var want Manifest
		jerr := json.Unmarshal(data, &want)
		if jerr == nil && jsonDepth(data) != nil {
			jerr = jsonDepth(data) // deeper than a manifest may nest
		}
		switch {
		case err != nil && !strings.Contains(err.Error(), mp):
			t.Errorf("error does not name %s: %v", mp, err)
		case (err == nil) != (jerr == nil):
			t.Errorf("ReadManifest error %v, encoding/json error %v", err, jerr)
		case err == nil:
			a, _ := json.Marshal(m)
			b, _ := json.Marshal(&want)
			if !bytes.Equal(a, b) {
				t.Errorf("ReadManifest decoded\n%s\nencoding/json decoded\n%s", a, b)
			}
		}
		vm, verr := verifyArtifact(context.Background(), dir, fuzzKey, nil)
		if verr != nil {
			return
		}
		if vm.Key != fuzzKey {
			t.Fatalf("hit for key %q", vm.Key)
		}
		listed := map[string]bool{}
		for _, fe := range vm.Files {
			listed[fe.Path] = true
			p := filepath.Join(dir, filepath.FromSlash(fe.Path))
			if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				t.Fatalf("hit with file %q outside the artifact (%s)", fe.Path, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("hit with unreadable file %q: %v", fe.Path, err)
			}
			sum := sha256.Sum256(b)
			if int64(len(b)) != fe.Size || (fe.MTime != fuzzMTime.UnixNano() && hex.EncodeToString(sum[:]) != fe.SHA256) {
				t.Fatalf("hit with file %q of %d bytes (sha256 %x) for manifest entry %+v", fe.Path, len(b), sum, fe)
			}
		}
		for _, tb := range vm.Tables {
			for _, tf := range tb.Files {
				if !listed[tf] {
					t.Fatalf("hit with table %s file %q not among the files", tb.Name, tf)
				}
			}
		}
	})
}

// TestManifestPathOutsideArtifact: a manifest whose file or table path
// leaves the artifact ("../a.txt", reaching a file of the right size and
// mtime next to it) is not a cache hit, and the reason names the manifest.
// The intact manifest of the same artifact is a hit.
func TestManifestPathOutsideArtifact(t *testing.T) {
	dir, good := fuzzArtifact(t)
	mp := filepath.Join(dir, ManifestName)
	for _, tc := range []struct {
		name     string
		manifest []byte
		hit      bool
	}{
		{"intact", good, true},
		{"file and table ../a.txt", bytes.ReplaceAll(good, []byte(`"t/part-0.parquet"`), []byte(`"../a.txt"`)), false},
		{"file ../a.txt", bytes.Replace(good, []byte(`"a.txt"`), []byte(`"../a.txt"`), 1), false},
		{"absolute", bytes.Replace(good, []byte(`"a.txt"`), []byte(`"`+filepath.Join(filepath.Dir(dir), "a.txt")+`"`), 1), false},
		{"empty path", bytes.Replace(good, []byte(`"a.txt"`), []byte(`""`), 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(mp, tc.manifest, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := verifyArtifact(t.Context(), dir, fuzzKey, nil)
			if tc.hit {
				if err != nil {
					t.Fatalf("intact artifact: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("a manifest listing a file outside the artifact is a cache hit")
			}
			if !strings.Contains(err.Error(), mp) {
				t.Errorf("error %q does not name %s", err, mp)
			}
		})
	}
}

// TestManifestDeepNesting: a manifest nesting arrays more than 128 deep
// is an error naming it; at 5,000,000 levels (a 10 MB file) the decoder's
// recursion used to overflow the goroutine stack, a fatal error that
// killed status and run, and at 10,000 levels it took a second per value.
// 128 levels decode.
func TestManifestDeepNesting(t *testing.T) {
	for _, tc := range []struct {
		depth int
		ok    bool
	}{{128 - 2, true}, {129 - 2, false}, {10000 - 2, false}, {5000000, false}} {
		t.Run(strconv.Itoa(tc.depth), func(t *testing.T) {
			dir := t.TempDir()
			// the manifest object and its params are two of the levels
			s := `{"key":"` + fuzzKey + `","params":{"a":` + strings.Repeat("[", tc.depth) + strings.Repeat("]", tc.depth) + `}}`
			if err := os.WriteFile(filepath.Join(dir, ManifestName), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadManifest(dir)
			if (err == nil) != tc.ok {
				t.Fatalf("ReadManifest: %.200v; want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), filepath.Join(dir, ManifestName)) {
				t.Errorf("error %q does not name the manifest", err)
			}
		})
	}
}
