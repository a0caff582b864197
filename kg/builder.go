package kg

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cayleygraph/cayley"
	"github.com/cayleygraph/cayley/graph"
	"github.com/cayleygraph/cayley/graph/kv"
	"github.com/cayleygraph/quad"
	"github.com/cayleygraph/quad/pquads"
	bolt "go.etcd.io/bbolt"
)

// Loaders accepted by [NewBuilder].
const (
	// LoaderBulk builds the store's key-value layout in memory (node ids,
	// quad log, both quad indexes, value and refcount buckets: what
	// Cayley's KV writer would write) and writes every bucket once, in key
	// order, into bolt. Memory: about 40 bytes per edge plus the node names.
	LoaderBulk = "bulk"
	// LoaderQuadWriter streams edges through Cayley's bulk QuadWriter
	// (QuadStore.NewQuadWriter().WriteQuads) in batches. It drops repeated
	// edges itself (Cayley's writer drops a repeat only within one
	// WriteQuads call), keeping a 16-byte hash per distinct edge; besides
	// that, memory is bounded by a batch and Cayley's own buffers. It is
	// several times slower.
	LoaderQuadWriter = "quadwriter"
)

// Loaders lists the accepted loader names.
var Loaders = []string{LoaderBulk, LoaderQuadWriter}

// BuildStats describes a finished store.
type BuildStats struct {
	Edges    int64 `json:"edges"`    // edges received
	Quads    int64 `json:"quads"`    // distinct quads stored (a repeated edge is stored once)
	Nodes    int64 `json:"nodes"`    // nodes (concepts, relations and labels); 0 if unknown (LoaderQuadWriter)
	Concepts int64 `json:"concepts"` // concept nodes
}

// NodeDegree is a concept and its number of stored edges (both directions).
type NodeDegree struct {
	Concept string
	Degree  int64
}

// Builder loads edges into a new store directory.
type Builder interface {
	// Add stores a batch of edges (the slice may be reused afterwards).
	Add(edges []Edge) error
	// Close finishes the store and returns its stats; it fails with
	// ErrEmptyGraph if no edge was added. It is CloseContext with a
	// context that is never done.
	Close() (BuildStats, error)
	// CloseContext is Close that stops with ctx's error when ctx is done
	// (the bulk loader writes the whole store here: seconds to a minute
	// for ConceptNet). The directory then holds a partial store.
	CloseContext(ctx context.Context) (BuildStats, error)
	// Concepts calls fn for every concept with its degree, after Close.
	Concepts(fn func(NodeDegree) error) error
	// Abort releases resources after an error; the directory may hold a
	// partial store.
	Abort()
}

// NewBuilder creates an empty store in dir (which must not hold one) and
// returns a builder using loader (LoaderBulk or LoaderQuadWriter). batch is
// the QuadWriter batch size (ignored by the bulk loader).
func NewBuilder(dir, loader string, batch int) (Builder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("kg: %w", err)
	}
	if err := graph.InitQuadStore(Backend, dir, nil); err != nil {
		return nil, fmt.Errorf("kg: init store %s: %w", dir, err)
	}
	switch loader {
	case LoaderBulk, "":
		return &bulkBuilder{dir: dir, concepts: map[string]uint32{}, rels: map[string]uint32{}, labels: map[labelKey]uint32{}}, nil
	case LoaderQuadWriter:
		h, err := cayley.NewGraph(Backend, dir, graph.Options{"nosync": true})
		if err != nil {
			return nil, fmt.Errorf("kg: open store %s: %w", dir, err)
		}
		w, err := h.QuadStore.NewQuadWriter()
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("kg: %w", err)
		}
		if batch <= 0 {
			batch = 10000
		}
		return &qwBuilder{h: h, w: w, batch: batch, deg: map[string]int64{}, seen: map[edgeHash]struct{}{},
			seed: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}, nil
	}
	return nil, fmt.Errorf("kg: unknown loader %q (want %s or %s)", loader, LoaderBulk, LoaderQuadWriter)
}

// ---- Cayley's QuadWriter ----

type qwBuilder struct {
	h     *cayley.Handle
	w     quad.WriteCloser
	batch int
	buf   []quad.Quad
	deg   map[string]int64
	edges int64
	done  bool
	// seen holds the edges already written, so that a repeated edge is
	// stored and counted once, as the bulk loader does: Cayley's writer
	// drops a repeat only when both copies are in one WriteQuads call
	// (and counts the node references of both even then).
	seen map[edgeHash]struct{}
	seed [2]maphash.Seed
}

