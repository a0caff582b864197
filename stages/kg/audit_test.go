package kg

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline/pipelinetest"
)

// writeIsACSV writes a ConceptNet CSV with one /r/IsA edge (weight 1) per
// pair and returns its path.
func writeIsACSV(t *testing.T, pairs [][2]string) string {
	t.Helper()
	var csv strings.Builder
	for _, e := range pairs {
		fmt.Fprintf(&csv, "/a/[/r/IsA/,/c/en/%s/,/c/en/%s/]\t/r/IsA\t/c/en/%s/n\t/c/en/%s\t{\"dataset\": \"/d/test\", \"weight\": 1.0}\n",
			e[0], e[1], e[0], e[1])
	}
	src := filepath.Join(t.TempDir(), "mini.csv")
	if err := os.WriteFile(src, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestLinkMultiWordConceptOfHyphenatedVocabWord: a multi-word concept
// (ice_cream) that is also the ConceptNet spelling of a hyphenated
// vocabulary word (ice-cream) still links from its words written apart
// ("ice cream"), with the last word lemmatised ("ice creams"), when no
// other multi-word concept starts with "ice" or ends with "cream".
func TestLinkMultiWordConceptOfHyphenatedVocabWord(t *testing.T) {
	t.Parallel()
	src := writeIsACSV(t, [][2]string{{"ice_cream", "dessert"}, {"ice", "solid"}, {"cream", "dairy_product"}})
	caps := []string{
		"train|1|an ice cream",
		"train|2|an ice-cream",
		"train|3|two ice creams",
		"train|4|ice and cream",
	}
	want := [][]string{{"ice_cream"}, {"ice_cream"}, {"ice_cream"}, {"ice", "cream"}}
	tok := pipelinetest.RunStage(t, tokensSpec(caps), nil)
	graph := pipelinetest.RunStage(t, &ConceptNetSpec, map[string]any{"source": src})
	_, concepts, cc := linkedTables(t, tok, graph)
	checkLinked(t, caps, want, concepts, cc)
}

// TestLinkNoEvalLeakage: dev and test captions never influence the concept
// vocabulary, its frequencies, the co-occurrence edges or the adjacency:
// adding evaluation captions full of other concepts (and of train
// concepts, together) leaves concepts, concept_edges and adjacency.f32
// byte for byte unchanged.
func TestLinkNoEvalLeakage(t *testing.T) {
	t.Parallel()
	train := []string{
		"train|1|a red circle on grass",
		"train|2|a blue square on sand",
		"train|3|a red square",
	}
	eval := []string{
		"test|4|a yellow star on snow",
		"test|4|a yellow star on snow",
		"test|5|a yellow star next to a red circle on grass",
		"dev|6|yellow stars on grass and sand",
		"dev|7|a blue circle on sand",
	}
	run := func(caps []string) [][]byte {
		tok := pipelinetest.RunStage(t, tokensSpec(caps), nil)
		graph := pipelinetest.RunStage(t, &ConceptNetSpec, nil)
		a := pipelinetest.RunStage(t, &LinkSpec, map[string]any{"concepts": 30, "cooccur_min": 1}, tok, graph)
		var out [][]byte
		for _, f := range []string{"concepts.parquet", "concept_edges.parquet", AdjacencyFile} {
			b, err := os.ReadFile(a.Path(f))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	want := run(train)
	got := run(append(append([]string{}, train...), eval...))
	for i, f := range []string{"concepts.parquet", "concept_edges.parquet", AdjacencyFile} {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s changes when dev/test captions are added", f)
		}
	}
}
