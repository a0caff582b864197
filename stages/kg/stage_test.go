package kg

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/kg"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// tokensSpec is a test-only stage writing a vocab and a tokens table for
// captions given as "split|image_id|text" strings (whitespace tokens).
func tokensSpec(captions []string) *pipeline.Spec {
	return &pipeline.Spec{
		Kind: "test.tokens", Version: "1", Produces: []string{table.Tokens, table.Vocab},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			ids := map[string]int32{"<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3}
			vocab := []table.VocabRow{{ID: 0, Token: "<pad>"}, {ID: 1, Token: "<start>"}, {ID: 2, Token: "<end>"}, {ID: 3, Token: "<unk>"}}
			var rows []table.TokenRow
			for i, c := range captions {
				f := strings.SplitN(c, "|", 3)
				var img int64
				for _, ch := range f[1] {
					img = img*10 + int64(ch-'0')
				}
				var tok []int32
				for _, w := range strings.Fields(f[2]) {
					id, ok := ids[w]
					if !ok {
						id = int32(len(vocab))
						ids[w] = id
						vocab = append(vocab, table.VocabRow{ID: id, Token: w})
					}
					vocab[id].Count++
					tok = append(tok, id)
				}
				rows = append(rows, table.TokenRow{CaptionID: int64(i), ImageID: img, Split: f[0], IDs: tok, Length: int32(len(tok))})
			}
			if err := table.WriteFile(env.Path("vocab.parquet"), env, table.Vocab, table.Options{}, vocab); err != nil {
				return err
			}
			env.AddTable(table.Vocab, int64(len(vocab)), "vocab.parquet")
			if err := table.WriteFile(env.Path("tokens/part-00000.parquet"), env, table.Tokens, table.Options{}, rows); err != nil {
				return err
			}
			env.AddTable(table.Tokens, int64(len(rows)), "tokens/part-00000.parquet")
			return nil
		}),
	}
}