// edgeHash identifies a distinct edge (start, rel, end, dataset, weight):
// two independent 64-bit hashes, so a collision (which would drop an edge)
// has probability about n^2 / 2^129.
type edgeHash [2]uint64

func (b *qwBuilder) hash(e Edge) edgeHash {
	var h edgeHash
	for i, seed := range b.seed {
		var m maphash.Hash
		m.SetSeed(seed)
		for _, s := range [...]string{e.Start, e.Rel, e.End, e.Dataset} {
			m.WriteString(s)
			m.WriteByte(0)
		}
		// The weight as the bulk loader compares it (==): -0 is 0.
		w := e.Weight
		if w == 0 {
			w = 0
		}
		var wb [4]byte
		binary.LittleEndian.PutUint32(wb[:], math.Float32bits(w))
		m.Write(wb[:])
		h[i] = m.Sum64()
	}
	return h
}

// EdgeQuad returns the quad that stores e.
func EdgeQuad(e Edge) quad.Quad {
	return quad.Quad{Subject: quad.IRI(ConceptURI(e.Start)), Predicate: quad.IRI(e.Rel),
		Object: quad.IRI(ConceptURI(e.End)), Label: quad.IRI(EncodeLabel(e.Dataset, e.Weight))}
}

func (b *qwBuilder) Add(edges []Edge) error {
	for _, e := range edges {
		b.edges++
		k := b.hash(e)
		if _, dup := b.seen[k]; dup {
			continue
		}
		b.seen[k] = struct{}{}
		b.buf = append(b.buf, EdgeQuad(e))
		b.deg[e.Start]++
		b.deg[e.End]++
		if len(b.buf) >= b.batch {
			if _, err := b.w.WriteQuads(b.buf); err != nil {
				return fmt.Errorf("kg: write quads: %w", err)
			}
			b.buf = b.buf[:0]
		}
	}
	return nil
}

func (b *qwBuilder) Close() (BuildStats, error) { return b.CloseContext(context.Background()) }

func (b *qwBuilder) CloseContext(ctx context.Context) (BuildStats, error) {
	if err := ctx.Err(); err != nil {
		b.Abort()
		return BuildStats{}, err
	}
	b.done = true
	b.seen = nil
	if len(b.buf) > 0 {
		if _, err := b.w.WriteQuads(b.buf); err != nil {
			b.w.Close()
			b.h.Close()
			return BuildStats{}, fmt.Errorf("kg: write quads: %w", err)
		}
	}
	if err := b.w.Close(); err != nil {
		b.h.Close()
		return BuildStats{}, fmt.Errorf("kg: close quad writer: %w", err)
	}
	st, err := b.h.QuadStore.Stats(context.Background(), false)
	if cerr := b.h.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return BuildStats{}, fmt.Errorf("kg: %w", err)
	}
	if b.edges == 0 {
		return BuildStats{}, ErrEmptyGraph
	}
	return BuildStats{Edges: b.edges, Quads: st.Quads.Value, Concepts: int64(len(b.deg))}, nil
}

func (b *qwBuilder) Concepts(fn func(NodeDegree) error) error {
	names := make([]string, 0, len(b.deg))
	for n := range b.deg {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := fn(NodeDegree{n, b.deg[n]}); err != nil {
			return err
		}
	}
	return nil
}

func (b *qwBuilder) Abort() {
	if !b.done {
		b.done = true
		b.w.Close()
		b.h.Close()
	}
}

// ---- bulk: Cayley's KV layout built in memory, written once ----

type labelKey struct {
	ds string
	w  float32
}

type quadRec struct{ s, p, o, l uint32 } // node indexes (0-based)

type bulkBuilder struct {
	dir      string
	concepts map[string]uint32
	rels     map[string]uint32
	labels   map[labelKey]uint32
	nodes    []string // node index -> IRI
	isConc   []bool
	quads    []quadRec
	edges    int64
	stats    BuildStats
	deg      []int64
}

func (b *bulkBuilder) node(iri string, concept bool) uint32 {
	i := uint32(len(b.nodes))
	b.nodes = append(b.nodes, iri)
	b.isConc = append(b.isConc, concept)
	return i
}

func (b *bulkBuilder) concept(t string) uint32 {
	if i, ok := b.concepts[t]; ok {
		return i
	}
	i := b.node(ConceptURI(t), true)
	b.concepts[t] = i
	return i
}

