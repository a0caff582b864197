package kg

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"coderflow/internal/testenv"
)

var benchEdges = flag.Int("kg.edges", 200_000, "English edges in the generated ConceptNet-form CSV of BenchmarkLoad (3,400,000 = English ConceptNet 5.7)")

// writeSyntheticConceptNet writes n English ConceptNet-form assertions: about
// n/3 concepts with a skewed (hub-heavy) degree distribution, 34 relations,
// datasets and weights shaped like ConceptNet's.
func writeSyntheticConceptNet(w io.Writer, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 1))
	rels := []string{"RelatedTo", "FormOf", "IsA", "PartOf", "HasA", "UsedFor", "CapableOf", "AtLocation",
		"Causes", "HasSubevent", "HasFirstSubevent", "HasLastSubevent", "HasPrerequisite", "HasProperty",
		"MotivatedByGoal", "ObstructedBy", "Desires", "CreatedBy", "Synonym", "Antonym", "DistinctFrom",
		"DerivedFrom", "SymbolOf", "DefinedAs", "MannerOf", "LocatedNear", "HasContext", "SimilarTo",
		"EtymologicallyRelatedTo", "EtymologicallyDerivedFrom", "CausesDesire", "MadeOf", "ReceivesAction", "Entails"}
	datasets := []string{"/d/wiktionary/en", "/d/conceptnet/4/en", "/d/verbosity", "/d/wordnet/3.1", "/d/dbpedia/en"}
	nodes := n/3 + 1
	zipf := rand.NewZipf(r, 1.1, 8, uint64(nodes-1))
	bw := bufio.NewWriterSize(w, 1<<20)
	for i := 0; i < n; i++ {
		rel := rels[min(int(r.ExpFloat64()*4), len(rels)-1)]
		a := zipf.Uint64()
		b := r.Uint64N(uint64(nodes))
		if i%2 == 1 {
			a, b = b, a
		}
		if a == b {
			b = (b + 1) % uint64(nodes)
		}
		ds := datasets[r.IntN(len(datasets))]
		weight := "1.0"
		switch ds {
		case "/d/wordnet/3.1":
			weight = "2.0"
		case "/d/verbosity":
			weight = fmt.Sprintf("%.3f", r.Float64()*4)
		}
		fmt.Fprintf(bw, "/a/[/r/%s/,/c/en/c%x/,/c/en/c%x/]\t/r/%s\t/c/en/c%x/n\t/c/en/c%x\t{\"dataset\": \"%s\", \"license\": \"cc:by-sa/4.0\", \"sources\": [{\"contributor\": \"/s/resource/wiktionary/en\", \"process\": \"/s/process/wikiparsec/2\"}], \"weight\": %s}\n",
			rel, a, b, rel, a, b, ds, weight)
	}
	return bw.Flush()
}

var benchFile string

func syntheticFile(b *testing.B) string {
	b.Helper()
	if benchFile != "" {
		return benchFile
	}
	dir, err := os.MkdirTemp("", "kgbench")
	if err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(dir, "assertions.csv")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeSyntheticConceptNet(f, *benchEdges, 42); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	benchFile = p
	return p
}

// loadFile reads path and loads its edges with loader into a new store dir.
func loadFile(b *testing.B, path, dir, loader string) (BuildStats, time.Duration, time.Duration) {
	start := time.Now()
	cpu0 := testenv.CPUTime()
	bl, err := NewBuilder(dir, loader, 10000)
	if err != nil {
		b.Fatal(err)
	}
	add, wait := Pipe(b.Context(), bl.Add)
	_, err = ReadConceptNetFile(b.Context(), path, ReadOptions{Batch: 10000}, add)
	if werr := wait(); err == nil {
		err = werr
	}
	if err != nil {
		b.Fatal(err)
	}
	st, err := bl.Close()
	if err != nil {
		b.Fatal(err)
	}
	return st, time.Since(start), testenv.CPUTime() - cpu0
}

// BenchmarkLoad loads a generated ConceptNet-form CSV of -kg.edges English
// edges into a persisted bolt store: the bulk loader, and Cayley's plain
// QuadWriter (batches of 10k) on the same edges, side by side. Both timings
// include reading and parsing the CSV.
func BenchmarkLoad(b *testing.B) {
	path := syntheticFile(b)
	for i := 0; i < b.N; i++ {
		bdir := filepath.Join(b.TempDir(), "bulk")
		bulk, tb, cb := loadFile(b, path, bdir, LoaderBulk)
		bulkSize := fileSize(filepath.Join(bdir, BoltFile))
		_, tq, cq := loadFile(b, path, filepath.Join(b.TempDir(), "qw"), LoaderQuadWriter)
		eps := float64(bulk.Edges) / tb.Seconds()
		qps := float64(bulk.Edges) / tq.Seconds()
		b.ReportMetric(eps, "bulk_edges/s")
		b.ReportMetric(qps, "quadwriter_edges/s")
		b.ReportMetric(eps/qps, "speedup")
		b.ReportMetric(float64(bulk.Edges)/cb.Seconds(), "bulk_edges/cpu-s")
		b.ReportMetric(float64(bulk.Edges)/cq.Seconds(), "quadwriter_edges/cpu-s")
		b.Logf("%d edges (%d distinct quads, %d nodes): bulk %.1fs wall, %.1fs CPU = %.0f edges/s (%.0f per CPU-s), store %d MB; "+
			"Cayley QuadWriter %.1fs wall, %.1fs CPU = %.0f edges/s (%.0f per CPU-s); speedup %.2fx wall, %.2fx CPU",
			bulk.Edges, bulk.Quads, bulk.Nodes, tb.Seconds(), cb.Seconds(), eps, float64(bulk.Edges)/cb.Seconds(), bulkSize>>20,
			tq.Seconds(), cq.Seconds(), qps, float64(bulk.Edges)/cq.Seconds(), eps/qps, cq.Seconds()/cb.Seconds())
	}
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// BenchmarkLoadBulk is BenchmarkLoad without the (slow) Cayley QuadWriter
// side: the bulk loader alone, for profiling.
func BenchmarkLoadBulk(b *testing.B) {
	path := syntheticFile(b)
	for i := 0; i < b.N; i++ {
		st, d, c := loadFile(b, path, filepath.Join(b.TempDir(), "bulk"), LoaderBulk)
		b.ReportMetric(float64(st.Edges)/d.Seconds(), "edges/s")
		b.ReportMetric(float64(st.Edges)/c.Seconds(), "edges/cpu-s")
	}
}
