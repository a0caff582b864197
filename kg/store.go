package kg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cayleygraph/cayley/graph"
	"github.com/cayleygraph/cayley/graph/kv"
	cbbolt "github.com/cayleygraph/cayley/graph/kv/bbolt"
	"github.com/cayleygraph/quad"
	hbbolt "github.com/hidal-go/hidalgo/kv/bbolt"
	bolt "go.etcd.io/bbolt"
)

// Backend is the Cayley backend name of stores written here ("bbolt").
// Cayley opens one with cayley.NewGraph(kg.Backend, dir, nil) after
// importing github.com/cayleygraph/cayley/graph/kv/bbolt, but read-write
// with an exclusive lock and no timeout (the backend has no read-only
// option), which blocks, and is blocked by, every [OpenStore] reader; to
// query alongside coderflow use [OpenStore] and [Store.QuadStore].
const Backend = cbbolt.Type

// StoreDirName is the directory of the graph store inside a kg.conceptnet
// artifact; the bolt file is StoreDirName/indexes.bolt.
const StoreDirName = "graph"

// BoltFile is the name of the bolt file inside a store directory (Cayley's
// choice).
const BoltFile = "indexes.bolt"

// Direction of a [Neighbor] relative to the queried term.
const (
	Out = "out" // term -rel-> neighbor
	In  = "in"  // neighbor -rel-> term
)

// Neighbor is one edge at a queried concept.
type Neighbor struct {
	Concept   string  `json:"concept"`   // normalised concept, e.g. "dog"
	Rel       string  `json:"rel"`       // relation URI, e.g. "/r/IsA"
	Weight    float32 `json:"weight"`    // edge weight (the largest, if several datasets assert it)
	Direction string  `json:"direction"` // Out or In
	Dataset   string  `json:"dataset"`   // dataset of the heaviest assertion
}

// Store is a read-only Cayley graph opened from a store directory.
type Store struct {
	qs  graph.QuadStore
	dir string
	// broken is set when bolt panicked on a damaged page: the read
	// transaction the panic left open would make closing the file wait
	// forever, so Close leaves it open and the methods refuse to run.
	broken atomic.Bool
}

// damaged wraps what a panic of bolt (or Cayley) on a damaged store
// file said.
func damaged(file string, r any) error {
	return fmt.Errorf("kg: %s is damaged (bolt: %v); rebuild it (rerun the kg.conceptnet stage)", file, r)
}

// guard turns a panic of bolt on a damaged page into *err and marks the
// store broken; deferred by every method that reads the store.
func (s *Store) guard(err *error) {
	if r := recover(); r != nil {
		s.broken.Store(true)
		*err = damaged(filepath.Join(s.dir, BoltFile), r)
	}
}

// usable returns the error of a store an earlier call found damaged.
func (s *Store) usable() error {
	if s.broken.Load() {
		return fmt.Errorf("kg: %s is damaged (an earlier read failed); rebuild it", filepath.Join(s.dir, BoltFile))
	}
	return nil
}

