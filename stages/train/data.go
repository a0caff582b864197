package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
	"coderflow/pipeline"
	kgstage "coderflow/stages/kg"
)

// caption is one tokenised caption held by the loader.
type caption struct {
	id      int64
	image   int64
	ordinal int32
	start   int64 // offset of its ids in captionSet.ids
	n       int32 // tokens kept (1..max_len)
	split   uint8 // index into the splits asked for
}

// captionSet holds the captions of some splits compactly: one flat id
// buffer and a small record per caption, sorted by (image, ordinal, id).
type captionSet struct {
	caps    []caption
	ids     []int32
	bySplit map[string][]int // split -> indexes into caps
}

// captionCounts are the skips of loadCaptions.
type captionCounts struct {
	Empty     int64 `json:"empty"`
	Truncated int64 `json:"truncated"`
	NoOrdinal int64 `json:"no_ordinal"`
	Duplicate int64 `json:"duplicate"` // repeated caption ids: later rows skipped
}

// vocabRange is the token ids loadCaptions accepts, [0, size) (size 0:
// every id); what names the vocabulary in the error.
type vocabRange struct {
	size int
	what string
}

// loadCaptions reads the tokens table (and, when an upstream stage has it,
// the captions table for ordinals) keeping the splits asked for. Captions
// are truncated to maxLen tokens; empty ones are skipped and counted. A
// kept token id outside vocab is an error naming the caption and its file.
func loadCaptions(ctx context.Context, env *pipeline.Env, maxLen int, vocab vocabRange, splits ...string) (*captionSet, captionCounts, error) {
	var cnt captionCounts
	want := map[string]uint8{}
	for i, s := range splits {
		want[s] = uint8(i)
	}
	files, _, err := env.InputTable(table.Tokens)
	if err != nil {
		return nil, cnt, err
	}
	cs := &captionSet{bySplit: map[string][]int{}}
	for _, file := range files {
		if err := cs.scanTokens(ctx, file, maxLen, vocab, want, &cnt); err != nil {
			return nil, cnt, err
		}
	}
	if cs.dropDuplicates(&cnt); cnt.Duplicate > 0 {
		env.Log.Warn("caption ids repeated in the tokens table: the later rows are skipped", "rows", cnt.Duplicate)
	}
	if err := cs.setOrdinals(ctx, env, &cnt); err != nil {
		return nil, cnt, err
	}
	sort.Slice(cs.caps, func(i, j int) bool {
		a, b := cs.caps[i], cs.caps[j]
		if a.image != b.image {
			return a.image < b.image
		}
		if a.ordinal != b.ordinal {
			return a.ordinal < b.ordinal
		}
		return a.id < b.id
	})
	for i, c := range cs.caps {
		s := splits[c.split]
		cs.bySplit[s] = append(cs.bySplit[s], i)
	}
	return cs, cnt, nil
}

// scanTokens adds the captions of one tokens file (the splits in want),
// streamed as Arrow record batches by the features' reader
// (arrowfeat.NewTableReader with the Tokens layout): the ids are copied
// into the flat id buffer batch by batch, so memory beyond the kept ids is
// one batch in flight per decoder.
func (cs *captionSet) scanTokens(ctx context.Context, file string, maxLen int, vocab vocabRange, want map[string]uint8, cnt *captionCounts) error {
	r, err := arrowfeat.NewTableReader(memory.DefaultAllocator, arrowfeat.Tokens, []string{file},
		arrowfeat.Options{BatchRows: 4096, MemoryBudget: 64 << 20})
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	defer r.Close()
	row := int64(-1) // of the row in file
	for {
		rec, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
		err = cs.addTokens(rec, &row, file, maxLen, vocab, want, cnt)
		rec.Release()
		if err != nil {
			return err
		}
	}
}

