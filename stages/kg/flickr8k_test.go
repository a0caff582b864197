package kg

import (
	"bufio"
	"coderflow/internal/testenv"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/stages/tokenize"
)

const wordnetDir = "/usr/share/wordnet" // Debian wordnet-base

func sharedData(t testing.TB) string { return testenv.SharedData(t) }

// flickr8kCaptionsSpec is a test-only stage writing the captions table of
// shared/data/flickr8k-captions (split from the train/dev image lists; the
// rest is test).
func flickr8kCaptionsSpec(dir string) *pipeline.Spec {
	return &pipeline.Spec{
		Kind: "test.flickr8k_captions", Version: "1", Produces: []string{table.Captions},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			split := map[string]string{}
			for s, f := range map[string]string{table.SplitTrain: "Flickr_8k.trainImages.txt", table.SplitDev: "Flickr_8k.devImages.txt"} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					return err
				}
				for _, l := range strings.Fields(string(b)) {
					split[l] = s
				}
			}
			f, err := os.Open(filepath.Join(dir, "Flickr8k.token.txt"))
			if err != nil {
				return err
			}
			defer f.Close()
			ids := map[string]int64{}
			var rows []table.CaptionRow
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				key, text, ok := strings.Cut(sc.Text(), "\t")
				name, k, ok2 := strings.Cut(key, "#")
				if !ok || !ok2 {
					continue
				}
				id, seen := ids[name]
				if !seen {
					id = int64(len(ids))
					ids[name] = id
				}
				s := split[name]
				if s == "" {
					s = table.SplitTest
				}
				rows = append(rows, table.CaptionRow{CaptionID: int64(len(rows)), ImageID: id, Split: s, Ordinal: int32(k[0] - '0'), Text: text})
			}
			if err := table.WriteFile(env.Path("captions.parquet"), env, table.Captions, table.Options{}, rows); err != nil {
				return err
			}
			env.AddTable(table.Captions, int64(len(rows)), "captions.parquet")
			return nil
		}),
	}
}

// TestFlickr8kLinking links the 35,455 real Flickr8k captions to a graph
// built from WordNet 3.0 and checks that the top concepts are Flickr8k's
// content.
func TestFlickr8kLinking(t *testing.T) {
	if testing.Short() {
		t.Skip("real-data test")
	}
	data := filepath.Join(sharedData(t), "flickr8k-captions")
	if _, err := os.Stat(filepath.Join(wordnetDir, "data.noun")); err != nil {
		t.Skip("WordNet (Debian wordnet-base) not installed: real-data test skipped")
	}
	caps := pipelinetest.RunStage(t, flickr8kCaptionsSpec(data), nil)
	if n := caps.TableRows(table.Captions); n != 35455 {
		t.Fatalf("%d captions, want 35455", n)
	}
	graph := pipelinetest.RunStage(t, &ConceptNetSpec, map[string]any{"source": wordnetDir})
	start := time.Now()
	tok := pipelinetest.RunStage(t, &tokenize.Spec, nil, caps)
	tTok := time.Since(start)
	a := pipelinetest.RunStage(t, &LinkSpec, nil, tok, graph)
	tAll := time.Since(start)

	cov := a.Manifest.Metrics["coverage"]
	t.Logf("graph: %s", graph.Manifest.Summary)
	t.Logf("link: %s", a.Manifest.Summary)
	t.Logf("coverage (linked share of content words): %.2f%%; tokenize %.2fs, tokenize+link %.2fs = %.0f captions/s",
		100*cov, tTok.Seconds(), tAll.Seconds(), 35455/tAll.Seconds())
	if cov < 0.8 {
		t.Errorf("coverage %.3f, want at least 0.8", cov)
	}
	files, _ := a.Table(table.Concepts)
	concepts, err := table.ReadAll[table.ConceptRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	if len(concepts) != DefaultConcepts {
		t.Fatalf("%d concepts", len(concepts))
	}
	var top []string
	for _, c := range concepts[:40] {
		top = append(top, c.Label)
	}
	for _, want := range []string{"dog", "man", "boy", "water", "grass", "girl", "woman", "ball"} {
		if !slices.Contains(top, want) {
			t.Errorf("%q not among the 40 most frequent concepts %v", want, top)
		}
	}
	for _, c := range concepts {
		if stop := []string{"a", "the", "in", "on", "is", "of"}; slices.Contains(stop, c.Label) {
			t.Errorf("stop word %q became a concept", c.Label)
		}
	}
	t.Logf("top concepts: %v", top)
}