// ResolveStoreDir returns the store directory for dir: dir itself if it holds
// the bolt file, else dir/graph (a kg.conceptnet artifact).
func ResolveStoreDir(dir string) (string, error) {
	for _, d := range []string{dir, filepath.Join(dir, StoreDirName)} {
		if _, err := os.Stat(filepath.Join(d, BoltFile)); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("kg: no graph store (%s) in %s or %s", BoltFile, dir, filepath.Join(dir, StoreDirName))
}

// openTimeout bounds how long OpenStore waits for the bolt file's shared
// lock (a variable for tests).
var openTimeout = 10 * time.Second

// OpenStore opens the graph of a kg.conceptnet artifact directory (or a store
// directory) read-only through Cayley's KV quad store. Several processes may
// open the same store at once (bolt's shared file lock). A process holding
// the file read-write (Cayley's own bbolt backend: cayley.NewGraph, the
// cayley CLI) holds it exclusively; OpenStore then fails after 10 s with an
// error that wraps bolt.ErrTimeout. A file shorter than its header says
// is refused, and a bolt panic on a damaged page (here or in the Store's
// methods, not in queries run on [Store.QuadStore]) is returned as an error
// naming the file.
func OpenStore(artifactDir string) (*Store, error) {
	dir, err := ResolveStoreDir(artifactDir)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, BoltFile)
	db, err := bolt.Open(file, 0o444, &bolt.Options{ReadOnly: true, Timeout: openTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("kg: open %s: no shared lock on the file after %v: another process probably has "+
			"the store open read-write (a cayley shell or `cayley query`/`repl`/`http`/`dump`, or a program "+
			"using cayley.NewGraph on it); close it, or point Cayley at a copy of the store: %w", file, openTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("kg: open %s: %w", file, err)
	}
	// A file shorter than its meta page says (a copy or download cut
	// short, a full disk) would be read past its end through bolt's
	// mmap: a SIGBUS, which kills the process (no recover catches it).
	if err := db.View(func(tx *bolt.Tx) error {
		fi, err := os.Stat(file)
		if err != nil {
			return err
		}
		if tx.Size() > fi.Size() {
			return fmt.Errorf("the file has %d bytes, its header says %d: it was cut short; rebuild it (rerun the kg.conceptnet stage)", fi.Size(), tx.Size())
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("kg: open %s: %w", file, err)
	}
	// no_bloom: the existence bloom filter only speeds up writes, and
	// building it would scan the whole store.
	panicked := false
	qs, err := func() (qs graph.QuadStore, err error) {
		defer func() {
			if r := recover(); r != nil {
				panicked, err = true, damaged(file, r)
			}
		}()
		return kv.New(hbbolt.New(db), graph.Options{kv.OptNoBloom: true})
	}()
	if panicked {
		return nil, err // db stays open: see Store.broken
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("kg: open %s: %w", dir, err)
	}
	return &Store{qs: qs, dir: dir}, nil
}

// QuadStore returns the underlying Cayley quad store (for Cayley queries).
func (s *Store) QuadStore() graph.QuadStore { return s.qs }

// Close closes the store. A store found damaged (a method returned its
// damage error) is not closed, since bolt would wait forever for the read
// transaction its panic left open: its file stays open until the process
// exits, and Close returns the damage error.
func (s *Store) Close() error {
	if err := s.usable(); err != nil {
		return err
	}
	return s.qs.Close()
}

// Has reports whether term is a concept of the graph (false on a damaged
// store).
func (s *Store) Has(term string) (ok bool) {
	if s.usable() != nil {
		return false
	}
	var err error
	defer s.guard(&err)
	ref, err := s.qs.ValueOf(quad.IRI(ConceptURI(term)))
	return err == nil && ref != nil
}

// NormalizeRel turns "IsA" or "/r/IsA" into "/r/IsA"; "" stays "".
func NormalizeRel(rel string) string {
	if rel == "" || strings.HasPrefix(rel, "/r/") {
		return rel
	}
	return "/r/" + rel
}

// lookup returns term as the graph spells it and its node, or a nil node
// when the graph has no such concept (spellings as Neighbors accepts them).
func (s *Store) lookup(term string) (spelled string, _ graph.Ref, err error) {
	if err := s.usable(); err != nil {
		return term, nil, err
	}
	spelled = term // what a panic returns
	defer s.guard(&err)
	if t, ok := NormalizeConcept(term); ok {
		term = t
	}
	term = strings.Join(strings.Fields(strings.ToLower(term)), "_")
	ref, err := s.qs.ValueOf(quad.IRI(ConceptURI(term)))
	if err == nil && ref == nil && strings.ContainsAny(term, "-/") {
		// ConceptNet writes "t-shirt" as /c/en/t_shirt, and
		// "read/write head" as /c/en/read_write_head.
		term = strings.ReplaceAll(HyphensToUnderscores(term), "/", "_")
		ref, err = s.qs.ValueOf(quad.IRI(ConceptURI(term)))
	}
	return term, ref, err
}

// Lookup returns term as the graph spells it (a caption's "T-Shirt" is
// t_shirt) and whether the graph has that concept, with the spellings
// Neighbors accepts: it tells an unknown term from one without edges (of a
// relation).
func (s *Store) Lookup(term string) (concept string, ok bool, err error) {
	concept, ref, err := s.lookup(term)
	if err != nil {
		return concept, false, fmt.Errorf("kg: %q: %w", term, err)
	}
	return concept, ref != nil, nil
}

// Neighbors returns the edges at term (a concept such as "dog" or
// "hot_dog", or a URI "/c/en/dog/n"; case and spaces as a caption writes
// it, "Hot Dog", and a hyphenated word, "t-shirt", or one with a slash,
// "read/write head", are found too), both
// directions, optionally only
// relation rel ("IsA" or "/r/IsA"). Assertions of the same edge from several
// datasets are merged, keeping the largest weight. The result is sorted by
// weight (descending), then relation, direction and concept. An unknown term
// has no neighbours (and no error).
func (s *Store) Neighbors(ctx context.Context, term string, rel string) (_ []Neighbor, err error) {
	defer s.guard(&err)
	term, ref, err := s.lookup(term)
	if err != nil {
		return nil, fmt.Errorf("kg: neighbors of %q: %w", term, err)
	}
	if ref == nil {
		return nil, nil
	}
	rel = NormalizeRel(rel)
	type key struct{ concept, rel, dir string }
	best := map[key]Neighbor{}
	for _, d := range []quad.Direction{quad.Subject, quad.Object} {
		if err := ctx.Err(); err != nil { // Cayley's KV iterators do not watch ctx
			return nil, err
		}
		it := s.qs.QuadIterator(d, ref).Iterate()
		for it.Next(ctx) {
			q, err := s.qs.Quad(it.Result())
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("kg: neighbors of %q: %w", term, err)
			}
			prel := iriString(q.Predicate)
			if rel != "" && prel != rel {
				continue
			}
			other, dir := q.Object, Out
			if d == quad.Object {
				other, dir = q.Subject, In
			}
			c, ok := NormalizeConcept(iriString(other))
			if !ok {
				continue
			}
			ds, w := DecodeLabel(iriString(q.Label))
			k := key{c, prel, dir}
			if n, ok := best[k]; !ok || w > n.Weight || (w == n.Weight && ds < n.Dataset) {
				best[k] = Neighbor{Concept: c, Rel: prel, Weight: w, Direction: dir, Dataset: ds}
			}
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return nil, fmt.Errorf("kg: neighbors of %q: %w", term, err)
		}
	}
	out := make([]Neighbor, 0, len(best))
	for _, n := range best {
		out = append(out, n)
	}
	SortNeighbors(out)
	return out, nil
}

// SortNeighbors sorts by weight (descending), then relation, direction (out
// first) and concept: the order of [Store.Neighbors].
func SortNeighbors(out []Neighbor) {
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Weight != b.Weight {
			return a.Weight > b.Weight
		}
		if a.Rel != b.Rel {
			return a.Rel < b.Rel
		}
		if a.Direction != b.Direction {
			return a.Direction > b.Direction
		}
		return a.Concept < b.Concept
	})
}

func iriString(v quad.Value) string {
	switch x := v.(type) {
	case quad.IRI:
		return string(x)
	case nil:
		return ""
	}
	return v.String()
}

// ErrEmptyGraph is returned by a [Builder] that received no edges.
var ErrEmptyGraph = errors.New("kg: no edges to store")

// EdgesAmong returns the stored edges whose both ends are in terms (by
// index into terms: Src -rel-> Dst), one per (src, dst, rel) with the
// largest weight. It walks each term's outgoing quads in Cayley's
// subject index and decodes only the quads that end in the set, so it is
// cheap even for hub concepts.
func (s *Store) EdgesAmong(ctx context.Context, terms []string) (_ []IndexedEdge, err error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	defer s.guard(&err)
	refs := make([]graph.Ref, len(terms))
	idx := map[any]int32{}
	for i, t := range terms {
		r, err := s.qs.ValueOf(quad.IRI(ConceptURI(t)))
		if err != nil {
			return nil, fmt.Errorf("kg: %q: %w", t, err)
		}
		if r != nil {
			refs[i] = r
			idx[r.Key()] = int32(i)
		}
	}
	names := map[any]string{}
	name := func(r graph.Ref) (string, error) {
		if r == nil {
			return "", nil
		}
		if n, ok := names[r.Key()]; ok {
			return n, nil
		}
		v, err := s.qs.NameOf(r)
		if err != nil {
			return "", err
		}
		if v == nil { // Cayley's KV store: an id with no node in the log
			return "", fmt.Errorf("node %v has no value", r.Key())
		}
		n := iriString(v)
		names[r.Key()] = n
		return n, nil
	}
	type key struct {
		src, dst int32
		rel      string
	}
	best := map[key]IndexedEdge{}
	var order []key
	for i, r := range refs {
		// Cayley's KV iterators do not watch ctx: check it between terms.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r == nil {
			continue
		}
		it := s.qs.QuadIterator(quad.Subject, r).Iterate()
		for it.Next(ctx) {
			e, ok, err := s.edgeFrom(it.Result(), idx, name)
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("kg: edges among %d terms: quad from %q: %w", len(terms), terms[i], err)
			}
			if !ok {
				continue
			}
			e.Src = int32(i)
			k := key{e.Src, e.Dst, e.Rel}
			if b, ok := best[k]; !ok {
				order = append(order, k)
				best[k] = e
			} else if e.Weight > b.Weight {
				best[k] = e
			}
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return nil, fmt.Errorf("kg: edges among %d terms: quads from %q: %w", len(terms), terms[i], err)
		}
	}
	out := make([]IndexedEdge, len(order))
	for i, k := range order {
		out[i] = best[k]
	}
	sort.SliceStable(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.Src != y.Src {
			return x.Src < y.Src
		}
		if x.Dst != y.Dst {
			return x.Dst < y.Dst
		}
		return x.Rel < y.Rel
	})
	return out, nil
}

