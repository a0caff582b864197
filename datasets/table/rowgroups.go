package table

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// groupWriter is the write path of [Options.Workers] >= 1: every row group
// is encoded by its own parquet-go writer into memory, compressed on one of
// Workers goroutines, and spliced into the file in order by
// GenericWriter.WriteRowGroup, which copies the compressed pages of a
// file-backed row group verbatim (parquet-go's copy fast path) when codec,
// encodings and page format match, as they do here.
//
// Write keeps the rows (a shallow copy of the T values: slices inside rows
// are retained, not copied) until their group is encoded, so callers must
// not modify memory referenced by written rows before the release hook
// ([Writer.OnRelease]) hands it back; encoding, page statistics and
// compression run off the caller's goroutine. The file does not depend on
// Workers.
//
// Memory is bounded by Workers+1 groups (the one being filled and Workers
// being encoded or waiting to be spliced; while a group is spliced, the
// group just sealed waits for an encoder instead of being filled), and the
// groups' buffers are recycled, so a long write holds the same memory as a
// short one.
type groupWriter[T any] struct {
	out     *parquet.GenericWriter[T]
	opts    []parquet.WriterOption
	plan    groupPlan
	groups  int64 // row groups started so far
	workers int
	release func([]T) // nil, or called with each group's rows once encoded
	spliced func()    // nil, or called after each group is copied into the file
	reuse   *Reuse    // nil, or where encoders and buffers come from and go back to
	key     string    // the configuration the encoders are built for (for reuse)

	cur     *group[T] // the group being filled, nil between groups
	pending []*group[T]
	free    []*group[T]                    // spliced groups, for reuse
	lastLen int                            // encoded size of the last spliced group
	encs    chan *parquet.GenericWriter[T] // Workers reusable encoders (nil until first used); also bounds the groups being encoded
}

// group is one row group: its rows, then its in-memory file and the result
// of encoding it.
type group[T any] struct {
	size int64 // rows the group gets
	rows []T
	buf  *bytes.Buffer
	done chan error
}

// newGroupWriter returns a groupWriter splicing into out. Its encoders
// are built with opts, or taken from reuse (may be nil) when they were built
// for the same key.
func newGroupWriter[T any](out *parquet.GenericWriter[T], opts []parquet.WriterOption, plan groupPlan, workers int, reuse *Reuse, key string) *groupWriter[T] {
	g := &groupWriter[T]{
		out: out,
		// Unbuffered: the encoders write into memory anyway.
		opts:    append(slices.Clip(opts), parquet.WriteBufferSize(-1)),
		plan:    plan,
		workers: max(workers, 1),
		reuse:   reuse,
		key:     key,
	}
	g.encs = make(chan *parquet.GenericWriter[T], g.workers)
	encs := reuse.takeEncoders(key, g.workers)
	for i := range g.workers {
		var w *parquet.GenericWriter[T]
		if i < len(encs) {
			w, _ = encs[i].(*parquet.GenericWriter[T])
		}
		g.encs <- w
	}
	return g
}

// Reuse keeps the row-group encoders and buffers of writers with
// [Options.Workers] >= 1 from one file to the next, for a stage that writes
// many files with the same options (feature shards): each file then starts
// with encoders whose column buffers and in-memory row-group files already
// have their capacity, instead of allocating, zeroing and growing them
// again (about a tenth of a feature shard's write CPU). It holds what one
// writer used (Workers encoders and Workers+1 buffers) between files and
// nothing while a writer runs. Writers of different options or row types
// may share one Reuse: encoders built for other settings are dropped, not
// reused. Same settings include the same codec value: a compression named
// in [Options.Compression] is one shared codec, an [Options.Codec] must be
// the same value in every file. The zero value is ready; safe for
// concurrent use.
type Reuse struct {
	mu    sync.Mutex
	key   string
	encs  []any
	bufs  []*bytes.Buffer
	taken int // encoders handed to writers so far (for tests)
}

func (r *Reuse) takeEncoders(key string, n int) []any {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.key != key {
		return nil
	}
	k := min(n, len(r.encs))
	r.taken += k
	out := slices.Clone(r.encs[len(r.encs)-k:])
	clear(r.encs[len(r.encs)-k:])
	r.encs = r.encs[:len(r.encs)-k]
	return out
}

func (r *Reuse) takeBuffer() *bytes.Buffer {
	if r != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := len(r.bufs); n > 0 {
			b := r.bufs[n-1]
			r.bufs[n-1] = nil
			r.bufs = r.bufs[:n-1]
			return b
		}
	}
	return new(bytes.Buffer)
}

// put returns a writer's encoders and buffers, keeping at most what one
// writer uses (len(encs) encoders and one buffer more).
func (r *Reuse) put(key string, encs []any, bufs []*bytes.Buffer) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.key != key {
		clear(r.encs)
		r.key, r.encs = key, r.encs[:0]
	}
	r.encs = append(r.encs, encs...)
	if n := len(r.encs) - len(encs); n > 0 {
		clear(r.encs[:n])
		r.encs = r.encs[n:]
	}
	for _, b := range bufs {
		if len(r.bufs) > len(encs) {
			break
		}
		b.Reset()
		r.bufs = append(r.bufs, b)
	}
}

