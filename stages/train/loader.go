package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"golang.org/x/sync/errgroup"

	"coderflow/datasets/arrowfeat"
	coder "coderflow/train"
)

// loader produces the training batches of one epoch.
//
// Pairs are (train caption, its image). The order of epoch e depends only on
// the seed and e: an RNG seeded with (seed, e) first permutes the feature
// shards, then shuffles the pairs of each flushed buffer, taken in canonical
// order (caption order of captionSet). When every training image's
// converted features fit the memory budget they are loaded once (cached
// mode) and each epoch is one global shuffle; otherwise each epoch streams
// the shards in the permuted order through a buffer of at most the budget,
// and whenever it is full the buffered pairs are shuffled and emitted in
// full batches, the remainder carried over (streaming mode). Either way an
// epoch yields floor(pairs/batch) batches; the last partial batch is
// dropped.
type loader struct {
	files  []string
	shape  featShape
	caps   *captionSet
	train  []int              // caption indexes of the train split
	byImg  map[int64][]int    // image id -> train caption indexes
	cache  map[int64]imgFeats // cached mode: image id -> converted features
	budget int64
	batch  int
	maxLen int
	seed   int64
	cd     *conceptData // nil when the concept branch is off
	counts *featCounts
	// streaming mode, from index: the rows of each file, and for a
	// training image with rows in more than one file the file (index into
	// files) of its first row, the one used as in cached mode
	indexed  bool
	rows     []int64
	dupFirst map[int64]int
	nPairs   int // training pairs with a feature row
	nImages  int // training images with a feature row
}

func newLoader(files []string, shape featShape, caps *captionSet, batch, maxLen int, seed, budget int64, cd *conceptData, counts *featCounts) *loader {
	l := &loader{files: files, shape: shape, caps: caps, train: caps.bySplit["train"], byImg: map[int64][]int{},
		budget: budget, batch: batch, maxLen: maxLen, seed: seed, cd: cd, counts: counts}
	for _, i := range l.train {
		img := caps.caps[i].image
		l.byImg[img] = append(l.byImg[img], i)
	}
	return l
}

// imageBytes is the memory of one converted image.
func (l *loader) imageBytes() int64 { return int64(l.shape.floats()) * 4 }

// fits reports whether all training images fit the budget.
func (l *loader) fits() bool { return int64(len(l.byImg))*l.imageBytes() <= l.budget }

// pairs is the number of training pairs (captions with an image).
func (l *loader) pairs() int { return len(l.train) }

// fill is called for every feature row during the setup pass in cached mode.
func (l *loader) fill(r featRow) error {
	if _, ok := l.byImg[r.id]; !ok {
		return nil
	}
	if _, dup := l.cache[r.id]; dup {
		return nil
	}
	f, err := l.shape.convert(r, make([]float32, l.shape.floats()), l.counts)
	if err != nil {
		return err
	}
	l.cache[r.id] = f
	return nil
}

// featurePairs counts the training pairs whose image has a feature row
// (each image once), reading only the shards' image_id column: streaming
// mode's exact pair count before its first epoch (cached mode counts its
// cache, cachedPairs).
func (l *loader) featurePairs(ctx context.Context) (int, error) {
	if err := l.index(ctx); err != nil {
		return 0, err
	}
	return l.nPairs, nil
}

// index reads the shards' image_id columns once (streaming mode): the
// rows of each file, the training pairs with a feature row and, for a
// training image with rows in several files, the file of its first row.
// Streaming epochs read the files in another order each epoch; they use
// that row of such an image, as cached mode, dev evaluation and embed do
// (the first row in file order), not whichever comes first in the epoch.
func (l *loader) index(ctx context.Context) error {
	if l.indexed {
		return nil
	}
	first := make(map[int64]int, len(l.byImg))
	rows := make([]int64, len(l.files))
	dup := map[int64]int{}
	n := 0
	for k, f := range l.files {
		err := arrowfeat.ImageIDs(ctx, []string{f}, func(id int64) error {
			rows[k]++
			caps, ok := l.byImg[id]
			if !ok {
				return nil
			}
			if fk, seen := first[id]; seen {
				if fk != k {
					dup[id] = fk
				}
				return nil
			}
			first[id] = k
			n += len(caps)
			return nil
		})
		if err != nil {
			return fmt.Errorf("features: %w", err)
		}
	}
	l.rows, l.dupFirst, l.nPairs, l.nImages, l.indexed = rows, dup, n, len(first), true
	return nil
}

// cachedPairs returns the canonical pair list of cached mode (captions whose
// image has features) and the number of images without features.
func (l *loader) cachedPairs() []int {
	var out []int
	for _, i := range l.train {
		if _, ok := l.cache[l.caps.caps[i].image]; ok {
			out = append(out, i)
		}
	}
	return out
}

// epoch calls step for every batch of 1-based epoch e, in order.
func (l *loader) epoch(ctx context.Context, e int, step func(*coder.Batch) error) error {
	return l.epochWith(ctx, e, newBatchBuilder(l), step)
}

