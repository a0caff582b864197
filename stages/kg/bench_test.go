package kg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coderflow/internal/testenv"
	"coderflow/kg"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/stages/tokenize"
)

// BenchmarkTokenizeLink runs the tokenize and kg.link stages on the 35,455
// Flickr8k captions against a WordNet-built graph (built once, outside the
// timing) and reports captions/s for tokenize+link and for link alone.
func BenchmarkTokenizeLink(b *testing.B) {
	data := filepath.Join(sharedData(b), "flickr8k-captions")
	if _, err := os.Stat(filepath.Join(wordnetDir, "data.noun")); err != nil {
		b.Skip("WordNet (Debian wordnet-base) not installed")
	}
	caps := pipelinetest.RunStage(b, flickr8kCaptionsSpec(data), nil)
	graph := pipelinetest.RunStage(b, &ConceptNetSpec, map[string]any{"source": wordnetDir})
	n := float64(caps.TableRows("captions"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), testenv.CPUTime()
		tok := runQuiet(b, &tokenize.Spec, nil, caps)
		t1, c1 := time.Now(), testenv.CPUTime()
		runQuiet(b, &LinkSpec, nil, tok, graph)
		t2, c2 := time.Now(), testenv.CPUTime()
		b.ReportMetric(n/t2.Sub(t0).Seconds(), "tokenize+link_captions/s")
		b.ReportMetric(n/t2.Sub(t1).Seconds(), "link_captions/s")
		b.ReportMetric(n/t1.Sub(t0).Seconds(), "tokenize_captions/s")
		b.ReportMetric(n/(c2-c0).Seconds(), "tokenize+link_captions/cpu-s")
		b.ReportMetric(n/(c2-c1).Seconds(), "link_captions/cpu-s")
	}
}

// runQuiet runs a stage without test logging.
func runQuiet(b *testing.B, spec *pipeline.Spec, raw map[string]any, in ...*pipeline.Artifact) *pipeline.Artifact {
	b.Helper()
	a, err := pipeline.RunStandalone(b.Context(), spec, spec.Kind, raw, in, filepath.Join(b.TempDir(), "a"), nil)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkTokenizeLinkKernel measures the in-memory work of tokenize+link
// on the 35,455 Flickr8k captions, without the stages' Parquet I/O: SCAN's
// tokenizer (tokenize.Tokenizer) and the n-gram linker against the WordNet
// concepts. It reports captions/s.
func BenchmarkTokenizeLinkKernel(b *testing.B) {
	data := filepath.Join(sharedData(b), "flickr8k-captions")
	if _, err := os.Stat(filepath.Join(wordnetDir, "data.noun")); err != nil {
		b.Skip("WordNet (Debian wordnet-base) not installed")
	}
	raw, err := os.ReadFile(filepath.Join(data, "Flickr8k.token.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var captions []string
	for _, l := range strings.Split(string(raw), "\n") {
		if _, text, ok := strings.Cut(l, "\t"); ok {
			captions = append(captions, text)
		}
	}
	concepts := map[string]bool{}
	if _, err := kg.ReadWordNet(b.Context(), wordnetDir, kg.ReadOptions{}, func(es []kg.Edge) error {
		for _, e := range es {
			concepts[e.Start], concepts[e.End] = true, true
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var multi []string
	for c := range concepts {
		if strings.Count(c, "_") > 0 && strings.Count(c, "_") < kg.MaxNGram {
			multi = append(multi, c)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), testenv.CPUTime()
		l := kg.NewLinker(func(s string) bool { return concepts[s] }, kg.EmbeddedExceptions())
		l.SetStarts(multi)
		tk := tokenize.NewTokenizer()
		var words []string
		linked := 0
		for _, c := range captions {
			words = tk.AppendTokens(words[:0], c)
			l.Link(words, func(string, int, int) { linked++ })
		}
		b.ReportMetric(float64(len(captions))/time.Since(t0).Seconds(), "captions/s")
		b.ReportMetric(float64(len(captions))/(testenv.CPUTime()-c0).Seconds(), "captions/cpu-s")
		b.ReportMetric(float64(linked)/float64(len(captions)), "concepts/caption")
	}
}
