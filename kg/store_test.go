package kg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cayleygraph/cayley"
	"github.com/cayleygraph/cayley/graph"
	"github.com/cayleygraph/cayley/graph/kv"
	cproto "github.com/cayleygraph/cayley/graph/proto"
	"github.com/cayleygraph/quad"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

func TestAppendPrimitiveMatchesProto(t *testing.T) {
	for _, p := range []*cproto.Primitive{
		{ID: 1, Timestamp: 1700000000123456789, Value: []byte{1, 2, 3}},
		{ID: 300, Subject: 1, Predicate: 2, Object: 70000, Label: 4, Timestamp: 5},
		{ID: 9, Subject: 1, Predicate: 2, Object: 3, Timestamp: 1},
	} {
		want, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got := appendPrimitive(nil, p.ID, p.Subject, p.Predicate, p.Object, p.Label, p.Timestamp, p.Value)
		if !bytes.Equal(got, want) {
			t.Errorf("appendPrimitive(%v) = %x, proto.Marshal = %x", p, got, want)
		}
	}
}

func readSample(t testing.TB) []Edge {
	t.Helper()
	var edges []Edge
	_, err := ReadConceptNetFile(context.Background(), "testdata/conceptnet-sample.csv", ReadOptions{}, func(b []Edge) error {
		edges = append(edges, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return edges
}

func buildStore(t testing.TB, dir, loader string, edges []Edge, batch int) BuildStats {
	t.Helper()
	b, err := NewBuilder(dir, loader, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(edges); i += 100 {
		if err := b.Add(edges[i:min(i+100, len(edges))]); err != nil {
			t.Fatal(err)
		}
	}
	st, err := b.Close()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// allQuads lists every quad of a store opened with Cayley's own API.
func allQuads(t *testing.T, dir string) []string {
	t.Helper()
	h, err := cayley.NewGraph(Backend, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var out []string
	it := h.QuadsAllIterator().Iterate()
	defer it.Close()
	for it.Next(t.Context()) {
		q, err := h.Quad(it.Result())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%v %v", q, q.Label))
	}
	slices.Sort(out)
	// Cayley's QuadWriter may store a duplicate quad when both copies arrive
	// in different WriteQuads calls before its index buffer is flushed.
	return slices.Compact(out)
}

// bucketDump returns key->value of the hash-keyed refcount buckets, which do
// not depend on id assignment.
func refcounts(t *testing.T, dir string) map[string]string {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, BoltFile), 0o444, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := map[string]string{}
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if name[0] != 'n' || len(name) != 3 {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				m[string(name)+string(k)] = fmt.Sprint(v)
				return nil
			})
		})
	})
	return m
}

func TestLoadersAgree(t *testing.T) {
	edges := readSample(t)
	if len(edges) < 50 {
		t.Fatalf("sample gave %d English edges", len(edges))
	}
	// A duplicate edge must be stored once by both loaders.
	edges = append(edges, edges[0], edges[1])
	dirs := map[string]string{}
	stats := map[string]BuildStats{}
	// Cayley's writer counts node references per input quad, duplicates
	// included, so it gets distinct edges; the bulk loader gets duplicates.
	var distinct []Edge
	seenEdge := map[Edge]bool{}
	for _, e := range edges {
		if !seenEdge[e] {
			seenEdge[e] = true
			distinct = append(distinct, e)
		}
	}
	for _, l := range Loaders {
		dirs[l] = filepath.Join(t.TempDir(), l)
		in := edges
		if l == LoaderQuadWriter {
			in = distinct
		}
		stats[l] = buildStore(t, dirs[l], l, in, 10000)
	}
	// Several small WriteQuads batches give the same graph.
	small := filepath.Join(t.TempDir(), "small")
	buildStore(t, small, LoaderQuadWriter, edges, 7)
	if a, b := allQuads(t, small), allQuads(t, dirs[LoaderBulk]); !reflect.DeepEqual(a, b) {
		t.Errorf("quadwriter with batch 7: %d distinct quads, bulk %d", len(a), len(b))
	}
	if stats[LoaderBulk].Quads != stats[LoaderQuadWriter].Quads || stats[LoaderBulk].Quads != int64(len(qbWant(edges))) {
		t.Errorf("quads: bulk %d, quadwriter %d, want %d", stats[LoaderBulk].Quads, stats[LoaderQuadWriter].Quads, len(qbWant(edges)))
	}
	qb, qw := allQuads(t, dirs[LoaderBulk]), allQuads(t, dirs[LoaderQuadWriter])
	if !reflect.DeepEqual(qb, qw) {
		t.Fatalf("quads differ: bulk %d, quadwriter %d", len(qb), len(qw))
	}
	if rb, rw := refcounts(t, dirs[LoaderBulk]), refcounts(t, dirs[LoaderQuadWriter]); !reflect.DeepEqual(rb, rw) {
		for k, v := range rb {
			if rw[k] != v {
				t.Errorf("refcount %x: bulk %s, quadwriter %s", k, v, rw[k])
			}
		}
	}
	sb, err := OpenStore(dirs[LoaderBulk])
	if err != nil {
		t.Fatal(err)
	}
	sw, err := OpenStore(dirs[LoaderQuadWriter])
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range edges {
		for _, c := range []string{e.Start, e.End} {
			if seen[c] {
				continue
			}
			seen[c] = true
			nb, err := sb.Neighbors(t.Context(), c, "")
			if err != nil {
				t.Fatal(err)
			}
			nw, err := sw.Neighbors(t.Context(), c, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(nb) == 0 || !reflect.DeepEqual(nb, nw) {
				t.Fatalf("neighbors(%q): bulk %v, quadwriter %v", c, nb, nw)
			}
		}
	}
	sb.Close()
	sw.Close()
	// The bulk store accepts further writes through Cayley (its indexes,
	// counters and value buckets are consistent).
	h, err := cayley.NewGraph(Backend, dirs[LoaderBulk], nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddQuad(quad.Make(quad.IRI("/c/en/zebra"), quad.IRI("/r/IsA"), quad.IRI("/c/en/test"), nil)); err != nil {
		t.Fatal(err)
	}
	if err := h.AddQuad(EdgeQuad(edges[0])); err != graph.ErrQuadExists && err != nil {
		t.Fatal(err)
	}
	st, _ := h.Stats(t.Context(), false)
	if st.Quads.Value != stats[LoaderBulk].Quads+1 {
		t.Errorf("after adding one quad: %d quads, want %d", st.Quads.Value, stats[LoaderBulk].Quads+1)
	}
	h.Close()
}

// qbWant returns the distinct (start, rel, end, dataset, weight) edges.
func qbWant(edges []Edge) map[Edge]bool {
	m := map[Edge]bool{}
	for _, e := range edges {
		m[e] = true
	}
	return m
}

func TestEdgesAmong(t *testing.T) {
	edges := readSample(t)
	dir := filepath.Join(t.TempDir(), "s")
	buildStore(t, dir, LoaderBulk, edges, 0)
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	terms := []string{"test", "trial", "quiz", "examination", "absent_term"}
	got, err := s.EdgesAmong(t.Context(), terms)
	if err != nil {
		t.Fatal(err)
	}
	// The same edges through Neighbors.
	var want []IndexedEdge
	for i, term := range terms {
		ns, err := s.Neighbors(t.Context(), term, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if j := slices.Index(terms, n.Concept); j >= 0 && n.Direction == Out {
				want = append(want, IndexedEdge{Src: int32(i), Dst: int32(j), Rel: n.Rel, Weight: n.Weight})
			}
		}
	}
	if len(got) == 0 || len(got) != len(want) {
		t.Fatalf("EdgesAmong: %d edges %v; via Neighbors %d %v", len(got), got, len(want), want)
	}
	// A cancelled context is an error, never a silently shorter result.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if e, err := s.EdgesAmong(ctx, terms); !errors.Is(err, context.Canceled) {
		t.Errorf("EdgesAmong with a cancelled context: %d edges, err %v", len(e), err)
	}
	if n, err := s.Neighbors(ctx, "test", ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Neighbors with a cancelled context: %d neighbours, err %v", len(n), err)
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(e IndexedEdge) bool {
			return e.Src == w.Src && e.Dst == w.Dst && e.Rel == w.Rel && e.Weight == w.Weight
		}) {
			t.Errorf("EdgesAmong lacks %+v", w)
		}
	}
}