// releaseToReuse hands the encoders and the buffers of spliced groups back to
// g.reuse. Call it only when no group is being encoded.
func (g *groupWriter[T]) releaseToReuse() {
	if g.reuse == nil {
		return
	}
	var encs []any
	for range g.workers {
		if w := <-g.encs; w != nil {
			encs = append(encs, w)
		}
	}
	var bufs []*bytes.Buffer
	for _, c := range g.free {
		bufs = append(bufs, c.buf)
		c.buf = nil
	}
	g.free = nil
	g.reuse.put(g.key, encs, bufs)
}

// encode writes group c as a one-row-group Parquet file in memory with one
// of the reusable encoders (whose column buffers keep their capacity).
func (g *groupWriter[T]) encode(c *group[T]) error {
	w := <-g.encs
	if w == nil {
		w = parquet.NewGenericWriter[T](c.buf, g.opts...)
	} else {
		w.Reset(c.buf)
	}
	_, err := w.Write(c.rows)
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		w = nil // state unknown: build a fresh one next time
	}
	g.encs <- w
	if g.release != nil {
		g.release(c.rows)
	}
	clear(c.rows) // drop the references to the caller's memory
	c.rows = c.rows[:0]
	return err
}

func (g *groupWriter[T]) write(rows []T) (int, error) {
	written := 0
	for len(rows) > 0 {
		if g.cur == nil {
			g.cur = g.newGroup()
		}
		n := int(min(int64(len(rows)), g.cur.size-int64(len(g.cur.rows))))
		g.cur.rows = append(g.cur.rows, rows[:n]...)
		written += n
		rows = rows[n:]
		if int64(len(g.cur.rows)) == g.cur.size {
			if err := g.seal(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (g *groupWriter[T]) newGroup() *group[T] {
	size := g.plan.size(g.groups)
	g.groups++
	if n := len(g.free); n > 0 {
		c := g.free[n-1]
		g.free = g.free[:n-1]
		c.size = size
		return c
	}
	// Capacity for the rows the group will get, not for RowGroupRows alone:
	// a huge RowGroupRows (one row group per file) allocated for rows that
	// never come; without ExpectedRows the rows grow by append past 4096.
	n := min(size, 4096)
	if g.plan.n > 0 {
		n = min(size, g.plan.n)
	}
	c := &group[T]{size: size, rows: make([]T, 0, n), done: make(chan error, 1), buf: g.reuse.takeBuffer()}
	c.buf.Grow(g.lastLen + g.lastLen/8) // a new group is likely the size of the last one
	return c
}

// groupPlan sets the size of each row group: rg rows, except that when
// the expected row count n leaves a partial last group, the last two groups
// share the remainder evenly. More rows than expected continue in groups
// of rg; fewer make the last group smaller.
type groupPlan struct{ rg, n int64 }

func (p groupPlan) size(i int64) int64 {
	if p.n <= p.rg || p.n%p.rg == 0 {
		return p.rg
	}
	q := p.n / p.rg         // full groups, the last of which shares
	tail := p.rg + p.n%p.rg // the rows of the last two groups
	switch {
	case i == q-1:
		return (tail + 1) / 2
	case i == q:
		return tail / 2
	}
	return p.rg
}

// seal hands the current group to a goroutine, which waits there for a
// free encoder, then splices the oldest groups until at most workers are
// pending: a worker that finishes a group starts on the next one while this
// goroutine copies the finished group into the file (with workers 1 the
// group is encoded and spliced here).
func (g *groupWriter[T]) seal() error {
	c := g.cur
	g.cur = nil
	g.pending = append(g.pending, c)
	keep := g.workers
	if g.workers == 1 {
		c.done <- g.encode(c)
		keep = 0
	} else {
		go func() { c.done <- g.encode(c) }()
	}
	for len(g.pending) > keep {
		if err := g.spliceOldest(); err != nil {
			return err
		}
	}
	return nil
}

// spliceOldest waits for the oldest pending group, copies its row group
// into the output file and recycles the group.
func (g *groupWriter[T]) spliceOldest() error {
	c := g.pending[0]
	g.pending[0] = nil
	g.pending = g.pending[1:]
	if err := <-c.done; err != nil {
		return fmt.Errorf("row group: %w", err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(c.buf.Bytes()), int64(c.buf.Len()))
	if err != nil {
		return fmt.Errorf("row group: %w", err)
	}
	for _, rg := range f.RowGroups() {
		if _, err := g.out.WriteRowGroup(rg); err != nil {
			return err
		}
	}
	if g.spliced != nil {
		g.spliced()
	}
	g.lastLen = c.buf.Len()
	c.buf.Reset()
	g.free = append(g.free, c)
	return nil
}

// flush seals the partial group and splices every pending group.
func (g *groupWriter[T]) flush() error {
	if g.cur != nil && len(g.cur.rows) > 0 {
		if err := g.seal(); err != nil {
			return err
		}
	}
	g.cur = nil
	for len(g.pending) > 0 {
		if err := g.spliceOldest(); err != nil {
			return err
		}
	}
	g.releaseToReuse()
	return nil
}

// abort waits for the workers still encoding, so no goroutine outlives the
// writer.
func (g *groupWriter[T]) abort() {
	for _, c := range g.pending {
		<-c.done
	}
	g.pending = nil
	g.cur = nil
	g.free = nil
}