func (b *bulkBuilder) Add(edges []Edge) error {
	for _, e := range edges {
		s, o := b.concept(e.Start), b.concept(e.End)
		p, ok := b.rels[e.Rel]
		if !ok {
			p = b.node(e.Rel, false)
			b.rels[e.Rel] = p
		}
		lk := labelKey{e.Dataset, e.Weight}
		l, ok := b.labels[lk]
		if !ok {
			l = b.node(EncodeLabel(e.Dataset, e.Weight), false)
			b.labels[lk] = l
		}
		b.quads = append(b.quads, quadRec{s, p, o, l})
		b.edges++
	}
	return nil
}

func (b *bulkBuilder) Abort() {}

func (b *bulkBuilder) Concepts(fn func(NodeDegree) error) error {
	names := make([]string, 0, len(b.concepts))
	for n := range b.concepts {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := fn(NodeDegree{n, b.deg[b.concepts[n]]}); err != nil {
			return err
		}
	}
	return nil
}

func cmpQuad(a, b quadRec) int {
	if c := cmp.Compare(a.s, b.s); c != 0 {
		return c
	}
	if c := cmp.Compare(a.p, b.p); c != 0 {
		return c
	}
	if c := cmp.Compare(a.o, b.o); c != 0 {
		return c
	}
	return cmp.Compare(a.l, b.l)
}

// BulkLogTimestamp is the timestamp the bulk loader writes into every
// primitive of Cayley's log bucket. Cayley (the pinned version) sets the
// field when it writes and never reads it, so a fixed value keeps the store
// byte-reproducible; 0 is omitted from the protobuf encoding, as Cayley's
// own marshaller omits a zero field. Cayley's QuadWriter (LoaderQuadWriter)
// still writes wall-clock nanoseconds.
const BulkLogTimestamp = 0

// putsPerTx bounds the dirty pages a bolt transaction holds in memory.
const putsPerTx = 1 << 20

// boltWriter writes keys in ascending order into bolt buckets, committing
// every putsPerTx puts and whenever it leaves a bucket too large to be
// stored inline in its parent.
//
// The second rule makes the file reproducible: at commit, bolt spills the
// dirty child buckets in Go map order (bbolt Bucket.spill ranges over a
// map) and allocates their pages in that order, so two non-inline buckets
// written in one transaction land on different pages from run to run.
// With at most one non-inline bucket per transaction, page allocation
// depends only on the input. (Inline buckets are serialised into the
// parent's leaf in key order and allocate nothing.)
type boltWriter struct {
	ctx  context.Context // checked every ctxEvery puts
	db   *bolt.DB
	tx   *bolt.Tx
	puts int
	all  int    // puts in all transactions
	name []byte // bucket of the last put, cached
	last *bolt.Bucket
	// size is bolt's inline size of the current bucket (its
	// Bucket.inlineable arithmetic: page header plus, per key, leaf
	// element header, key and value); maxInline is bolt's limit
	// (page size / 4).
	size, maxInline int
}

// Sizes from bbolt's page layout (page.go: pageHeaderSize,
// leafPageElementSize), used to tell whether a bucket stays inline.
const (
	boltPageHeaderSize      = 16
	boltLeafPageElementSize = 16
)

// ctxEvery is how many puts boltWriter makes between two checks of its
// context (a variable for tests).
var ctxEvery = 1 << 14

func newBoltWriter(ctx context.Context, db *bolt.DB) *boltWriter {
	return &boltWriter{ctx: ctx, db: db, maxInline: db.Info().PageSize / 4}
}

func (w *boltWriter) bucket(name []byte) (*bolt.Bucket, error) {
	if w.tx != nil && w.last != nil && bytes.Equal(name, w.name) {
		return w.last, nil
	}
	if !bytes.Equal(name, w.name) {
		if w.size > w.maxInline {
			// The bucket just finished is not inline: commit it alone.
			if err := w.commit(); err != nil {
				return nil, err
			}
		}
		w.size = boltPageHeaderSize
	}
	if w.tx == nil {
		tx, err := w.db.Begin(true)
		if err != nil {
			return nil, err
		}
		w.tx = tx
	}
	bk, err := w.tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	bk.FillPercent = 1 // keys arrive in order: pack pages full
	w.name = append(w.name[:0], name...)
	w.last = bk
	return bk, nil
}

