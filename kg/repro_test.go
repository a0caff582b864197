package kg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cayleygraph/quad"
	bolt "go.etcd.io/bbolt"

	"coderflow/kg/embedded"
)

// buildEmbedded builds the embedded edge file into dir with the bulk loader,
// as the kg.conceptnet stage does by default, and returns the sha256 of
// the bolt file.
func buildEmbedded(t *testing.T, dir string) string {
	t.Helper()
	b, err := NewBuilder(dir, LoaderBulk, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConceptNet(context.Background(), bytes.NewReader(embedded.Edges()), embedded.EdgesFile, ReadOptions{},
		func(es []Edge) error { return b.Add(es) }); err != nil {
		b.Abort()
		t.Fatal(err)
	}
	if _, err := b.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, BoltFile))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// TestBulkStoreReproducible: two bulk builds of the same edges give
// byte-identical bolt files (no wall-clock timestamps in the log, and
// bolt's page allocation does not depend on Go's map order).
func TestBulkStoreReproducible(t *testing.T) {
	want := buildEmbedded(t, filepath.Join(t.TempDir(), "a"))
	for i := range 4 {
		if got := buildEmbedded(t, filepath.Join(t.TempDir(), "b")); got != want {
			t.Fatalf("rebuild %d: indexes.bolt sha256 %s, first build %s", i+1, got, want)
		}
	}
}

// sameHashPrefix are concepts whose value hashes share their first two
// bytes (c4 24 and 17 1d), so the bulk loader's "n"/"v" value buckets for
// those prefixes hold 32 keys each: too many to be stored inline in the
// root bucket (bolt inlines a bucket up to a quarter page).
var sameHashPrefix = [2][]string{
	strings.Fields("n1201 n59754 n67473 n84347 n112927 n120428 n143010 n146026 n185080 n238046 n243456 " +
		"n322656 n386117 n387488 n394019 n448359 n466284 n469881 n490705 n492922 n612696 n642828 n663361 " +
		"n682327 n754489 n759066 n762957 n773075 n807896 n829591 n840322 n868347"),
	strings.Fields("n7866 n56319 n117436 n139794 n155194 n247371 n283698 n313777 n314316 n333116 n338057 " +
		"n359066 n402610 n427974 n466430 n525226 n549171 n595521 n638808 n681104 n728374 n759752 n769244 " +
		"n812921 n839472 n843890 n848228 n863714 n878688 n879086 n892174 n892649"),
}

// TestBulkStoreReproducibleValueBuckets: the value buckets too are
// byte-reproducible when several of them are too large to be inline (their
// pages are allocated in a fixed order).
func TestBulkStoreReproducibleValueBuckets(t *testing.T) {
	var names []string
	var prefixes [][2]byte
	for _, group := range sameHashPrefix {
		var h [quad.HashSize]byte
		for i, c := range group {
			quad.HashTo(quad.IRI(ConceptURI(c)), h[:])
			if i == 0 {
				prefixes = append(prefixes, [2]byte{h[0], h[1]})
			} else if p := prefixes[len(prefixes)-1]; h[0] != p[0] || h[1] != p[1] {
				t.Fatalf("%s: hash prefix %x, want %x", c, h[:2], p)
			}
		}
		names = append(names, group...)
	}
	var edges []Edge
	for i, c := range names {
		edges = append(edges, Edge{Start: c, Rel: "/r/RelatedTo", End: names[(i+1)%len(names)], Weight: 1, Dataset: "/d/test"})
	}
	build := func() (string, string) {
		dir := filepath.Join(t.TempDir(), "s")
		buildStore(t, dir, LoaderBulk, edges, 0)
		data, err := os.ReadFile(filepath.Join(dir, BoltFile))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(data)
		return hex.EncodeToString(h[:]), dir
	}
	want, dir := build()
	// The test is about non-inline value buckets: check there are some.
	db, err := bolt.Open(filepath.Join(dir, BoltFile), 0o444, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bolt.Tx) error {
		for _, p := range prefixes {
			for _, kind := range []byte{'n', 'v'} {
				if b := tx.Bucket([]byte{kind, p[0], p[1]}); b == nil || b.Root() == 0 {
					t.Errorf("bucket %c%x is missing or inline", kind, p)
				}
			}
		}
		return nil
	})
	db.Close()
	for i := range 4 {
		if got, _ := build(); got != want {
			t.Fatalf("rebuild %d: indexes.bolt sha256 %s, first build %s", i+1, got, want)
		}
	}
}
