package kg

import (
	"os"
	"path/filepath"
	"testing"
	"time"

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
		t0 := time.Now()
		tok := runQuiet(b, &tokenize.Spec, nil, caps)
		t1 := time.Now()
		runQuiet(b, &LinkSpec, nil, tok, graph)
		t2 := time.Now()
		b.ReportMetric(n/t2.Sub(t0).Seconds(), "tokenize+link_captions/s")
		b.ReportMetric(n/t2.Sub(t1).Seconds(), "link_captions/s")
		b.ReportMetric(n/t1.Sub(t0).Seconds(), "tokenize_captions/s")
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