func (w *boltWriter) put(name, k, v []byte) error {
	bk, err := w.bucket(name)
	if err != nil {
		return err
	}
	if err := bk.Put(k, v); err != nil {
		return err
	}
	w.size += boltLeafPageElementSize + len(k) + len(v)
	w.puts++
	if w.all++; w.all%ctxEvery == 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
	}
	if w.puts >= putsPerTx {
		return w.commit()
	}
	return nil
}

func (w *boltWriter) commit() error {
	if w.tx == nil {
		return nil
	}
	err := w.tx.Commit()
	w.tx, w.last, w.puts = nil, nil, 0
	return err
}

func (b *bulkBuilder) Close() (BuildStats, error) { return b.CloseContext(context.Background()) }

func (b *bulkBuilder) CloseContext(ctx context.Context) (BuildStats, error) {
	if b.edges == 0 {
		return BuildStats{}, ErrEmptyGraph
	}
	if err := ctx.Err(); err != nil {
		return BuildStats{}, err
	}
	// Distinct quads in (s,p,o,l) order: that is the "sp" index order.
	slices.SortFunc(b.quads, cmpQuad)
	b.quads = slices.Compact(b.quads)
	n := uint64(len(b.nodes))
	nq := uint64(len(b.quads))
	nodeID := func(i uint32) uint64 { return uint64(i) + 1 }
	quadID := func(j int) uint64 { return n + 1 + uint64(j) }

	refc := make([]uint32, n)
	b.deg = make([]int64, n)
	for _, q := range b.quads {
		refc[q.s]++
		refc[q.p]++
		refc[q.o]++
		refc[q.l]++
		b.deg[q.s]++
		b.deg[q.o]++
	}

	// While the log and the sp index are written, a second goroutine sorts
	// the ops permutation and hashes and sorts the node values.
	type hashed struct {
		h [quad.HashSize]byte
		i uint32
	}
	var perm []uint32
	var hs []hashed
	prep := make(chan struct{})
	go func() {
		defer close(prep)
		perm = make([]uint32, len(b.quads))
		for j := range perm {
			perm[j] = uint32(j)
		}
		slices.SortFunc(perm, func(x, y uint32) int {
			a, c := b.quads[x], b.quads[y]
			if r := cmp.Compare(a.o, c.o); r != 0 {
				return r
			}
			if r := cmp.Compare(a.p, c.p); r != 0 {
				return r
			}
			if r := cmp.Compare(a.s, c.s); r != 0 {
				return r
			}
			return cmp.Compare(x, y)
		})
		hs = make([]hashed, n)
		for i, iri := range b.nodes {
			quad.HashTo(quad.IRI(iri), hs[i].h[:])
			hs[i].i = uint32(i)
		}
		slices.SortFunc(hs, func(x, y hashed) int { return bytes.Compare(x.h[:], y.h[:]) })
	}()
	defer func() { <-prep }()

	// Map the whole expected file up front: bolt re-maps (and walks every
	// cached node) each time the file outgrows its mapping.
	mmap := max(64<<20, int(n+nq)*512)
	db, err := bolt.Open(filepath.Join(b.dir, BoltFile), 0o644, &bolt.Options{NoSync: true, NoGrowSync: true,
		Timeout: 10 * time.Second, InitialMmapSize: mmap})
	if err != nil {
		return BuildStats{}, fmt.Errorf("kg: open %s: %w", b.dir, err)
	}
	w := newBoltWriter(ctx, db)
	fail := func(err error) (BuildStats, error) {
		if w.tx != nil {
			w.tx.Rollback()
		}
		db.Close()
		return BuildStats{}, fmt.Errorf("kg: write store %s: %w", b.dir, err)
	}
	ts := int64(BulkLogTimestamp)
	var key [24]byte
	var val []byte

	// The log: node primitives (ids 1..n), then quad primitives.
	logB := []byte("log")
	for i, iri := range b.nodes {
		v, err := pquads.MarshalValue(quad.IRI(iri))
		if err != nil {
			return fail(err)
		}
		binary.BigEndian.PutUint64(key[:8], nodeID(uint32(i)))
		val = appendPrimitive(val[:0], nodeID(uint32(i)), 0, 0, 0, 0, ts, v)
		if err := w.put(logB, key[:8], bytes.Clone(val)); err != nil {
			return fail(err)
		}
	}
	for j, q := range b.quads {
		id := quadID(j)
		binary.BigEndian.PutUint64(key[:8], id)
		val = appendPrimitive(val[:0], id, nodeID(q.s), nodeID(q.p), nodeID(q.o), nodeID(q.l), ts, nil)
		if err := w.put(logB, key[:8], bytes.Clone(val)); err != nil {
			return fail(err)
		}
	}

	// Index "sp": (subject, predicate) -> quad ids; runs in the sorted quads.
	spB := indexBucket(kv.DefaultQuadIndexes[0])
	for j := 0; j < len(b.quads); {
		k := j
		val = val[:0]
		for k < len(b.quads) && b.quads[k].s == b.quads[j].s && b.quads[k].p == b.quads[j].p {
			val = binary.AppendUvarint(val, quadID(k))
			k++
		}
		binary.BigEndian.PutUint64(key[0:], nodeID(b.quads[j].s))
		binary.BigEndian.PutUint64(key[8:], nodeID(b.quads[j].p))
		if err := w.put(spB, bytes.Clone(key[:16]), bytes.Clone(val)); err != nil {
			return fail(err)
		}
		j = k
	}

	// Index "ops": (object, predicate, subject) -> quad ids.
	<-prep // the ops permutation and the value hashes, computed meanwhile
	opsB := indexBucket(kv.DefaultQuadIndexes[1])
	for j := 0; j < len(perm); {
		k := j
		a := b.quads[perm[j]]
		val = val[:0]
		for k < len(perm) {
			c := b.quads[perm[k]]
			if c.o != a.o || c.p != a.p || c.s != a.s {
				break
			}
			val = binary.AppendUvarint(val, quadID(int(perm[k])))
			k++
		}
		binary.BigEndian.PutUint64(key[0:], nodeID(a.o))
		binary.BigEndian.PutUint64(key[8:], nodeID(a.p))
		binary.BigEndian.PutUint64(key[16:], nodeID(a.s))
		if err := w.put(opsB, bytes.Clone(key[:24]), bytes.Clone(val)); err != nil {
			return fail(err)
		}
		j = k
	}
	perm = nil

	// Value buckets: "v"+h[0]+h[1] maps the value hash to the node id, and
	// "n"+h[0]+h[1] to its reference count.
	for _, prefix := range []byte{'n', 'v'} {
		for _, x := range hs {
			bk := []byte{prefix, x.h[0], x.h[1]}
			if prefix == 'v' {
				val = binary.AppendUvarint(val[:0], nodeID(x.i))
			} else {
				val = binary.AppendUvarint(val[:0], uint64(refc[x.i]))
			}
			if err := w.put(bk, bytes.Clone(x.h[:]), bytes.Clone(val)); err != nil {
				return fail(err)
			}
		}
	}

	// Meta: quad count and the id horizon.
	metaB := []byte("meta")
	var u [8]byte
	binary.LittleEndian.PutUint64(u[:], nq)
	if err := w.put(metaB, []byte("size"), bytes.Clone(u[:])); err != nil {
		return fail(err)
	}
	binary.LittleEndian.PutUint64(u[:], n+nq)
	if err := w.put(metaB, []byte("horizon"), bytes.Clone(u[:])); err != nil {
		return fail(err)
	}
	if err := w.commit(); err != nil {
		return fail(err)
	}
	if err := db.Sync(); err != nil {
		return fail(err)
	}
	if err := db.Close(); err != nil {
		return BuildStats{}, fmt.Errorf("kg: close store %s: %w", b.dir, err)
	}
	b.stats = BuildStats{Edges: b.edges, Quads: int64(nq), Nodes: int64(n), Concepts: int64(len(b.concepts))}
	b.quads = nil
	return b.stats, nil
}

// indexBucket is the bolt bucket name of a Cayley quad index: the
// direction prefixes ("sp", "ops").
func indexBucket(ind kv.QuadIndex) []byte {
	var name []byte
	for _, d := range ind.Dirs {
		name = append(name, d.Prefix())
	}
	return name
}

// appendPrimitive appends the protobuf encoding of a Cayley primitive
// (graph/proto.Primitive): fields in number order, zero values omitted, as
// the protobuf marshaller writes them.
func appendPrimitive(b []byte, id, s, p, o, l uint64, ts int64, value []byte) []byte {
	put := func(tag byte, v uint64) {
		if v != 0 {
			b = append(b, tag)
			b = binary.AppendUvarint(b, v)
		}
	}
	put(0x08, id)
	put(0x10, s)
	put(0x18, p)
	put(0x20, o)
	put(0x28, l)
	put(0x38, uint64(ts))
	if len(value) > 0 {
		b = append(b, 0x42)
		b = binary.AppendUvarint(b, uint64(len(value)))
		b = append(b, value...)
	}
	return b
}