// addTokens adds the captions of one tokens batch; row is the file row of
// the batch's last row, advanced as the batch is read.
func (cs *captionSet) addTokens(rec arrow.Record, row *int64, file string, maxLen int, vocab vocabRange, want map[string]uint8, cnt *captionCounts) error {
	v, err := arrowfeat.NewTokensView(rec)
	if err != nil {
		return fmt.Errorf("tokens: %s: %w", file, err)
	}
	for i := range v.Len() {
		*row++
		split := v.Split(i)
		si, ok := want[split]
		if !ok {
			continue
		}
		ids := v.IDs(i)
		n := int(v.Lengths[i])
		if n > len(ids) || n <= 0 {
			n = len(ids)
		}
		if n == 0 {
			cnt.Empty++
			continue
		}
		if n > maxLen {
			n = maxLen
			cnt.Truncated++
		}
		if vocab.size > 0 {
			for _, id := range ids[:n] {
				if id < 0 || int(id) >= vocab.size {
					return fmt.Errorf("tokens: caption %d (image %d, split %s) in %s, row %d: token id %d outside %s",
						v.CaptionIDs[i], v.ImageIDs[i], split, file, *row, id, vocab.what)
				}
			}
		}
		cs.caps = append(cs.caps, caption{id: v.CaptionIDs[i], image: v.ImageIDs[i], ordinal: -1, start: int64(len(cs.ids)), n: int32(n), split: si})
		cs.ids = append(cs.ids, ids[:n]...)
	}
	return nil
}

// dropDuplicates keeps the first row (in file order) of a caption id that
// the tokens table repeats and counts the others: a repeated row would be
// trained on twice per epoch and could fill two of an evaluation image's 5
// captions. (Repeated feature rows of an image are treated alike.)
func (cs *captionSet) dropDuplicates(cnt *captionCounts) {
	// start grows with the scan, so (id, start) puts an id's first row first
	slices.SortFunc(cs.caps, func(a, b caption) int {
		if c := cmp.Compare(a.id, b.id); c != 0 {
			return c
		}
		return cmp.Compare(a.start, b.start)
	})
	n := len(cs.caps)
	cs.caps = slices.CompactFunc(cs.caps, func(a, b caption) bool { return a.id == b.id })
	cnt.Duplicate = int64(n - len(cs.caps))
}

