package kg

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cayleygraph/cayley"
	_ "github.com/cayleygraph/cayley/graph/kv/bbolt" // registers the backend
	"github.com/cayleygraph/quad"

	"coderflow/kg"
	"coderflow/pipeline/pipelinetest"
)

var cayleyTerms = []string{"crimson", "circle", "small", "grass", "square", "zebra_that_is_absent"}

// TestCayleyFreshProcess builds the embedded graph, prints the neighbours of
// a few terms the way the CLI does (kg.OpenStore + Neighbors +
// FormatNeighbors), and has a fresh process open the same store with
// Cayley's own API (cayley.NewGraph, path traversals) and print the same.
func TestCayleyFreshProcess(t *testing.T) {
	a := pipelinetest.RunStage(t, &ConceptNetSpec, map[string]any{"loader": "bulk"})
	s, err := kg.OpenStore(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for _, term := range cayleyTerms {
		ns, err := s.Neighbors(t.Context(), term, "")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&want, "## %s\n", term)
		kg.FormatNeighbors(&want, ns)
	}
	s.Close()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCayleyHelperProcess$")
	cmd.Env = append(os.Environ(), "KG_CAYLEY_HELPER="+filepath.Join(a.Dir, kg.StoreDirName))
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, got)
	}
	gotS := string(got)
	if i := strings.Index(gotS, "## "); i >= 0 {
		gotS = gotS[i:]
	}
	if j := strings.LastIndex(gotS, "\nPASS"); j >= 0 {
		gotS = gotS[:j+1]
	}
	if gotS != want.String() {
		t.Errorf("Cayley in a fresh process:\n%s\nkg.Store (the CLI):\n%s", gotS, want.String())
	}
	if strings.Count(want.String(), "\n") < 30 || !strings.Contains(want.String(), " red ") {
		t.Errorf("crimson has no red neighbour:\n%s", want.String())
	}
}

// TestCayleyHelperProcess runs only as the helper of TestCayleyFreshProcess.
func TestCayleyHelperProcess(t *testing.T) {
	dir := os.Getenv("KG_CAYLEY_HELPER")
	if dir == "" {
		t.Skip("helper process only")
	}
	h, err := cayley.NewGraph(kg.Backend, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx := t.Context()
	for _, term := range cayleyTerms {
		node := quad.IRI(kg.ConceptURI(term))
		var ns []kg.Neighbor
		for _, dir := range []string{kg.Out, kg.In} {
			preds := cayley.StartPath(h, node).OutPredicates()
			if dir == kg.In {
				preds = cayley.StartPath(h, node).InPredicates()
			}
			pv, err := preds.Iterate(ctx).AllValues(h)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pv {
				step := cayley.StartPath(h, node).Out(p)
				if dir == kg.In {
					step = cayley.StartPath(h, node).In(p)
				}
				err := step.Iterate(ctx).EachValue(h, func(v quad.Value) error {
					c, _ := kg.NormalizeConcept(string(v.(quad.IRI)))
					w, ds := edgeWeight(t, h, node, p, v, dir)
					ns = append(ns, kg.Neighbor{Concept: c, Rel: string(p.(quad.IRI)), Weight: w, Direction: dir, Dataset: ds})
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		kg.SortNeighbors(ns)
		fmt.Printf("## %s\n", term)
		kg.FormatNeighbors(os.Stdout, ns)
	}
}

// edgeWeight returns the largest weight (and its dataset) among the quads
// node -p-> v (or v -p-> node), reading labels through Cayley's quad index.
func edgeWeight(t *testing.T, h *cayley.Handle, node quad.Value, p, v quad.Value, dir string) (float32, string) {
	ref, err := h.ValueOf(node)
	if err != nil {
		t.Fatal(err)
	}
	d := quad.Subject
	if dir == kg.In {
		d = quad.Object
	}
	it := h.QuadIterator(d, ref).Iterate()
	defer it.Close()
	best, bestDS := float32(-1), ""
	for it.Next(t.Context()) {
		q, err := h.Quad(it.Result())
		if err != nil {
			t.Fatal(err)
		}
		other := q.Object
		if dir == kg.In {
			other = q.Subject
		}
		if q.Predicate != p || other != v {
			continue
		}
		ds, w := kg.DecodeLabel(string(q.Label.(quad.IRI)))
		if w > best || (w == best && ds < bestDS) {
			best, bestDS = w, ds
		}
	}
	return best, bestDS
}