// faultyQS is a quad store whose QuadDirection or NameOf misbehaves.
type faultyQS struct {
	graph.QuadStore
	dir    quad.Direction // QuadDirection(_, dir) fails or returns ref
	ref    graph.Ref      // returned instead of an error when err is nil
	err    error
	nameOf error // NameOf fails
}

func (f faultyQS) QuadDirection(r graph.Ref, d quad.Direction) (graph.Ref, error) {
	if f.dir != quad.Any && d == f.dir {
		return f.ref, f.err
	}
	return f.QuadStore.QuadDirection(r, d)
}

func (f faultyQS) NameOf(r graph.Ref) (quad.Value, error) {
	if f.nameOf != nil {
		return nil, f.nameOf
	}
	return f.QuadStore.NameOf(r)
}

// TestEdgesAmongErrors: a failed or empty lookup of a quad's object,
// predicate or label is an error naming the term, never a dropped edge or
// an edge with an empty relation.
func TestEdgesAmongErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	buildStore(t, dir, LoaderBulk, readSample(t), 0)
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	terms := []string{"test", "trial", "quiz", "examination"}
	if e, err := s.EdgesAmong(t.Context(), terms); err != nil || len(e) == 0 {
		t.Fatalf("EdgesAmong: %v, %v", e, err)
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		f    faultyQS
		want string
	}{
		{"ObjectError", faultyQS{dir: quad.Object, err: boom}, "object: boom"},
		{"ObjectNil", faultyQS{dir: quad.Object}, "quad without object"},
		{"PredicateError", faultyQS{dir: quad.Predicate, err: boom}, "predicate: boom"},
		{"PredicateNil", faultyQS{dir: quad.Predicate}, "quad without predicate"},
		{"PredicateNoValue", faultyQS{dir: quad.Predicate, ref: kv.Int64Value(1 << 40)}, "has no value"},
		{"LabelError", faultyQS{dir: quad.Label, err: boom}, "label: boom"},
		{"LabelNoValue", faultyQS{dir: quad.Label, ref: kv.Int64Value(1 << 40)}, "has no value"},
		{"NameOfError", faultyQS{dir: quad.Any, nameOf: boom}, "predicate: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.QuadStore = s.qs
			fs := &Store{qs: f, dir: s.dir}
			e, err := fs.EdgesAmong(t.Context(), terms)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `quad from "test"`) {
				t.Fatalf("EdgesAmong = %v, %v; want an error with %q", e, err, tc.want)
			}
			if tc.f.err != nil && !errors.Is(err, tc.f.err) {
				t.Errorf("%v does not wrap %v", err, tc.f.err)
			}
		})
	}
	// A closed store is an error too.
	s2, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if e, err := s2.EdgesAmong(t.Context(), terms); err == nil {
		t.Errorf("EdgesAmong on a closed store: %v, no error", e)
	}
}
