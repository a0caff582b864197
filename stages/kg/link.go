package kg

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"coderflow/datasets/table"
	"coderflow/internal/atomicfile"
	"coderflow/kg"
	"coderflow/pipeline"
)

// Param names of kg.link.
const (
	ParamConcepts   = "concepts"
	ParamCooccur    = "cooccur"
	ParamCooccurMin = "cooccur_min"
	DefaultConcepts = 300
	// MaxConcepts bounds M: train.coder holds the dense M x M adjacency
	// (400 MB at 10,000) and multiplies by it every step.
	MaxConcepts        = 10000
	DefaultCooccurMin  = 5
	RelCoOccurs        = "/r/CoOccurs"
	AdjacencyFile      = "adjacency.f32"
	captionConceptsRel = "caption_concepts.parquet"
)

// LinkSpec is the kg.link stage kind.
var LinkSpec = pipeline.Spec{
	Kind: "kg.link",
	// 2: multi-word concepts with inner stop words (cup_of_tea) link, and
	// an n-gram's last word is lemmatised against the n-gram.
	// 3: a hyphenated word also links as ConceptNet writes it (t_shirt).
	// 4: inside n-grams too (x-ray machine -> x_ray_machine).
	// 5: the graph's multi-word concepts made of the pieces of hyphenated
	// words are loaded (4 linked x-ray machines only through kg.Linker,
	// the stage gave "machine"); morphy no longer crosses parts of speech
	// (clothes -> clothes, not the verb clothe; news, goggles, outdoors);
	// symbols without a letter ("—", "“") are not content words, nor
	// contraction pieces ("ca" of "can't" linked calcium); adjacency.f32
	// ignores NaN/Inf/negative weights (one NaN weight had made every
	// graph edge vanish, an Inf one made A_hat NaN).
	// 6: a token id outside the vocab, and a vocab with a repeated id, are
	// errors (the id was read as <unk>, the missing token as "");
	// morphy applies no detachment rule to an exception-list word ("gas"
	// had linked gallium's "ga" when the graph has it, "oases" "oas").
	// 7: a multi-word concept that is also the ConceptNet spelling of a
	// hyphenated vocabulary word (ice_cream of ice-cream) links from its
	// words written apart ("ice cream", "ice creams") even when no other
	// multi-word concept starts or ends with them (they linked ice, cream).
	Version: "7",
	Doc: "Links caption tokens to graph concepts (WordNet morphy lemmas, longest n-gram first up to 3 words, stop " +
		"words never linked), selects the `concepts` most frequent linked concepts of the train split, and writes " +
		"concepts, concept_edges (graph relations with weights from Cayley, plus /r/CoOccurs caption co-occurrence), " +
		"caption_concepts, image_concepts and adjacency.f32 (A_hat = D^-1/2 (A+I) D^-1/2, M x M float32).",
	Produces: []string{table.Concepts, table.ConceptEdges, table.CaptionConcepts, table.ImageConcepts},
	Params: []pipeline.Param{
		{Name: ParamConcepts, Type: pipeline.Int, Default: DefaultConcepts, Min: pipeline.Bound(1), Max: pipeline.Bound(MaxConcepts),
			Doc: "size M of the concept vocabulary: the most frequent linked concepts on the train split (at most 10,000: training keeps a dense M x M adjacency)"},
		{Name: ParamCooccur, Type: pipeline.Bool, Default: true,
			Doc: "add caption co-occurrence edges (/r/CoOccurs) to concept_edges and the adjacency"},
		{Name: ParamCooccurMin, Type: pipeline.Int, Default: DefaultCooccurMin, Min: pipeline.Bound(1),
			Doc: "minimum number of train captions two concepts share for a /r/CoOccurs edge"},
	},
	Stage: pipeline.StageFunc(runLink),
}

func init() { pipeline.Default.MustRegister(LinkSpec) }

// linkStats counts what linking saw.
type linkStats struct {
	captions, linkedCaptions int64
	contentTokens            int64 // tokens that are not stop words (nor <unk>, punctuation)
	linkedTokens             int64 // content tokens inside a linked n-gram
}

// captionLinker links id sequences through a vocabulary.
type captionLinker struct {
	vocab []string
	l     *kg.Linker
	words []string
}

