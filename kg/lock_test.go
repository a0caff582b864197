package kg

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cayleygraph/cayley"
	"github.com/cayleygraph/cayley/graph"
	"github.com/cayleygraph/quad"
	bolt "go.etcd.io/bbolt"
)

// TestOpenStoreAlongsideCayley checks what docs/kg.md says about opening
// a store with Cayley while coderflow reads it:
//   - kg.OpenStore handles share the file, and Cayley queries run on their
//     QuadStore (the read-only way to use Cayley alongside coderflow);
//   - Cayley's own bbolt backend has no read-only option: cayley.NewGraph
//     (here with "read_only", which it ignores) waits, without a timeout,
//     for the readers to close, then holds the file exclusively;
//   - meanwhile OpenStore times out with an error that names the file and
//     the probable holder;
//   - a query-only Cayley session leaves the file's bytes and mtime as
//     they were.
func TestOpenStoreAlongsideCayley(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	buildStore(t, dir, LoaderBulk, readSample(t), 0)

	s1, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(dir)
	if err != nil {
		s1.Close()
		t.Fatal(err)
	}
	var got []string
	err = cayley.StartPath(s1.QuadStore(), quad.IRI(ConceptURI("test"))).Out(quad.IRI("/r/Synonym")).
		Iterate(t.Context()).EachValue(s1.QuadStore(), func(v quad.Value) error {
		got = append(got, iriString(v))
		return nil
	})
	if err != nil || !slices.Contains(got, ConceptURI("trial")) {
		t.Errorf("Cayley path on an OpenStore handle: %v, %v", got, err)
	}

	type opened struct {
		h   *cayley.Handle
		err error
	}
	done := make(chan opened, 1)
	go func() {
		h, err := cayley.NewGraph(Backend, dir, graph.Options{"read_only": true})
		done <- opened{h, err}
	}()
	select {
	case o := <-done:
		if o.h != nil {
			o.h.Close()
		}
		t.Errorf("cayley.NewGraph returned while kg.OpenStore readers were open (err %v): "+
			"update docs/kg.md, Cayley may now open the store read-only", o.err)
	case <-time.After(300 * time.Millisecond):
	}
	s1.Close()
	s2.Close()
	var o opened
	select {
	case o = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("cayley.NewGraph still blocked after the readers closed")
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	file := filepath.Join(dir, BoltFile)
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stBefore, _ := os.Stat(file)
	n := 0
	if err := cayley.StartPath(o.h, quad.IRI(ConceptURI("test"))).Out(quad.IRI("/r/Synonym")).
		Iterate(t.Context()).EachValue(o.h, func(quad.Value) error { n++; return nil }); err != nil || n != len(got) {
		t.Errorf("Cayley path on cayley.NewGraph: %d values (want %d), %v", n, len(got), err)
	}
	closed := false
	defer func() {
		if !closed {
			o.h.Close()
		}
	}()

	// Cayley holds the file read-write: OpenStore says so.
	old := openTimeout
	openTimeout = 200 * time.Millisecond
	defer func() { openTimeout = old }()
	s, err := OpenStore(dir)
	if err == nil {
		s.Close()
		t.Fatal("OpenStore succeeded while Cayley held the store read-write")
	}
	if !errors.Is(err, bolt.ErrTimeout) || !strings.Contains(err.Error(), file) ||
		!strings.Contains(err.Error(), "another process probably has the store open read-write") ||
		!strings.Contains(err.Error(), "cayley") {
		t.Errorf("OpenStore while Cayley holds the store: %v", err)
	}
	if err := o.h.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	// A query-only Cayley session leaves the file as it was.
	after, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if stAfter, _ := os.Stat(file); !bytes.Equal(before, after) || !stAfter.ModTime().Equal(stBefore.ModTime()) {
		t.Errorf("a query-only cayley.NewGraph session changed %s (mtime %v -> %v)", file, stBefore.ModTime(), stAfter.ModTime())
	}
	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
