package kg

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
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
	return out
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
	for _, l := range Loaders {
		dirs[l] = filepath.Join(t.TempDir(), l)
		stats[l] = buildStore(t, dirs[l], l, edges, 10000)
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

// degrees lists what a closed builder reports through Concepts.
func degrees(t *testing.T, b Builder) []NodeDegree {
	t.Helper()
	var out []NodeDegree
	if err := b.Concepts(func(n NodeDegree) error { out = append(out, n); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLoadersCountDuplicatesAlike: an edge asserted more than once (WordNet
// repeats 18,610 of its edges) is stored and counted once by both loaders,
// whatever the batch size: same quad count, same kg_nodes degrees, same
// quads and node reference counts in the store. Cayley's QuadWriter alone
// drops a repeat only within one WriteQuads call (and even then counts the
// node references of every copy), so the QuadWriter loader used to count
// every copy in the degrees and keep a batch-dependent number of duplicate
// quads.
func TestLoadersCountDuplicatesAlike(t *testing.T) {
	edges := readSample(t)[:40]
	// Repeats right after the original (one batch) and far from it
	// (another batch), and one twice.
	in := slices.Clone(edges)
	in = slices.Insert(in, 1, edges[0])
	in = append(in, edges[5], edges[7], edges[5])
	build := func(loader string, batch int) (string, BuildStats, []NodeDegree) {
		dir := filepath.Join(t.TempDir(), loader)
		b, err := NewBuilder(dir, loader, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(in); i += 3 {
			if err := b.Add(in[i:min(i+3, len(in))]); err != nil {
				t.Fatal(err)
			}
		}
		st, err := b.Close()
		if err != nil {
			t.Fatal(err)
		}
		return dir, st, degrees(t, b)
	}
	bdir, bst, bdeg := build(LoaderBulk, 0)
	if want := int64(len(qbWant(in))); bst.Quads != want || bst.Edges != int64(len(in)) {
		t.Fatalf("bulk: %+v, want %d quads from %d edges", bst, want, len(in))
	}
	for _, batch := range []int{1, 2, 5, 10000} {
		qdir, qst, qdeg := build(LoaderQuadWriter, batch)
		if qst.Quads != bst.Quads || qst.Edges != bst.Edges {
			t.Errorf("batch %d: quadwriter stats %+v, bulk %+v", batch, qst, bst)
		}
		if !slices.Equal(qdeg, bdeg) {
			t.Errorf("batch %d: quadwriter degrees %v, bulk %v", batch, qdeg, bdeg)
		}
		// Every quad stored once (allQuads lists stored duplicates).
		if a, b := allQuads(t, qdir), allQuads(t, bdir); !reflect.DeepEqual(a, b) {
			t.Errorf("batch %d: quads differ: quadwriter %d, bulk %d", batch, len(a), len(b))
		}
		if rq, rb := refcounts(t, qdir), refcounts(t, bdir); !reflect.DeepEqual(rq, rb) {
			t.Errorf("batch %d: node reference counts differ from bulk's", batch)
		}
	}
}

// laterCtx is a context that is done from its n-th Err call on.
type laterCtx struct {
	context.Context
	n, calls int
}

func (c *laterCtx) Err() error {
	if c.calls++; c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// TestCloseContext: both builders stop with the context's error when it is
// done before Close or while the bulk loader writes the store, instead of
// writing the whole store first.
func TestCloseContext(t *testing.T) {
	edges := readSample(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, l := range Loaders {
		b, err := NewBuilder(filepath.Join(t.TempDir(), l), l, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(edges); err != nil {
			t.Fatal(err)
		}
		if st, err := b.CloseContext(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: CloseContext with a cancelled context: %+v, %v", l, st, err)
		}
	}
	// Done in the middle of writing the bulk store: the bolt writer checks
	// the context every ctxEvery puts (the sample makes fewer puts: check
	// from the first put on).
	old := ctxEvery
	t.Cleanup(func() { ctxEvery = old })
	ctxEvery = 1
	b, err := NewBuilder(filepath.Join(t.TempDir(), "mid"), LoaderBulk, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(edges); err != nil {
		t.Fatal(err)
	}
	lc := &laterCtx{Context: t.Context(), n: 10}
	if st, err := b.CloseContext(lc); !errors.Is(err, context.Canceled) || lc.calls != lc.n {
		t.Errorf("bulk: CloseContext with a context done after %d checks: %+v, %v (%d checks)", lc.n, st, err, lc.calls)
	}
}

// TestNeighborsTermSpelling: a term is found however a caption writes it:
// "Hot  Dog" (case, repeated spaces) and "t-shirt" (ConceptNet writes
// hyphenated words with underscores: /c/en/t_shirt, as Linker.Lemma
// assumes) have the neighbours of hot_dog and t_shirt.
func TestNeighborsTermSpelling(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	buildStore(t, dir, LoaderBulk, []Edge{
		{Rel: "/r/IsA", Start: "hot_dog", End: "food", Weight: 1, Dataset: "/d/x"},
		{Rel: "/r/IsA", Start: "t_shirt", End: "garment", Weight: 1, Dataset: "/d/x"},
	}, 0)
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for term, want := range map[string]string{"hot dog": "food", "Hot  Dog": "food", " hot_dog ": "food", "t-shirt": "garment", "T-Shirt": "garment", "/c/en/t_shirt/n": "garment"} {
		ns, err := s.Neighbors(t.Context(), term, "")
		if err != nil || len(ns) != 1 || ns[0].Concept != want {
			t.Errorf("Neighbors(%q) = %v, %v; want %s", term, ns, err, want)
		}
	}
}

// TestOpenStoreDamagedFile: a damaged store file gives errors naming it,
// never a crash or a hang. A file cut short (a copy or download stopped
// midway) was read past its end through bolt's mmap, a SIGBUS that killed
// the process; a zeroed page made bolt panic inside OpenStore or a query,
// and the panic left a read transaction open, so the Close deferred by the
// caller (kg.link; the engine turns a stage's panic into an error) waited
// forever.
func TestOpenStoreDamagedFile(t *testing.T) {
	src := t.TempDir()
	buildStore(t, src, LoaderBulk, readSample(t), 100)
	orig, err := os.ReadFile(filepath.Join(src, BoltFile))
	if err != nil {
		t.Fatal(err)
	}
	query := func(dir string) error {
		s, err := OpenStore(dir)
		if err != nil {
			return err
		}
		_, err1 := s.Neighbors(t.Context(), "test", "")
		_, err2 := s.EdgesAmong(t.Context(), []string{"test", "breeze", "recess", "hard_questions"})
		s.Has("test")
		err3 := s.Close() // must return
		return cmp.Or(err1, err2, err3)
	}
	t.Run("cut short", func(t *testing.T) {
		for _, n := range []int{len(orig) / 2, len(orig) - 4096, 4 * 4096} {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, BoltFile), orig[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			err := query(dir)
			if err == nil || !strings.Contains(err.Error(), BoltFile) || !strings.Contains(err.Error(), "cut short") {
				t.Errorf("%d of %d bytes: err = %v, want an error saying the file is cut short", n, len(orig), err)
			}
		}
	})
	t.Run("zeroed page", func(t *testing.T) {
		const page = 4096
		damaged := 0
		for off := 2 * page; off < len(orig); off += page { // pages 0 and 1 are bolt's checksummed meta pages
			b := slices.Clone(orig)
			clear(b[off : off+page])
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, BoltFile), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := query(dir); err != nil {
				if !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), dir) {
					t.Errorf("page at %d zeroed: err = %v, want one saying %s is damaged", off, err, dir)
				}
				damaged++
			}
		}
		if damaged == 0 {
			t.Error("no zeroed page was noticed")
		}
	})
}