func TestConceptNetEmbedded(t *testing.T) {
	a := pipelinetest.RunStage(t, &ConceptNetSpec, nil)
	if n := a.TableRows(TableNodes); n < 1000 {
		t.Fatalf("kg_nodes has %d rows", n)
	}
	s, err := kg.OpenStore(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct{ term, rel, want string }{
		{"crimson", "IsA", "red"}, {"disk", "IsA", "circle"}, {"tiny", "SimilarTo", "small"}, {"large", "Antonym", "small"},
	} {
		ns, err := s.Neighbors(t.Context(), c.term, c.rel)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(ns, func(n kg.Neighbor) bool { return n.Concept == c.want }) {
			t.Errorf("neighbors(%s, %s) = %v, want %s among them", c.term, c.rel, ns, c.want)
		}
	}
	rows, err := table.ReadAll[NodeRow](t.Context(), a.Path("nodes.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(rows, func(x, y NodeRow) int { return strings.Compare(x.Concept, y.Concept) }) || rows[0].Degree < 1 {
		t.Errorf("kg_nodes not sorted or degree 0: %v", rows[:3])
	}
}

func TestConceptNetBadInputs(t *testing.T) {
	sample, err := os.ReadFile("../../kg/testdata/conceptnet-sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(sample), "\n")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// 1% malformed lines.
	var bad strings.Builder
	for i, l := range lines {
		if i%100 == 50 {
			bad.WriteString("broken line without tabs\n")
		}
		bad.WriteString(l)
	}
	var nonEN strings.Builder
	for _, l := range lines {
		if !strings.Contains(l, "\t/c/en/") {
			nonEN.WriteString(l)
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(sample)
	zw.Close()
	wn := filepath.Join(dir, "wordnet")
	os.Mkdir(wn, 0o755)
	for _, f := range []string{"data.noun", "data.verb", "data.adj", "data.adv"} {
		b, _ := os.ReadFile(filepath.Join("../../kg/testdata/wordnet-mini", f))
		if f == "data.adj" {
			b = append(b, []byte("01391351 00 a 02 small 0 little 1 029 = 05098942\n")...)
		}
		os.WriteFile(filepath.Join(wn, f), b, 0o644)
	}

	for _, c := range []struct {
		name    string
		params  map[string]any
		wantErr []string // substrings; none = success
	}{
		{"malformed above threshold", map[string]any{"source": write("bad.csv", []byte(bad.String()))},
			[]string{"malformed", "max_bad_fraction", "bad.csv:51:"}},
		{"malformed below threshold", map[string]any{"source": write("bad2.csv", []byte(bad.String())), "max_bad_fraction": 0.05}, nil},
		{"non-English only", map[string]any{"source": write("fr.csv", []byte(nonEN.String()))}, []string{"no English-to-English edges"}},
		{"empty file", map[string]any{"source": write("empty.csv", nil)}, []string{"empty"}},
		{"gzip cut in half", map[string]any{"source": write("cut.csv.gz", gz.Bytes()[:gz.Len()/2])}, []string{"cut.csv.gz", "after line", "unexpected EOF"}},
		{"gzip whole", map[string]any{"source": write("whole.csv.gz", gz.Bytes()), "loader": "quadwriter"}, nil},
		{"wordnet broken line", map[string]any{"source": wn, "max_bad_fraction": 0.0}, []string{"data.adj:3:", "malformed"}},
		{"wordnet broken line tolerated", map[string]any{"source": wn, "max_bad_fraction": 0.2}, nil},
		{"missing source", map[string]any{"source": filepath.Join(dir, "nope.csv")}, []string{"nope.csv"}},
		{"directory that is not WordNet", map[string]any{"source": t.TempDir()}, []string{"WordNet dictionary"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := pipelinetest.RunStageErr(t, &ConceptNetSpec, c.params)
			if c.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if a.Manifest.Info["bad_lines"] == nil {
					t.Error("bad_lines not reported")
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q", c.wantErr)
			}
			for _, s := range c.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestLink(t *testing.T) {
	caps := []string{
		"train|1|a small crimson disk above a large blue square on grass",
		"train|1|a tiny red circle over a big navy box",
		"train|2|a red circle next to a green triangle on sand",
		"train|2|a scarlet dot and an emerald wedge on the sand",
		"train|3|a red circle on water",
		"train|3|the circles are red",
		"test|4|a yellow star on snow",
	}
	tok := pipelinetest.RunStage(t, tokensSpec(caps), nil)
	graph := pipelinetest.RunStage(t, &ConceptNetSpec, nil)
	a := pipelinetest.RunStage(t, &LinkSpec, map[string]any{"concepts": 12, "cooccur_min": 2}, tok, graph)

	files, _ := a.Table(table.Concepts)
	concepts, err := table.ReadAll[table.ConceptRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for i, c := range concepts {
		if c.ConceptID != int32(i) || c.URI != "/c/en/"+strings.ReplaceAll(c.Label, " ", "_") {
			t.Errorf("concept row %+v", c)
		}
		labels = append(labels, c.Label)
	}
	// circle: 4 train captions (circles lemmatised), red: 4 (crimson/scarlet are separate concepts).
	if len(labels) != 12 || labels[0] != "circle" || labels[1] != "red" {
		t.Fatalf("concepts %v", labels)
	}
	files, _ = a.Table(table.CaptionConcepts)
	cc, err := table.ReadAll[table.CaptionConceptRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	if len(cc) != len(caps) {
		t.Fatalf("%d caption_concepts rows", len(cc))
	}
	if got := cc[5].ConceptIDs; !slices.Equal(got, []int32{0, 1}) { // "the circles are red"
		t.Errorf("caption 5 concepts %v, want [0 1]", got)
	}
	files, _ = a.Table(table.ImageConcepts)
	ic, err := table.ReadAll[table.ImageConceptRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	if len(ic) != 4 || ic[2].ImageID != 3 || !slices.IsSorted(ic[2].ConceptIDs) || !slices.Contains(ic[2].ConceptIDs, 0) {
		t.Errorf("image_concepts %v", ic)
	}
	files, _ = a.Table(table.ConceptEdges)
	edges, err := table.ReadAll[table.ConceptEdgeRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	var co, kgEdges int
	for _, e := range edges {
		if e.Src < 0 || e.Dst < 0 || e.Src >= 12 || e.Dst >= 12 || e.Weight <= 0 {
			t.Errorf("edge %+v", e)
		}
		if e.Rel == RelCoOccurs {
			co++
		} else {
			kgEdges++
		}
	}
	want := map[string]bool{"crimson /r/IsA red": false, "disk /r/IsA circle": false}
	for _, e := range edges {
		k := labels[e.Src] + " " + e.Rel + " " + labels[e.Dst]
		if _, ok := want[k]; ok {
			want[k] = true
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("concept_edges lacks %s: %v", k, edges)
		}
	}
	if co == 0 || kgEdges == 0 {
		t.Errorf("edges: %d co-occurrence, %d graph (%v)", co, kgEdges, edges)
	}
	m := len(concepts)
	adj, err := ReadAdjacency(a.Path(AdjacencyFile), m)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			if d := adj[i*m+j] - adj[j*m+i]; d > 1e-6 || d < -1e-6 || adj[i*m+j] < 0 {
				t.Fatalf("A_hat not symmetric non-negative at %d,%d", i, j)
			}
		}
		if adj[i*m+i] <= 0 {
			t.Fatalf("A_hat diagonal %d is %v", i, adj[i*m+i])
		}
	}
	if cov := a.Manifest.Metrics["coverage"]; cov <= 0.5 || cov > 1 {
		t.Errorf("coverage %v", cov)
	}
}

func TestAdjacencyNormalisation(t *testing.T) {
	// Two concepts joined by one edge of the largest weight: A+I = [[1 1][1 1]],
	// D = 2, A_hat = 0.5 everywhere. A third isolated concept keeps 1 on its diagonal.
	a := Adjacency(3, []table.ConceptEdgeRow{{Src: 0, Dst: 1, Rel: "/r/IsA", Weight: 2}})
	want := []float32{0.5, 0.5, 0, 0.5, 0.5, 0, 0, 0, 1}
	for i := range want {
		if d := a[i] - want[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("A_hat = %v, want %v", a, want)
		}
	}
}

func TestConceptNetUpstream(t *testing.T) {
	// A fake download artifact with files/ holding a ConceptNet CSV.
	dl := &pipeline.Spec{Kind: "test.download", Version: "1", Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		b, err := os.ReadFile("../../kg/testdata/conceptnet-sample.csv")
		if err != nil {
			return err
		}
		return os.WriteFile(env.Path("files/sub/assertions.csv"), b, 0o644)
	})}
	in := pipelinetest.RunStage(t, dl, nil)
	a := pipelinetest.RunStage(t, &ConceptNetSpec, map[string]any{"upstream": true}, in)
	if a.TableRows(TableNodes) < 80 {
		t.Errorf("%d concepts from the upstream file", a.TableRows(TableNodes))
	}
	empty := pipelinetest.RunStage(t, &pipeline.Spec{Kind: "test.nothing", Version: "1",
		Stage: pipeline.StageFunc(func(context.Context, *pipeline.Env) error { return nil })}, nil)
	if _, err := pipelinetest.RunStageErr(t, &ConceptNetSpec, map[string]any{"upstream": true}, empty); err == nil || !strings.Contains(err.Error(), "no .csv") {
		t.Errorf("upstream without files: %v", err)
	}
	// a source next to upstream: true was never read, silently (and the
	// download it was meant to replace still ran)
	src := "../../kg/testdata/conceptnet-sample.csv"
	if _, err := pipelinetest.RunStageErr(t, &ConceptNetSpec, map[string]any{"upstream": true, "source": src}, in); err == nil ||
		!strings.Contains(err.Error(), "is not read with upstream: true") {
		t.Errorf("upstream with a source: %v", err)
	}
}

// TestConceptNetLoaderKey checks the cache contract of the loader param:
// two runs with the same cache key must write the same kg_nodes table (the
// loaders count an edge asserted twice alike now, see
// TestConceptNetLoadersAgree; the loader stays in the key because their
// store files differ).
func TestConceptNetLoaderKey(t *testing.T) {
	line := "/a/[/r/IsA/,/c/en/dog/,/c/en/animal/]\t/r/IsA\t/c/en/dog\t/c/en/animal\t{\"dataset\": \"/d/x\", \"weight\": 1.0}\n"
	p := filepath.Join(t.TempDir(), "dup.csv")
	if err := os.WriteFile(p, []byte(line+line+strings.ReplaceAll(line, "animal", "pet")), 0o644); err != nil {
		t.Fatal(err)
	}
	nodes := map[string][]NodeRow{}
	keys := map[string]string{}
	for _, l := range kg.Loaders {
		a := pipelinetest.RunStage(t, &ConceptNetSpec, map[string]any{"source": p, "loader": l})
		rows, err := table.ReadAll[NodeRow](t.Context(), a.Path("nodes.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		nodes[l], keys[l] = rows, a.Key()
	}
	if keys[kg.LoaderBulk] == keys[kg.LoaderQuadWriter] && !slices.Equal(nodes[kg.LoaderBulk], nodes[kg.LoaderQuadWriter]) {
		t.Errorf("same cache key %s, different kg_nodes: bulk %v, quadwriter %v",
			keys[kg.LoaderBulk][:12], nodes[kg.LoaderBulk], nodes[kg.LoaderQuadWriter])
	}
}

// TestConceptNetLoadersAgree: an edge asserted more than once is stored
// and counted once whatever the loader and the batch size: the kg_nodes
// degrees and info.quads are the same. (The QuadWriter path used to count
// every copy in the degrees, and Cayley's writer kept a repeat that arrived
// in another batch, so the quads depended on the batch size.)
func TestConceptNetLoadersAgree(t *testing.T) {
	line := "/a/[/r/IsA/,/c/en/dog/,/c/en/animal/]\t/r/IsA\t/c/en/dog\t/c/en/animal\t{\"dataset\": \"/d/x\", \"weight\": 1.0}\n"
	p := filepath.Join(t.TempDir(), "dup.csv")
	if err := os.WriteFile(p, []byte(line+line+strings.ReplaceAll(line, "animal", "pet")+line), 0o644); err != nil {
		t.Fatal(err)
	}
	var first string
	for _, l := range kg.Loaders {
		for _, batch := range []int{1, 10000} {
			a := pipelinetest.RunStage(t, &ConceptNetSpec, map[string]any{"source": p, "loader": l, "batch": batch})
			rows, err := table.ReadAll[NodeRow](t.Context(), a.Path("nodes.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("nodes %v, quads %v, edges %v", rows, a.Manifest.Info["quads"], a.Manifest.Info["edges"])
			if first == "" {
				first = got
				if want := "nodes [{animal 1} {dog 2} {pet 1}], quads 2, edges 4"; got != want {
					t.Fatalf("%s batch %d: %s, want %s", l, batch, got, want)
				}
			} else if got != first {
				t.Errorf("%s batch %d: %s; bulk: %s", l, batch, got, first)
			}
		}
	}
}

// TestLinkConceptsBound: a concept vocabulary too large for the dense
// adjacency is a param error naming the param, before anything runs.
func TestLinkConceptsBound(t *testing.T) {
	if _, err := pipeline.NewParams(LinkSpec.Params, map[string]any{ParamConcepts: MaxConcepts}); err != nil {
		t.Fatalf("concepts = MaxConcepts: %v", err)
	}
	_, err := pipeline.NewParams(LinkSpec.Params, map[string]any{ParamConcepts: MaxConcepts + 1})
	if err == nil || !strings.Contains(err.Error(), ParamConcepts) {
		t.Fatalf("concepts = MaxConcepts+1: err %v, want an error naming %q", err, ParamConcepts)
	}
}

// TestLinkMultiWordConcepts: multi-word concepts with a stop word inside
// (cup_of_tea, bird_of_prey, man_of_war) are loaded and linked, longest
// n-gram first, so "cup of tea" is cup_of_tea and not cup + tea; and the
// last word of an n-gram is lemmatised against the n-gram ("hot dogs" ->
// hot_dog) although dog alone is not in this graph.
func TestLinkMultiWordConcepts(t *testing.T) {
	t.Parallel()
	var csv strings.Builder
	for _, e := range [][2]string{
		{"cup_of_tea", "drink"}, {"tea", "drink"}, {"cup", "container"}, {"bird_of_prey", "bird"},
		{"man_of_war", "ship"}, {"man", "person"}, {"hot_dog", "food"}, {"sea", "water"}, {"t_shirt", "garment"},
	} {
		fmt.Fprintf(&csv, "/a/[/r/IsA/,/c/en/%s/,/c/en/%s/]\t/r/IsA\t/c/en/%s/n\t/c/en/%s\t{\"dataset\": \"/d/test\", \"weight\": 1.0}\n",
			e[0], e[1], e[0], e[1])
	}
	src := filepath.Join(t.TempDir(), "mini.csv")
	if err := os.WriteFile(src, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	caps := []string{
		"train|1|a man holds a cup of tea",
		"train|2|a bird of prey over the sea",
		"train|3|two hot dogs and a man of war",
		"train|4|a cup and some tea",
		"train|5|a cup of",
		"train|6|a man in t-shirts",
	}
	tok := pipelinetest.RunStage(t, tokensSpec(caps), nil)
	graph := pipelinetest.RunStage(t, &ConceptNetSpec, map[string]any{"source": src})
	_, concepts, cc := linkedTables(t, tok, graph)
	want := [][]string{
		{"man", "cup_of_tea"},
		{"bird_of_prey", "sea"},
		{"hot_dog", "man_of_war"},
		{"cup", "tea"},
		{"cup"},
		{"man", "t_shirt"}, // ConceptNet writes t-shirt as t_shirt
	}
	if len(cc) != len(want) {
		t.Fatalf("%d caption_concepts rows, want %d", len(cc), len(want))
	}
	for i, r := range cc {
		var got []string
		for _, id := range r.ConceptIDs {
			got = append(got, strings.ReplaceAll(concepts[id].Label, " ", "_"))
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("%q: concepts %v, want %v", caps[i], got, want[i])
		}
	}
}

// TestConceptNetReproducible: two runs of the default kg.conceptnet stage
// (embedded edges, bulk loader) in fresh workdirs write byte-identical
// files, the bolt store included (no wall-clock timestamps in Cayley's log
// bucket, and a page layout that does not depend on Go's map order).
func TestConceptNetReproducible(t *testing.T) {
	a := pipelinetest.RunStage(t, &ConceptNetSpec, nil)
	b := pipelinetest.RunStage(t, &ConceptNetSpec, nil)
	if len(a.Manifest.Files) == 0 || len(a.Manifest.Files) != len(b.Manifest.Files) {
		t.Fatalf("files: %d vs %d", len(a.Manifest.Files), len(b.Manifest.Files))
	}
	for i, f := range a.Manifest.Files {
		if g := b.Manifest.Files[i]; g.Path != f.Path || g.SHA256 != f.SHA256 {
			t.Errorf("%s (sha256 %.12s) vs %s (sha256 %.12s)", f.Path, f.SHA256, g.Path, g.SHA256)
		}
	}
}

// cancelOn is a slog handler that cancels a context when a record with a
// given message is logged.
type cancelOn struct {
	slog.Handler
	msg    string
	cancel context.CancelFunc
}

func (h cancelOn) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.cancel()
	}
	return h.Handler.Handle(ctx, r)
}

func (h cancelOn) WithAttrs(as []slog.Attr) slog.Handler {
	return cancelOn{h.Handler.WithAttrs(as), h.msg, h.cancel}
}

func (h cancelOn) WithGroup(g string) slog.Handler {
	return cancelOn{h.Handler.WithGroup(g), h.msg, h.cancel}
}

// TestConceptNetCancelBeforeStore: a run cancelled once its sources are
// read stops with the context's error before it writes the store and the
// kg_nodes table (the bulk loader writes the whole store at its end; at
// ConceptNet's size that took tens of seconds after Ctrl-C).
func TestConceptNetCancelBeforeStore(t *testing.T) {
	for _, l := range kg.Loaders {
		ctx, cancel := context.WithCancel(t.Context())
		log := slog.New(cancelOn{slog.NewTextHandler(io.Discard, nil), "read knowledge source", cancel})
		dir := filepath.Join(t.TempDir(), l)
		_, err := pipeline.RunStandalone(ctx, &ConceptNetSpec, "kg", map[string]any{"loader": l}, nil, dir, log)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", l, err)
		}
		if _, serr := os.Stat(filepath.Join(dir, "nodes.parquet")); serr == nil {
			t.Errorf("%s: nodes.parquet written after the run was cancelled", l)
		}
	}
}

// TestLinkHyphenatedConcepts: multi-word concepts that ConceptNet writes
// with the pieces of a hyphenated caption word as words of their own
// (x_ray_machine for "x-ray machines", chocolate_ice_cream for "chocolate
// ice-creams", four words from three: chocolate_ice_cream_cone) are loaded
// from the graph and linked by the stage, not only by kg.Linker; and
// symbols without a letter ("—", "“") are not content words.
func TestLinkHyphenatedConcepts(t *testing.T) {
	t.Parallel()
	caps := []string{
		"train|1|two x-ray machines",
		"train|2|a man with chocolate ice-creams",
		"train|3|chocolate ice-cream cones",
		"train|4|a man — in a “ t-shirt",
		"train|5|ice and cream", // ice and cream are vocabulary words too
	}
	want := [][]string{
		{"x_ray_machine"},
		{"man", "chocolate_ice_cream"},
		{"chocolate_ice_cream_cone"},
		{"man", "t_shirt"},
		nil,
	}
	tok := pipelinetest.RunStage(t, tokensSpec(caps), nil)
	graph := pipelinetest.RunStage(t, &ConceptNetSpec, map[string]any{"source": "testdata/hyphenated-concepts.csv"})
	a, concepts, cc := linkedTables(t, tok, graph)
	checkLinked(t, caps, want, concepts, cc)
	// content words: two x-ray machines | man chocolate ice-creams |
	// chocolate ice-cream cones | man t-shirt (not "—", "“") | ice cream
	if got, want := fmt.Sprint(a.Manifest.Info["content_tokens"]), "13"; got != want {
		t.Errorf("info.content_tokens = %s, want %s", got, want)
	}
}

// checkLinked checks the concepts linked from each caption of caps (the
// caption_concepts rows cc, in order) against want.
func checkLinked(t *testing.T, caps []string, want [][]string, concepts []table.ConceptRow, cc []table.CaptionConceptRow) {
	t.Helper()
	if len(cc) != len(want) {
		t.Fatalf("%d caption_concepts rows, want %d", len(cc), len(want))
	}
	for i, r := range cc {
		var got []string
		for _, id := range r.ConceptIDs {
			got = append(got, strings.TrimPrefix(concepts[id].URI, kg.ConceptPrefix))
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("%q: concepts %v, want %v", caps[i], got, want[i])
		}
	}
}

// TestAdjacencyEdgeCases: A_hat stays finite and exactly symmetric, with
// 1 on the diagonal of a concept without edges, whatever concept_edges
// holds: self loops and ids outside [0, m) are ignored, a pair given in
// both directions and by several relations counts once (the largest
// weight), and weights that are not finite and positive (a NaN, an Inf, a
// negative weight, as a label written into the store by hand would give)
// are ignored instead of turning the matrix or the normalising maximum
// into NaN.
func TestAdjacencyEdgeCases(t *testing.T) {
	t.Parallel()
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	// want: the A (before + I and normalisation) each case must give
	for _, c := range []struct {
		name  string
		m     int
		edges []table.ConceptEdgeRow
		want  []float64 // A, m*m
	}{
		{"no edges", 2, nil, []float64{0, 0, 0, 0}},
		{"self loop and out of range ids", 2, []table.ConceptEdgeRow{
			{Src: 1, Dst: 1, Rel: "/r/IsA", Weight: 2}, {Src: 0, Dst: 2, Rel: "/r/IsA", Weight: 2}, {Src: -1, Dst: 0, Rel: "/r/IsA", Weight: 2},
			{Src: 0, Dst: 1, Rel: "/r/IsA", Weight: 1}}, []float64{0, 1, 1, 0}},
		{"duplicate pairs", 3, []table.ConceptEdgeRow{
			{Src: 0, Dst: 1, Rel: "/r/IsA", Weight: 1}, {Src: 1, Dst: 0, Rel: "/r/IsA", Weight: 2}, {Src: 0, Dst: 1, Rel: "/r/Synonym", Weight: 1},
			{Src: 1, Dst: 2, Rel: "/r/IsA", Weight: 4}, {Src: 1, Dst: 2, Rel: RelCoOccurs, Weight: 0.5}, {Src: 2, Dst: 1, Rel: RelCoOccurs, Weight: 0.25}},
			[]float64{0, 0.5, 0, 0.5, 0, 1.5, 0, 1.5, 0}},
		{"NaN, Inf and negative weights", 3, []table.ConceptEdgeRow{
			{Src: 0, Dst: 1, Rel: "/r/IsA", Weight: 2}, {Src: 1, Dst: 2, Rel: "/r/IsA", Weight: nan}, {Src: 0, Dst: 2, Rel: "/r/IsA", Weight: inf},
			{Src: 2, Dst: 0, Rel: "/r/Antonym", Weight: -3}, {Src: 0, Dst: 2, Rel: RelCoOccurs, Weight: nan}, {Src: 1, Dst: 2, Rel: RelCoOccurs, Weight: -1}},
			[]float64{0, 1, 0, 1, 0, 0, 0, 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Adjacency(c.m, c.edges)
			m := c.m
			deg := make([]float64, m)
			for i := range m {
				for j := range m {
					deg[i] += c.want[i*m+j]
				}
				deg[i]++
			}
			for i := range m {
				for j := range m {
					a := c.want[i*m+j]
					if i == j {
						a = 1
					}
					want := a / math.Sqrt(deg[i]*deg[j])
					g := got[i*m+j]
					if math.IsNaN(float64(g)) || math.Abs(float64(g)-want) > 1e-6 {
						t.Errorf("A_hat[%d][%d] = %v, want %v (A_hat %v)", i, j, g, want, got)
					}
					if g != got[j*m+i] {
						t.Errorf("A_hat[%d][%d] = %v != A_hat[%d][%d] = %v", i, j, g, j, i, got[j*m+i])
					}
				}
			}
		})
	}
}

// linkedTables runs kg.link on tok and graph and returns its artifact, and
// its concepts and caption_concepts tables.
func linkedTables(t *testing.T, tok, graph *pipeline.Artifact) (*pipeline.Artifact, []table.ConceptRow, []table.CaptionConceptRow) {
	t.Helper()
	a := pipelinetest.RunStage(t, &LinkSpec, nil, tok, graph)
	files, _ := a.Table(table.Concepts)
	concepts, err := table.ReadAll[table.ConceptRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	files, _ = a.Table(table.CaptionConcepts)
	cc, err := table.ReadAll[table.CaptionConceptRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	return a, concepts, cc
}