// epochPrefetch is epoch with the batches built by a background goroutine
// up to ahead batches before the model needs them (same batches, same
// order).
func (l *loader) epochPrefetch(ctx context.Context, e, ahead int, step func(*coder.Batch) error) error {
	if ahead <= 0 {
		return l.epoch(ctx, e, step)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan *coder.Batch, ahead+1)
	for range ahead + 1 {
		free <- l.newBatch()
	}
	ready := make(chan *coder.Batch, ahead)
	// Both goroutines stop on gctx, which the errgroup cancels only after
	// it has recorded the first error: a failing step's error is therefore
	// what the epoch returns, not the cancellation it causes in the builder.
	g, gctx := errgroup.WithContext(ctx)
	bb := &batchBuilder{l: l, get: func() *coder.Batch {
		select {
		case b := <-free:
			return b
		case <-gctx.Done():
			return nil
		}
	}}
	g.Go(func() error {
		defer close(ready)
		return l.epochWith(gctx, e, bb, func(b *coder.Batch) error {
			if b == nil {
				return gctx.Err()
			}
			select {
			case ready <- b:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	g.Go(func() error {
		for b := range ready {
			// A cancelled run (or a failed builder) stops here: the
			// batches built ahead are dropped, not trained on.
			if err := gctx.Err(); err != nil {
				return err
			}
			if err := step(b); err != nil {
				return err
			}
			free <- b
		}
		return nil
	})
	return g.Wait()
}

func (l *loader) epochWith(ctx context.Context, e int, bb *batchBuilder, step func(*coder.Batch) error) error {
	rng := rand.New(rand.NewPCG(uint64(l.seed), uint64(e)))
	if l.cache != nil {
		p := l.cachedPairs()
		return l.flush(ctx, rng, &p, l.cache, bb, step, true)
	}
	if err := l.index(ctx); err != nil {
		return err
	}
	order := make([]int, len(l.files)) // the epoch's files, as indexes into l.files
	for k := range order {
		order[k] = k
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	files := make([]string, len(order))
	end := make([]int64, len(order)) // rows in the pass up to the end of files[k]
	var at int64
	for k, o := range order {
		files[k] = l.files[o]
		at += l.rows[o]
		end[k] = at
	}
	// fileOf returns the index into l.files of the file of pass row at.
	fileOf := func(at int64) int {
		k, _ := slices.BinarySearch(end, at+1)
		return order[min(k, len(order)-1)]
	}
	buf := map[int64]imgFeats{}
	// An image's pairs are taken once per epoch, at its first row (a
	// repeated row after its pairs were flushed would emit them again).
	seen := make(map[int64]struct{}, len(l.byImg))
	var pending []int
	var used int64
	err := eachFeature(ctx, files, readerOptions(l.budget), func(r featRow) error {
		caps, ok := l.byImg[r.id]
		if !ok {
			return nil
		}
		if _, dup := seen[r.id]; dup {
			return nil
		}
		if fk, ok := l.dupFirst[r.id]; ok && fileOf(r.at) != fk {
			return nil // the image's first row in file order is in file fk
		}
		seen[r.id] = struct{}{}
		f, err := l.shape.convert(r, make([]float32, l.shape.floats()), l.counts)
		if err != nil {
			return err
		}
		buf[r.id] = f
		used += l.imageBytes()
		pending = append(pending, caps...)
		if used+l.imageBytes() > l.budget {
			if err := l.flush(ctx, rng, &pending, buf, bb, step, false); err != nil {
				return err
			}
			keep := make(map[int64]bool, len(pending))
			for _, i := range pending {
				keep[l.caps.caps[i].image] = true
			}
			for id := range buf {
				if !keep[id] {
					delete(buf, id)
				}
			}
			used = int64(len(buf)) * l.imageBytes()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return l.flush(ctx, rng, &pending, buf, bb, step, true)
}

// flush shuffles the pending pairs (in canonical order first) and emits the
// full batches; the remainder stays in pending.
func (l *loader) flush(ctx context.Context, rng *rand.Rand, pending *[]int, feats map[int64]imgFeats, bb *batchBuilder, step func(*coder.Batch) error, last bool) error {
	p := *pending
	slices.Sort(p)
	rng.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
	nb := len(p) / l.batch
	for b := range nb {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(bb.build(p[b*l.batch:(b+1)*l.batch], feats)); err != nil {
			return err
		}
	}
	rest := p[nb*l.batch:]
	if last {
		rest = nil
	}
	*pending = append(p[:0:0], rest...)
	return nil
}

// batchBuilder fills batches: the same buffer every time, or one taken
// from get when the batches are prefetched.
type batchBuilder struct {
	l   *loader
	b   *coder.Batch
	get func() *coder.Batch // nil: reuse b
}

func newBatchBuilder(l *loader) *batchBuilder {
	return &batchBuilder{l: l, b: l.newBatch()}
}

// newBatch allocates the buffers of one batch.
func (l *loader) newBatch() *coder.Batch {
	B := l.batch
	b := &coder.Batch{
		Regions:      make([]float32, B*l.shape.floats()),
		RegionCounts: l.shape.regionCounts(B),
		Tokens:       make([]int32, B*l.maxLen),
		Lengths:      make([]int32, B),
		ImageIDs:     make([]int64, B),
	}
	if l.cd != nil {
		b.ConceptLabels = make([]float32, B*l.cd.M)
	}
	return b
}

// build fills the batch with the given caption indexes.
func (bb *batchBuilder) build(idx []int, feats map[int64]imgFeats) *coder.Batch {
	l := bb.l
	b := bb.b
	if bb.get != nil {
		b = bb.get()
		if b == nil {
			return nil
		}
	}
	b.Size = len(idx)
	F := l.shape.floats()
	clear(b.Tokens)
	for k, i := range idx {
		c := l.caps.caps[i]
		f := feats[c.image]
		copy(b.Regions[k*F:(k+1)*F], f.x)
		if b.RegionCounts != nil {
			b.RegionCounts[k] = f.n
		}
		copy(b.Tokens[k*l.maxLen:(k+1)*l.maxLen], l.caps.tokens(i))
		b.Lengths[k] = c.n
		b.ImageIDs[k] = c.image
		if l.cd != nil {
			l.cd.multiHot(c.id, b.ConceptLabels[k*l.cd.M:(k+1)*l.cd.M])
		}
	}
	return b
}
