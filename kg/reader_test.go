package kg

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readAll(t *testing.T, data []byte, opt ReadOptions) ([]Edge, ReadStats, error) {
	t.Helper()
	var edges []Edge
	st, err := ReadConceptNet(t.Context(), bytes.NewReader(data), "in.csv", opt, func(b []Edge) error {
		edges = append(edges, b...)
		return nil
	})
	return edges, st, err
}

func TestNormalizeConcept(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"/c/en/hot_dog/n/wn/food", "hot_dog", true},
		{"/c/en/dog", "dog", true},
		{"/c/en/dog/", "dog", true},
		{"/c/fr/chien", "", false},
		{"/c/en/", "", false},
		{"http://dbpedia.org/resource/Dog", "", false},
	} {
		got, ok := NormalizeConcept(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("NormalizeConcept(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestLabelRoundTrip(t *testing.T) {
	for _, w := range []float32{1, 2, 0.5, 3.462, 0.109} {
		ds, got := DecodeLabel(EncodeLabel("/d/verbosity", w))
		if ds != "/d/verbosity" || got != w {
			t.Errorf("label round trip of %v: %q %v", w, ds, got)
		}
	}
}

func TestReadConceptNetSample(t *testing.T) {
	data, err := os.ReadFile("testdata/conceptnet-sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	edges, st, err := readAll(t, data, ReadOptions{Batch: 10})
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 764 || st.Bad != 0 || st.Edges != int64(len(edges)) || st.Edges+st.Skipped != st.Lines {
		t.Fatalf("stats %+v, %d edges", st, len(edges))
	}
	want := Edge{Rel: "/r/Antonym", Start: "test", End: "breeze", Weight: 1, Dataset: "/d/wiktionary/en"}
	if edges[0] != want {
		t.Errorf("first edge %+v, want %+v", edges[0], want)
	}
	for _, e := range edges {
		if strings.Contains(e.Start, "/") || strings.Contains(e.End, "/") || e.Start == "" || e.End == "" {
			t.Errorf("not normalised: %+v", e)
		}
	}
	// Relation filter.
	isa, _, _ := readAll(t, data, ReadOptions{Relations: []string{"/r/IsA"}})
	for _, e := range isa {
		if e.Rel != "/r/IsA" {
			t.Fatalf("filter kept %+v", e)
		}
	}
	if len(isa) == 0 || len(isa) >= len(edges) {
		t.Errorf("IsA filter kept %d of %d", len(isa), len(edges))
	}
}

func TestReadConceptNetBadInputs(t *testing.T) {
	sample, err := os.ReadFile("testdata/conceptnet-sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(sample), "\n")
	good := lines[2] // an English edge
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(sample)
	zw.Close()

	t.Run("malformed lines are counted with line numbers", func(t *testing.T) {
		in := good + "just one field\n" + good + "/a/x\t/r/IsA\t/c/en/a\t/c/en/b\tnot json\n" +
			"/a/x\tIsA\t/c/en/a\t/c/en/b\t{\"weight\": 1}\n" + "/a/x\t/r/IsA\t/c/en/a\t/c/en/b\t{\"dataset\": \"/d/x\"}\n" + good
		edges, st, err := readAll(t, []byte(in), ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(edges) != 3 || st.Bad != 4 || st.Lines != 7 {
			t.Fatalf("edges %d, stats %+v", len(edges), st)
		}
		wantLines := []int64{2, 4, 5, 6}
		for i, s := range st.Samples {
			if s.Line != wantLines[i] || s.File != "in.csv" || s.Reason == "" {
				t.Errorf("bad sample %d: %+v, want line %d", i, s, wantLines[i])
			}
		}
	})
	t.Run("invalid UTF-8 is a counted bad line", func(t *testing.T) {
		// Concepts end up in Parquet string columns (kg_nodes, concepts),
		// which must be UTF-8.
		in := good + "/a/x\t/r/IsA\t/c/en/caf\xe9\t/c/en/b\t{\"weight\": 1}\n" +
			"/a/x\t/r/Is\xffA\t/c/en/a\t/c/en/b\t{\"weight\": 1}\n" + good
		edges, st, err := readAll(t, []byte(in), ReadOptions{})
		if err != nil || len(edges) != 2 || st.Bad != 2 || len(st.Samples) != 2 ||
			st.Samples[0].Line != 2 || !strings.Contains(st.Samples[0].Reason, "UTF-8") {
			t.Fatalf("edges %+v, stats %+v, err %v", edges, st, err)
		}
	})
	t.Run("a line over MaxLineBytes is a counted bad line", func(t *testing.T) {
		huge := "/a/x\t/r/IsA\t/c/en/a\t/c/en/b\t{\"surfaceText\": \"" + strings.Repeat("x", MaxLineBytes) + "\", \"weight\": 1}\n"
		for _, tail := range []string{good, strings.TrimSuffix(huge, "\n")} {
			edges, st, err := readAll(t, []byte(good+huge+tail), ReadOptions{})
			wantEdges := 2
			if tail != good {
				wantEdges = 1
			}
			if err != nil || len(edges) != wantEdges || st.Lines != 3 || st.Bad != int64(3-wantEdges) || st.Samples[0].Line != 2 ||
				!strings.Contains(st.Samples[0].Reason, "longer than") {
				t.Fatalf("edges %d, stats %+v, err %v", len(edges), st, err)
			}
		}
	})
	t.Run("non-English only", func(t *testing.T) {
		var in strings.Builder
		for _, l := range lines {
			f := strings.Split(l, "\t")
			if len(f) == 5 && !(strings.HasPrefix(f[2], "/c/en/") && strings.HasPrefix(f[3], "/c/en/")) {
				in.WriteString(l)
			}
		}
		edges, st, err := readAll(t, []byte(in.String()), ReadOptions{})
		if err != nil || len(edges) != 0 || st.Skipped == 0 || st.Skipped != st.Lines || st.Bad != 0 {
			t.Fatalf("edges %d, stats %+v, err %v", len(edges), st, err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		edges, st, err := readAll(t, nil, ReadOptions{})
		if err != nil || len(edges) != 0 || st.Lines != 0 {
			t.Fatalf("edges %d, stats %+v, err %v", len(edges), st, err)
		}
	})
	t.Run("gzip", func(t *testing.T) {
		edges, _, err := readAll(t, gz.Bytes(), ReadOptions{})
		if err != nil || len(edges) == 0 {
			t.Fatalf("gzip: %d edges, %v", len(edges), err)
		}
	})
	t.Run("gzip cut in half", func(t *testing.T) {
		_, _, err := readAll(t, gz.Bytes()[:gz.Len()/2], ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), "in.csv") || !strings.Contains(err.Error(), "unexpected EOF") {
			t.Fatalf("want an unexpected-EOF error naming the file, got %v", err)
		}
	})
	t.Run("CRLF and a very long line", func(t *testing.T) {
		long := "/a/x\t/r/IsA\t/c/en/a\t/c/en/b\t{\"surfaceText\": \"" + strings.Repeat("x", 3<<20) + "\", \"weight\": 1.5}\r\n"
		edges, st, err := readAll(t, []byte(strings.ReplaceAll(good, "\n", "\r\n")+long), ReadOptions{})
		if err != nil || len(edges) != 2 || edges[1].Weight != 1.5 || st.Bad != 0 {
			t.Fatalf("edges %+v, stats %+v, err %v", edges, st, err)
		}
	})
}

func TestReadWordNet(t *testing.T) {
	var edges []Edge
	st, err := ReadWordNet(t.Context(), "testdata/wordnet-mini", ReadOptions{}, func(b []Edge) error {
		edges = append(edges, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Bad != 0 || st.Lines != 6 {
		t.Fatalf("stats %+v", st)
	}
	has := map[Edge]bool{}
	for _, e := range edges {
		if e.Dataset != WordNetDataset || e.Weight != WordNetWeight {
			t.Fatalf("edge %+v", e)
		}
		e.Dataset, e.Weight = "", 0
		has[e] = true
	}
	for _, want := range []Edge{
		{Rel: "/r/Synonym", Start: "dog", End: "domestic_dog"},
		{Rel: "/r/Synonym", Start: "dog", End: "canis_familiaris"},
		{Rel: "/r/IsA", Start: "dog", End: "canine"},
		{Rel: "/r/IsA", Start: "dog", End: "domestic_animal"},
		{Rel: "/r/IsA", Start: "hunting_dog", End: "dog"},
		{Rel: "/r/Antonym", Start: "large", End: "small"},
		{Rel: "/r/Antonym", Start: "big", End: "little"},
		{Rel: "/r/Synonym", Start: "large", End: "big"},
	} {
		if !has[want] {
			t.Errorf("missing %+v", want)
		}
	}
	if has[Edge{Rel: "/r/Antonym", Start: "large", End: "little"}] {
		t.Error("antonyms are word-to-word (lexical pointers), not synset-to-synset")
	}
}

// wordnetMiniWithNoun copies testdata/wordnet-mini's data files into a
// temporary directory, data.noun edited by noun, and returns the directory.
func wordnetMiniWithNoun(t *testing.T, noun func([]byte) []byte) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"data.noun", "data.verb", "data.adj", "data.adv"} {
		b, err := os.ReadFile(filepath.Join("testdata/wordnet-mini", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "data.noun" {
			b = noun(b)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadWordNetBrokenLine(t *testing.T) {
	dir := wordnetMiniWithNoun(t, func(b []byte) []byte {
		ls := strings.SplitAfter(string(b), "\n")
		ls[1] = ls[1][:60] + "\n" // cut inside the pointer list
		return []byte("  1 This is a licence header line\n" + strings.Join(ls, "") + "02084071 05 n zz dog 0 000 | bad word count\n")
	})
	var n int
	st, err := ReadWordNet(t.Context(), dir, ReadOptions{}, func(b []Edge) error { n += len(b); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Bad != 2 || n == 0 {
		t.Fatalf("stats %+v, %d edges", st, n)
	}
	if s := st.Samples[0]; s.Line != 3 || !strings.HasSuffix(s.File, "data.noun") {
		t.Errorf("first bad line %+v, want data.noun line 3", s)
	}
	if _, err := ReadWordNet(t.Context(), t.TempDir(), ReadOptions{}, func([]Edge) error { return nil }); err == nil {
		t.Error("a directory without data files must fail")
	}
}

func FuzzReadConceptNet(f *testing.F) {
	f.Add([]byte("/a/x\t/r/IsA\t/c/en/dog/n\t/c/en/animal\t{\"dataset\": \"/d/x\", \"weight\": 2.0}\n"))
	f.Add([]byte("/a/x\t/r/IsA\t/c/fr/chien\t/c/en/animal\t{\"weight\": 1}\r\n\n\t\t\t\t\n"))
	f.Add([]byte("/a/x\t/r/\t/c/en/\t/c/en/a/\t{\"weight\": -}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var n int64
		st, err := ReadConceptNet(t.Context(), bytes.NewReader(data), "fuzz", ReadOptions{Batch: 3}, func(b []Edge) error {
			for _, e := range b {
				if e.Start == "" || e.End == "" || e.Start == e.End || !strings.HasPrefix(e.Rel, "/r/") {
					t.Fatalf("bad edge %+v", e)
				}
			}
			n += int64(len(b))
			return nil
		})
		if err != nil {
			return // only read errors (gzip) are returned
		}
		if st.Edges != n || st.Edges+st.Skipped+st.Bad != st.Lines {
			t.Fatalf("stats %+v, %d edges delivered", st, n)
		}
	})
}

func TestPipe(t *testing.T) {
	var got []Edge
	add, wait := Pipe(t.Context(), func(b []Edge) error { got = append(got, b...); return nil })
	buf := []Edge{{Start: "a"}}
	for _, s := range []string{"a", "b", "c"} {
		buf[0].Start = s // the reader reuses its batch
		if err := add(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := wait(); err != nil || len(got) != 3 || got[0].Start != "a" || got[2].Start != "c" {
		t.Fatalf("got %v, %v", got, err)
	}
	boom := errors.New("boom")
	add, wait = Pipe(t.Context(), func([]Edge) error { return boom })
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = add(buf)
	}
	if werr := wait(); !errors.Is(werr, boom) || (err != nil && !errors.Is(err, boom)) {
		t.Fatalf("add %v, wait %v", err, werr)
	}
}

// TestReadWordNetOrder: ReadWordNet emits its edges in the same order on
// every read (synsets in file order). It used to range over a map, so the
// order changed from run to run, and with it the batches a loader saw
// (with loader quadwriter, before it dropped repeats itself, the duplicate
// quads Cayley's writer kept, under one cache key).
func TestReadWordNetOrder(t *testing.T) {
	read := func() []Edge {
		var edges []Edge
		if _, err := ReadWordNet(t.Context(), "testdata/wordnet-mini", ReadOptions{Batch: 3}, func(b []Edge) error {
			edges = append(edges, b...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return edges
	}
	first := read()
	for i := range 30 {
		if got := read(); !slices.Equal(got, first) {
			t.Fatalf("read %d: edges in another order:\n%v\nfirst read:\n%v", i+2, got, first)
		}
	}
	// File order: the first synset of data.noun (domestic_animal) comes first.
	if first[0] != (Edge{Rel: "/r/Synonym", Start: "domestic_animal", End: "domesticated_animal", Weight: WordNetWeight, Dataset: WordNetDataset}) {
		t.Errorf("first edge %+v, want domestic_animal's synonym pair", first[0])
	}
}

// TestReadConceptNetWeightRange: a weight that is not a finite float32
// (1e39 overflows to +Inf) is a malformed line with its line number: an
// infinite weight made the kg.link adjacency NaN (weight / max weight).
func TestReadConceptNetWeightRange(t *testing.T) {
	line := func(w string) string {
		return "/a/x\t/r/IsA\t/c/en/dog\t/c/en/animal\t{\"dataset\": \"/d/x\", \"weight\": " + w + "}\n"
	}
	edges, st, err := readAll(t, []byte(line("1.5")+line("1e39")+line("-1e39")+line("3.4e38")), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 2 || edges[0].Weight != 1.5 || edges[1].Weight != 3.4e38 {
		t.Errorf("edges %+v, want the weights 1.5 and 3.4e38", edges)
	}
	if st.Bad != 2 || len(st.Samples) != 2 || st.Samples[0].Line != 2 || st.Samples[1].Line != 3 ||
		!strings.Contains(st.Samples[0].Reason, "weight") {
		t.Errorf("stats %+v, want lines 2 and 3 malformed (weight)", st)
	}
}

// TestReadHugeBatch: a huge batch size (the kg.conceptnet param batch has
// no upper bound) is not allocated up front: the readers used to make a
// slice of that capacity, which panicked ("cap out of range") or ran out of
// memory before reading a line.
func TestReadHugeBatch(t *testing.T) {
	opt := ReadOptions{Batch: 1 << 40}
	line := "/a/x\t/r/IsA\t/c/en/dog\t/c/en/animal\t{\"dataset\": \"/d/x\", \"weight\": 1}\n"
	edges, _, err := readAll(t, []byte(line+strings.ReplaceAll(line, "animal", "pet")), opt)
	if err != nil || len(edges) != 2 {
		t.Errorf("ReadConceptNet: %d edges, %v", len(edges), err)
	}
	calls, n := 0, 0
	if _, err := ReadWordNet(t.Context(), "testdata/wordnet-mini", opt, func(b []Edge) error { calls++; n += len(b); return nil }); err != nil || calls != 1 || n == 0 {
		t.Errorf("ReadWordNet: %d calls, %d edges, %v", calls, n, err)
	}
}

// TestReadConceptNetDamagedJSON: a kept line's JSON column is parsed as
// JSON. The reader used to pick the weight and dataset out by their bytes,
// so damage passed as data: "weight": 0x10 was weight 0, 12abc was 12, a
// missing comma or a trailing one passed, a dataset with an escaped quote
// was cut before it, one that is a number became "", a nested object's
// "weight" (a source's) counted as the edge's, and concepts with a
// space or a NUL byte (which no lookup or caption link can reach) were
// stored.
func TestReadConceptNetDamagedJSON(t *testing.T) {
	line := func(end, js string) string { return "/a/x\t/r/IsA\t/c/en/dog\t/c/en/" + end + "\t" + js + "\n" }
	for _, c := range []struct {
		in, reason string // reason "": kept
		weight     float32
		dataset    string
	}{
		{line("animal", `{"dataset": "/d/x", "weight": 0x10}`), "not valid JSON", 0, ""},
		{line("animal", `{"dataset": "/d/x", "weight": 12abc}`), "not valid JSON", 0, ""},
		{line("animal", `{"dataset": "/d/x", "weight": 1_000}`), "not valid JSON", 0, ""},
		{line("animal", `{"dataset": "/d/x", "weight": 1.0 "license": "x"}`), "not valid JSON", 0, ""},
		{line("animal", `{"weight": 1, "dataset": "/d/x", }`), "not valid JSON", 0, ""},
		{line("animal", `{"dataset": 5, "weight": 1}`), `"dataset"`, 0, ""},
		{line("a b", `{"dataset": "/d/x", "weight": 1}`), "space or control", 0, ""},
		{line("a\x00b", `{"dataset": "/d/x", "weight": 1}`), "space or control", 0, ""},
		{line("animal", `{"dataset": "/d/a\"b\\c\u00e9", "weight": 1.5}`), "", 1.5, "/d/a\"b\\cé"},
		{line("animal", `{"dataset":"/d/x","weight":2}`), "", 2, "/d/x"},
		{line("animal", `{"weight": 3}`), "", 3, ""},
		// the object's own keys, not a nested object's; spaces around ':'
		{line("animal", `{"sources": [{"weight": 5, "dataset": "/d/s"}], "dataset" : "/d/x", "weight" :1}`), "", 1, "/d/x"},
		{line("animal", `{"surfaceText": "\"weight\": 7", "weight": 0.5}`), "", 0.5, ""},
		{line("animal", `{"sources": {"weight": 5}}`), `"weight"`, 0, ""},
	} {
		edges, st, err := readAll(t, []byte(c.in), ReadOptions{})
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if c.reason != "" {
			if len(edges) != 0 || st.Bad != 1 || len(st.Samples) != 1 || !strings.Contains(st.Samples[0].Reason, c.reason) {
				t.Errorf("%q: edges %+v, stats %+v; want one malformed line (%s)", c.in, edges, st, c.reason)
			}
			continue
		}
		if len(edges) != 1 || st.Bad != 0 || edges[0].Weight != c.weight || edges[0].Dataset != c.dataset {
			t.Errorf("%q: edges %+v, stats %+v; want weight %g, dataset %q", c.in, edges, st, c.weight, c.dataset)
		}
	}
}

// xReader yields n bytes of 'x' (no newline), counting what was read.
type xReader struct{ n, read int64 }

func (r *xReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	r.read += k
	return int(k), nil
}

// TestReadConceptNetCancelInLongLine: cancelling stops the reader inside a
// line without newlines too (a non-CSV file). It checked ctx only every
// 65,536 lines, so it read such a file to its end (here 512 MiB; a
// never-ending stream, never) before noticing.
func TestReadConceptNetCancelInLongLine(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := &xReader{n: 512 << 20}
	_, err := ReadConceptNet(ctx, r, "in.csv", ReadOptions{}, func([]Edge) error { return nil })
	if !errors.Is(err, context.Canceled) || r.read > 64<<20 {
		t.Errorf("err = %v after %d bytes read, want context.Canceled within 64 MiB", err, r.read)
	}
}