func (c *captionLinker) link(ids []int32, st *linkStats, fn func(concept string)) {
	c.words = c.words[:0]
	for _, id := range ids {
		w := "<unk>"
		if id >= 0 && int(id) < len(c.vocab) {
			w = c.vocab[id]
		}
		c.words = append(c.words, w)
		if st != nil && !kg.IsStopWord(w) {
			st.contentTokens++
		}
	}
	any := false
	c.l.Link(c.words, func(concept string, start, n int) {
		any = true
		if st != nil {
			for _, w := range c.words[start : start+n] {
				if !kg.IsStopWord(w) {
					st.linkedTokens++
				}
			}
		}
		fn(concept)
	})
	if st != nil {
		st.captions++
		if any {
			st.linkedCaptions++
		}
	}
}

// newCaptionLinker loads the vocabulary and the graph concepts that can
// occur in captions (kg_nodes rows whose words are vocabulary words or
// their morphy candidates).
func newCaptionLinker(ctx context.Context, env *pipeline.Env) (*captionLinker, *pipeline.Artifact, error) {
	vfiles, _, err := env.InputTable(table.Vocab)
	if err != nil {
		return nil, nil, err
	}
	vrows, err := table.ReadAll[table.VocabRow](ctx, vfiles...)
	if err != nil {
		return nil, nil, fmt.Errorf("kg.link: vocab: %w", err)
	}
	// Ids are 0..n-1 (as tokenize.NewVocab requires): a negative id would
	// index out of range, and a huge one size the slice.
	// A repeated id leaves another without a token (tokenize.NewVocab
	// refuses both too).
	vocab := make([]string, len(vrows))
	seen := make([]bool, len(vrows))
	for _, r := range vrows {
		if r.ID < 0 || int(r.ID) >= len(vrows) || seen[r.ID] {
			return nil, nil, fmt.Errorf("kg.link: vocab %s: id %d (token %q) is duplicated or outside 0..%d", strings.Join(vfiles, ", "), r.ID, r.Token, len(vrows)-1)
		}
		vocab[r.ID], seen[r.ID] = r.Token, true
	}
	nfiles, kgArt, err := env.InputTable(TableNodes)
	if err != nil {
		return nil, nil, err
	}
	ex := kg.EmbeddedExceptions()
	lem := &kg.Lemmatizer{Exc: ex}
	// forms: what a content word may link as (itself or a morphy form);
	// inner: what may stand inside a multi-word concept, which the linker
	// takes as written, stop words included ("cup_of_tea").
	// hyphenParts: the pieces of hyphenated forms ("x", "ray" of "x-ray";
	// "ice", "cream" of "ice-creams"'s candidate "ice-cream"), which
	// ConceptNet writes as words of multi-word concepts (x_ray_machine,
	// chocolate_ice_cream): they may stand anywhere in one.
	forms := map[string]bool{}
	inner := map[string]bool{}
	hyphenParts := map[string]bool{}
	for _, w := range vocab {
		if w == "" {
			continue
		}
		inner[w] = true
		if kg.IsStopWord(w) {
			continue
		}
		for _, c := range lem.Candidates(w) {
			forms[c] = true
			if strings.Contains(c, "-") {
				forms[kg.HyphensToUnderscores(c)] = true // what Linker.Lemma also tries
				for _, p := range strings.Split(c, "-") {
					if p != "" {
						hyphenParts[p] = true
					}
				}
			}
		}
	}
	known := map[string]bool{}
	var multi []string
	err = table.Scan(ctx, nfiles, 1<<14, func(rows []NodeRow) error {
		for _, r := range rows {
			c := r.Concept
			if forms[c] {
				known[c] = true
				if strings.Contains(c, "_") {
					// also the spelling of a hyphenated word ("ice_cream"
					// of "ice-cream"): its words written apart ("ice
					// cream") must start and end an n-gram too
					multi = append(multi, c)
				}
				continue
			}
			parts := strings.Split(c, "_")
			// A concept of up to MaxNGram words, or more when hyphenated
			// words give some of them ("chocolate ice-cream cone").
			if len(parts) < 2 || len(parts) > 2*kg.MaxNGram {
				continue
			}
			ok, fromHyphen := true, false
			for i, p := range parts {
				fromHyphen = fromHyphen || hyphenParts[p]
				if !forms[p] && !(i > 0 && i < len(parts)-1 && inner[p]) && !hyphenParts[p] {
					ok = false
					break
				}
			}
			if ok && (len(parts) <= kg.MaxNGram || fromHyphen) {
				known[c] = true
				multi = append(multi, c)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("kg.link: %s: %w", TableNodes, err)
	}
	l := kg.NewLinker(func(s string) bool { return known[s] }, ex)
	l.SetStarts(multi)
	env.Log.Info("graph concepts reachable from the vocabulary", "concepts", len(known), "multi_word", len(multi))
	return &captionLinker{vocab: vocab, l: l}, kgArt, nil
}

func runLink(ctx context.Context, env *pipeline.Env) error {
	start := time.Now()
	p := env.Params
	tfiles, _, err := env.InputTable(table.Tokens)
	if err != nil {
		return err
	}
	cl, kgArt, err := newCaptionLinker(ctx, env)
	if err != nil {
		return err
	}

	// Pass 1: link every caption once; count the train-split document
	// frequency of each concept, and spill (caption, image, split, linked
	// concepts) to a scratch file that pass 2 reads back, so the tokens are
	// parsed and linked once while memory stays bounded by the vocabulary.
	freq := map[string]int64{}
	var st, trainSt linkStats
	intern := map[string]int32{}
	var internNames []string
	spillPath := env.Path(".link-spill")
	defer os.Remove(spillPath)
	spillF, err := os.Create(spillPath)
	if err != nil {
		return err
	}
	defer spillF.Close()
	spill := bufio.NewWriterSize(spillF, 1<<20)
	var rec []byte
	var capIdx []int32
	prog := env.Progress("captions", 0)
	err = nil
	for _, tfile := range tfiles {
		row := int64(-1) // of r in tfile
		err = table.Scan(ctx, []string{tfile}, 4096, func(rows []table.TokenRow) error {
			for _, r := range rows {
				row++
				// An id outside the vocab is damage, not <unk> (train.coder
				// refuses it too).
				for _, id := range r.IDs {
					if id < 0 || int(id) >= len(cl.vocab) {
						return fmt.Errorf("tokens %s, row %d: caption %d (image %d): token id %d is outside the vocab (0..%d)",
							tfile, row, r.CaptionID, r.ImageID, id, len(cl.vocab)-1)
					}
				}
				train := r.Split == table.SplitTrain
				ss := &st
				if train {
					ss = &trainSt
				}
				capIdx = capIdx[:0]
				cl.link(r.IDs, ss, func(c string) {
					i, ok := intern[c]
					if !ok {
						i = int32(len(internNames))
						intern[c] = i
						internNames = append(internNames, c)
					}
					if !slices.Contains(capIdx, i) {
						capIdx = append(capIdx, i)
						if train {
							freq[c]++
						}
					}
				})
				rec = binary.AppendVarint(rec[:0], r.CaptionID)
				rec = binary.AppendVarint(rec, r.ImageID)
				flag := byte(0)
				if train {
					flag = 1
				}
				rec = append(rec, flag)
				rec = binary.AppendUvarint(rec, uint64(len(capIdx)))
				for _, i := range capIdx {
					rec = binary.AppendUvarint(rec, uint64(i))
				}
				if _, err := spill.Write(rec); err != nil {
					return err
				}
			}
			prog.Add(int64(len(rows)))
			return nil
		})
		if err != nil {
			break
		}
	}
	prog.Done()
	if err == nil {
		err = spill.Flush()
	}
	if err != nil {
		return fmt.Errorf("kg.link: %w", err)
	}
	if len(freq) == 0 {
		return fmt.Errorf("kg.link: no concept linked on the train split (%d train captions)", trainSt.captions)
	}
	names := make([]string, 0, len(freq))
	for c := range freq {
		names = append(names, c)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(freq[b], freq[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	m := min(p.Int(ParamConcepts), len(names))
	names = names[:m]
	id := make(map[string]int32, m)
	crow := make([]table.ConceptRow, m)
	for i, c := range names {
		id[c] = int32(i)
		crow[i] = table.ConceptRow{ConceptID: int32(i), URI: kg.ConceptURI(c), Label: kg.ConceptLabel(c), Freq: freq[c]}
	}
	if err := table.WriteFile(env.Path("concepts.parquet"), env, table.Concepts, table.Options{}, crow); err != nil {
		return err
	}
	env.AddTable(table.Concepts, int64(m), "concepts.parquet")

	// Pass 2 (from the spill): caption_concepts, image_concepts,
	// co-occurrence counts.
	cw, err := table.Create[table.CaptionConceptRow](env.Path(captionConceptsRel), env, table.CaptionConcepts, table.Options{RowGroupRows: 1 << 15})
	if err != nil {
		return err
	}
	defer cw.Abort()
	images := map[int64][]int32{}
	pairs := map[[2]int32]int64{}
	selected := make([]int32, len(internNames)) // interned concept -> concept id, or -1
	for i, c := range internNames {
		selected[i] = -1
		if j, ok := id[c]; ok {
			selected[i] = j
		}
	}
	if _, err := spillF.Seek(0, io.SeekStart); err != nil {
		return err
	}
	in := bufio.NewReaderSize(spillF, 1<<20)
	out := make([]table.CaptionConceptRow, 0, 4096)
	flush := func() error {
		err := cw.Write(out)
		out = out[:0]
		return err
	}
	for {
		capID, err := binary.ReadVarint(in)
		if err == io.EOF {
			break
		}
		imgID, err1 := binary.ReadVarint(in)
		flag, err2 := in.ReadByte()
		n, err3 := binary.ReadUvarint(in)
		if err = cmp.Or(err, err1, err2, err3); err != nil {
			return fmt.Errorf("kg.link: reading back %s: %w", spillPath, err)
		}
		ids := []int32{}
		for k := uint64(0); k < n; k++ {
			i, err := binary.ReadUvarint(in)
			if err != nil {
				return fmt.Errorf("kg.link: reading back %s: %w", spillPath, err)
			}
			if j := selected[i]; j >= 0 {
				ids = append(ids, j)
			}
		}
		out = append(out, table.CaptionConceptRow{CaptionID: capID, ConceptIDs: ids})
		img := images[imgID]
		for _, i := range ids {
			if !slices.Contains(img, i) {
				img = append(img, i)
			}
		}
		images[imgID] = img
		if flag == 1 {
			for a := range ids {
				for b := a + 1; b < len(ids); b++ {
					pairs[[2]int32{min(ids[a], ids[b]), max(ids[a], ids[b])}]++
				}
			}
		}
		if len(out) == cap(out) {
			if err := ctx.Err(); err != nil { // the spill holds every caption
				return err
			}
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	ncap := cw.Rows()
	if err := cw.Close(); err != nil {
		return err
	}
	env.AddTable(table.CaptionConcepts, ncap, captionConceptsRel)
	linkSec := time.Since(start).Seconds()

	imgIDs := make([]int64, 0, len(images))
	for k := range images {
		imgIDs = append(imgIDs, k)
	}
	slices.Sort(imgIDs)
	irows := make([]table.ImageConceptRow, len(imgIDs))
	for i, k := range imgIDs {
		c := images[k]
		slices.Sort(c)
		irows[i] = table.ImageConceptRow{ImageID: k, ConceptIDs: c}
	}
	if err := table.WriteFile(env.Path("image_concepts.parquet"), env, table.ImageConcepts, table.Options{}, irows); err != nil {
		return err
	}
	env.AddTable(table.ImageConcepts, int64(len(irows)), "image_concepts.parquet")

	// Concept edges: graph edges among the selected concepts, through Cayley.
	store, err := kg.OpenStore(kgArt.Dir)
	if err != nil {
		return err
	}
	defer store.Close()
	among, err := store.EdgesAmong(ctx, names)
	if err != nil {
		return err
	}
	edges := make([]table.ConceptEdgeRow, 0, len(among))
	for _, e := range among {
		edges = append(edges, table.ConceptEdgeRow{Src: e.Src, Dst: e.Dst, Rel: e.Rel, Weight: e.Weight})
	}
	graphEdges := len(edges)
	if p.Bool(ParamCooccur) {
		minC := int64(p.Int(ParamCooccurMin))
		keys := make([][2]int32, 0, len(pairs))
		for k, n := range pairs {
			if n >= minC {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b [2]int32) int {
			return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
		})
		for _, k := range keys {
			w := float64(pairs[k]) / math.Sqrt(float64(freq[names[k[0]]])*float64(freq[names[k[1]]]))
			edges = append(edges, table.ConceptEdgeRow{Src: k[0], Dst: k[1], Rel: RelCoOccurs, Weight: float32(min(w, 1))})
		}
	}
	if err := table.WriteFile(env.Path("concept_edges.parquet"), env, table.ConceptEdges, table.Options{}, edges); err != nil {
		return err
	}
	env.AddTable(table.ConceptEdges, int64(len(edges)), "concept_edges.parquet")

	if err := writeAdjacency(env.Path(AdjacencyFile), m, edges); err != nil {
		return err
	}

	all := st
	all.captions += trainSt.captions
	all.linkedCaptions += trainSt.linkedCaptions
	all.contentTokens += trainSt.contentTokens
	all.linkedTokens += trainSt.linkedTokens
	coverage := 0.0
	if all.contentTokens > 0 {
		coverage = float64(all.linkedTokens) / float64(all.contentTokens)
	}
	top := names[:min(20, len(names))]
	env.SetInfo("concepts", m)
	env.SetInfo("linked_concepts_train", len(freq))
	env.SetInfo("adjacency", map[string]any{"file": AdjacencyFile, "rows": m, "cols": m, "dtype": "float32", "order": "row-major little-endian"})
	env.SetInfo("graph_edges", graphEdges)
	env.SetInfo("cooccur_edges", len(edges)-graphEdges)
	env.SetInfo("captions", all.captions)
	env.SetInfo("captions_with_concept", all.linkedCaptions)
	env.SetInfo("content_tokens", all.contentTokens)
	env.SetInfo("linked_content_tokens", all.linkedTokens)
	env.SetInfo("top_concepts", top)
	env.SetMetric("coverage", coverage)
	env.SetMetric("captions_per_second", float64(all.captions)/linkSec)
	env.Summarize("%d concepts (top: %s), %d edges (%d from the graph), coverage %.1f%% of content words over %d captions",
		m, strings.Join(top[:min(8, len(top))], ", "), len(edges), graphEdges, 100*coverage, all.captions)
	return nil
}

// Adjacency returns A_hat = D^-1/2 (A + I) D^-1/2 for m concepts and edges
// (row-major, m*m): A_ij = max over graph edges between i and j of
// weight / (largest graph weight), plus the /r/CoOccurs weight; A is made
// symmetric. Edges that are self loops, name an id outside [0, m) or have
// a weight that is not finite and positive (NaN, Inf, negative) are
// ignored, so every entry is finite and a concept without edges has 1 on
// its diagonal and 0 elsewhere. This is the concept branch's adjacency:
// kg.link writes it as adjacency.f32 and train.coder computes it from
// concept_edges with this function. Memory: one m*m float64 scratch matrix besides the result.
func Adjacency(m int, edges []table.ConceptEdgeRow) []float32 {
	usable := func(e table.ConceptEdgeRow) bool {
		i, j := int(e.Src), int(e.Dst)
		return i != j && i >= 0 && j >= 0 && i < m && j < m &&
			e.Weight > 0 && !math.IsInf(float64(e.Weight), 0) // false for NaN too
	}
	maxW := float32(0)
	for _, e := range edges {
		if e.Rel != RelCoOccurs && usable(e) {
			maxW = max(maxW, e.Weight)
		}
	}
	a := make([]float64, m*m) // the graph part, then A + I
	co := map[int]float64{}   // the /r/CoOccurs part, by i*m+j (sparse)
	for _, e := range edges {
		if !usable(e) {
			continue
		}
		i, j := int(e.Src), int(e.Dst)
		if e.Rel == RelCoOccurs {
			w := max(co[i*m+j], float64(e.Weight))
			co[i*m+j], co[j*m+i] = w, w
			continue
		}
		w := float64(e.Weight / maxW) // maxW >= e.Weight > 0
		a[i*m+j] = max(a[i*m+j], w)
		a[j*m+i] = a[i*m+j]
	}
	for k, w := range co { // each pair once: the order does not matter
		a[k] += w
	}
	deg := make([]float64, m)
	for i := 0; i < m; i++ {
		a[i*m+i] = 1
		for j := 0; j < m; j++ {
			deg[i] += a[i*m+j]
		}
	}
	out := make([]float32, m*m)
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			out[i*m+j] = float32(a[i*m+j] / math.Sqrt(deg[i]*deg[j]))
		}
	}
	return out
}

func writeAdjacency(path string, m int, edges []table.ConceptEdgeRow) error {
	a := Adjacency(m, edges)
	b := make([]byte, 4*len(a))
	for i, v := range a {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

// ReadAdjacency reads an adjacency.f32 file of an m-concept kg.link artifact.
func ReadAdjacency(path string, m int) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// m comes from a manifest's info: bound it before squaring (4*m*m
	// overflowed to 0 for m = 2^31, and an empty file then asked for a
	// 2^62-element slice).
	if m < 0 || m > 1<<24 || len(b) != 4*m*m {
		return nil, fmt.Errorf("kg.link: %s has %d bytes, not the 4*m*m of a %d x %d float32 matrix", path, len(b), m, m)
	}
	out := make([]float32, m*m)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}