// edgeFrom decodes the quad q of a subject's index walk for EdgesAmong: ok
// is false when its object is not one of the terms (idx). Dst, Rel, Weight
// and Dataset are set; Src is left to the caller. A quad without a label
// has dataset "" and weight 1, as in Neighbors; a quad without an object or
// a predicate, and every lookup error, is an error: skipping it would drop
// or mislabel an edge silently.
func (s *Store) edgeFrom(q graph.Ref, idx map[any]int32, name func(graph.Ref) (string, error)) (IndexedEdge, bool, error) {
	o, err := s.qs.QuadDirection(q, quad.Object)
	if err != nil {
		return IndexedEdge{}, false, fmt.Errorf("object: %w", err)
	}
	if o == nil {
		return IndexedEdge{}, false, errors.New("quad without object")
	}
	j, ok := idx[o.Key()]
	if !ok {
		return IndexedEdge{}, false, nil
	}
	pr, err := s.qs.QuadDirection(q, quad.Predicate)
	if err != nil {
		return IndexedEdge{}, false, fmt.Errorf("predicate: %w", err)
	}
	if pr == nil {
		return IndexedEdge{}, false, errors.New("quad without predicate")
	}
	lr, err := s.qs.QuadDirection(q, quad.Label)
	if err != nil {
		return IndexedEdge{}, false, fmt.Errorf("label: %w", err)
	}
	rel, err := name(pr)
	if err != nil {
		return IndexedEdge{}, false, fmt.Errorf("predicate: %w", err)
	}
	lab, err := name(lr) // "" for a quad without label
	if err != nil {
		return IndexedEdge{}, false, fmt.Errorf("label: %w", err)
	}
	ds, w := DecodeLabel(lab)
	return IndexedEdge{Dst: j, Rel: rel, Weight: w, Dataset: ds}, true, nil
}

// IndexedEdge is an edge between two terms of a list, by index.
type IndexedEdge struct {
	Src, Dst int32
	Rel      string
	Weight   float32
	Dataset  string
}