// setOrdinals fills each caption's ordinal from the captions table when an
// upstream stage provides one, otherwise from its rank by caption id within
// its image.
func (cs *captionSet) setOrdinals(ctx context.Context, env *pipeline.Env, cnt *captionCounts) error {
	files, _, err := env.InputTable(table.Captions)
	if err == nil {
		need := make(map[int64]int, len(cs.caps))
		for i, c := range cs.caps {
			need[c.id] = i
		}
		err = table.Scan(ctx, files, 4096, func(rows []table.CaptionRow) error {
			for _, r := range rows {
				if i, ok := need[r.CaptionID]; ok {
					cs.caps[i].ordinal = r.Ordinal
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("captions: %w", err)
		}
	} else if !errors.Is(err, pipeline.ErrNoInput) {
		return err
	}
	// Rank by caption id for the rest (all of them without a captions table).
	sort.Slice(cs.caps, func(i, j int) bool {
		a, b := cs.caps[i], cs.caps[j]
		if a.image != b.image {
			return a.image < b.image
		}
		return a.id < b.id
	})
	rank := int32(0)
	for i := range cs.caps {
		if i > 0 && cs.caps[i].image != cs.caps[i-1].image {
			rank = 0
		}
		if cs.caps[i].ordinal < 0 {
			if files != nil {
				cnt.NoOrdinal++
				cs.caps[i].ordinal = math.MaxInt32/2 + rank // after every known ordinal
			} else {
				cs.caps[i].ordinal = rank
			}
		}
		rank++
	}
	return nil
}

// tokens returns the ids of caption i.
func (cs *captionSet) tokens(i int) []int32 {
	c := cs.caps[i]
	return cs.ids[c.start : c.start+int64(c.n)]
}

// evalSet is the 5-captions-per-image layout of an evaluation split.
type evalSet struct {
	images   []int64 // sorted
	captions []int   // 5 per image: indexes into captionSet.caps, by ordinal
	// counts
	ImagesDropped   int64 `json:"images_fewer_than_5_captions"`
	CaptionsDropped int64 `json:"captions_beyond_5"`
	NoFeatures      int64 `json:"images_without_features"`
	noFeatureID     int64 // an example of them
}

// evalLayout keeps images of split with at least 5 captions (the first 5 by
// ordinal), optionally only those with features (has != nil; the others
// are counted in NoFeatures) and at most limit images (0 = all).
func (cs *captionSet) evalLayout(split string, has func(int64) bool, limit int) *evalSet {
	es := &evalSet{}
	idx := cs.bySplit[split]
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && cs.caps[idx[j]].image == cs.caps[idx[i]].image {
			j++
		}
		img := cs.caps[idx[i]].image
		switch {
		case has != nil && !has(img):
			if es.NoFeatures == 0 {
				es.noFeatureID = img
			}
			es.NoFeatures++
		case j-i < 5:
			es.ImagesDropped++
		case limit > 0 && len(es.images) >= limit:
		default:
			es.images = append(es.images, img)
			es.captions = append(es.captions, idx[i:i+5]...)
			es.CaptionsDropped += int64(j - i - 5)
		}
		i = j
	}
	return es
}

// maxWordValues bounds the word embedding matrix, vocabulary size x
// word_dim values: 2^28 (1 GiB of float32; the model keeps it with its
// momentum copy, two Adam moments and a gradient, about 5 GiB at the
// limit). It turns a stray huge vocab id into an error instead of an
// allocation of tens of GB (or a makeslice panic).
const maxWordValues = 1 << 28

// maxIDIn returns the largest id of the rows of files (-1 for none) and the
// file that holds it (for error messages).
func maxIDIn[T any](ctx context.Context, files []string, id func(T) int32) (int32, string, error) {
	maxID, maxFile := int32(-1), ""
	for _, file := range files {
		err := table.Scan(ctx, []string{file}, 4096, func(rows []T) error {
			for _, r := range rows {
				if v := id(r); v > maxID {
					maxID, maxFile = v, file
				}
			}
			return nil
		})
		if err != nil {
			return 0, "", err
		}
	}
	return maxID, maxFile, nil
}

// readVocabSize returns max id + 1 of the vocab table and the file holding
// the largest id.
func readVocabSize(ctx context.Context, env *pipeline.Env) (int, string, error) {
	files, _, err := env.InputTable(table.Vocab)
	if err != nil {
		return 0, "", err
	}
	maxID, maxFile, err := maxIDIn(ctx, files, func(r table.VocabRow) int32 { return r.ID })
	if err != nil {
		return 0, "", fmt.Errorf("vocab: %w", err)
	}
	if maxID < 0 {
		return 0, "", fmt.Errorf("vocab: table %v is empty", files)
	}
	return int(maxID) + 1, maxFile, nil
}

// checkWordMatrix rejects a vocabulary whose word embedding matrix would
// exceed maxWordValues, naming the largest vocab id and its file.
func checkWordMatrix(vocab, wordDim int, file string) error {
	if n := int64(vocab) * int64(wordDim); n > maxWordValues {
		return fmt.Errorf("vocab: vocab id %d (the largest, in %s) makes a word embedding matrix of %d words x word_dim %d = %d values, "+
			"more than the %d supported: a stray id, or lower word_dim", vocab-1, file, vocab, wordDim, n, maxWordValues)
	}
	return nil
}

// maxConcepts bounds the concept vocabulary M = max concept id + 1: the
// concept branch holds dense M x M matrices (A_hat in the stage and in the
// model, float64 while it is built: 12-16 M^2 bytes, 3-4 GiB at the limit;
// kg.link selects at most 10,000 concepts). A stray huge id is an error,
// not a makeslice panic or an allocation of tens of GB.
const maxConcepts = 16384

// conceptData is what the concept branch needs from the kg stages.
type conceptData struct {
	M      int
	adj    []float32         // M*M, A_hat
	labels map[int64][]int32 // caption id -> concept ids (< M)
	Counts conceptDataCounts // skips
}

type conceptDataCounts struct {
	EdgesSkipped  int64 `json:"edges_skipped"`
	LabelsSkipped int64 `json:"labels_skipped"`
	Edges         int64 `json:"edges"`
}

// inputFinder looks tables up; [pipeline.Env.InputTable] or a search
// starting at a given artifact.
type inputFinder func(name string) ([]string, error)

func envFinder(env *pipeline.Env) inputFinder {
	return func(name string) ([]string, error) {
		f, _, err := env.InputTable(name)
		return f, err
	}
}

// artifactFinder searches a, then its inputs breadth first, then falls back.
func artifactFinder(a *pipeline.Artifact, fallback inputFinder) inputFinder {
	return func(name string) ([]string, error) {
		seen := map[*pipeline.Artifact]bool{}
		q := []*pipeline.Artifact{a}
		for len(q) > 0 {
			x := q[0]
			q = q[1:]
			if x == nil || seen[x] {
				continue
			}
			seen[x] = true
			if f, ok := x.Table(name); ok {
				return f, nil
			}
			q = append(q, x.Inputs...)
		}
		return fallback(name)
	}
}

// loadConcepts reads the concept vocabulary (M = max concept id + 1), its
// edges (A_hat) and, for the captions in keep, their concept ids.
func loadConcepts(ctx context.Context, find inputFinder, labelsFind inputFinder, keep func(int64) bool) (*conceptData, error) {
	cd := &conceptData{labels: map[int64][]int32{}}
	files, err := find(table.Concepts)
	if err != nil {
		return nil, err
	}
	maxID, maxFile, err := maxIDIn(ctx, files, func(r table.ConceptRow) int32 { return r.ConceptID })
	if err != nil {
		return nil, fmt.Errorf("concepts: %w", err)
	}
	if maxID < 0 {
		return nil, fmt.Errorf("concepts: table %v is empty; the concept branch needs concepts", files)
	}
	if int64(maxID)+1 > maxConcepts {
		return nil, fmt.Errorf("concepts: concept id %d (the largest, in %s) makes M = %d concepts (max id + 1), more than the %d the concept branch supports "+
			"(it holds dense M x M adjacencies, 12 M^2 bytes while A_hat is built)", maxID, maxFile, int64(maxID)+1, maxConcepts)
	}
	cd.M = int(maxID) + 1
	M := cd.M
	if files, err = find(table.ConceptEdges); err != nil {
		return nil, err
	}
	var edges []table.ConceptEdgeRow
	err = table.Scan(ctx, files, 4096, func(rows []table.ConceptEdgeRow) error {
		for _, r := range rows {
			if r.Src < 0 || r.Dst < 0 || int(r.Src) >= M || int(r.Dst) >= M || r.Src == r.Dst ||
				!(r.Weight > 0) || math.IsInf(float64(r.Weight), 0) {
				cd.Counts.EdgesSkipped++
				continue
			}
			edges = append(edges, table.ConceptEdgeRow{Src: r.Src, Dst: r.Dst, Rel: r.Rel, Weight: r.Weight})
			cd.Counts.Edges++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("concept_edges: %w", err)
	}
	// the adjacency kg.link writes (adjacency.f32) and docs/kg.md defines:
	// one definition for the stored matrix and the one training uses
	cd.adj = kgstage.Adjacency(M, edges)
	if files, err = labelsFind(table.CaptionConcepts); err != nil {
		return nil, err
	}
	err = table.Scan(ctx, files, 4096, func(rows []table.CaptionConceptRow) error {
		for _, r := range rows {
			if !keep(r.CaptionID) {
				continue
			}
			var ids []int32
			for _, c := range r.ConceptIDs {
				if c < 0 || int(c) >= M {
					cd.Counts.LabelsSkipped++
					continue
				}
				ids = append(ids, c)
			}
			if len(ids) > 0 {
				cd.labels[r.CaptionID] = ids
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("caption_concepts: %w", err)
	}
	return cd, nil
}

// multiHot writes the labels of caption id into dst (len M).
func (cd *conceptData) multiHot(id int64, dst []float32) {
	clear(dst)
	for _, c := range cd.labels[id] {
		dst[c] = 1
	}
}
