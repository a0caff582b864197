package kg

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"coderflow/datasets/table"
	"coderflow/kg"
	"coderflow/kg/embedded"
	"coderflow/pipeline"
)

// TableNodes is the table of graph concepts written by kg.conceptnet: one
// row per concept with its degree ([NodeRow]). kg.link finds the graph
// through it.
const TableNodes = "kg_nodes"

// NodeRow is one row of the kg_nodes table.
type NodeRow struct {
	Concept string `parquet:"concept"` // normalised concept, e.g. "hot_dog"
	Degree  int64  `parquet:"degree"`  // stored edges at the concept, both directions
}

// Param names of kg.conceptnet.
const (
	ParamSource      = "source"
	ParamWordNet     = "wordnet"
	ParamRelations   = "relations"
	ParamMaxBad      = "max_bad_fraction"
	ParamLoader      = "loader"
	ParamBatch       = "batch"
	SourceEmbedded   = "embedded"
	ParamUpstream    = "upstream"
	DefaultMaxBad    = 0.001
	DefaultBatchSize = 10000
)

// ConceptNetSpec is the kg.conceptnet stage kind.
var ConceptNetSpec = pipeline.Spec{
	Kind: "kg.conceptnet",
	// The embedded edge file is not a local Path, so its content enters the
	// cache key through the version: regenerating it invalidates artifacts.
	// 2: the quadwriter loader stores and counts a repeated edge once, as
	// bulk does (its kg_nodes degrees and quads no longer count copies); a
	// weight beyond float32's range is a malformed line (it was +Inf).
	// 3: a kept line's JSON column must be valid JSON (damage such as
	// "weight": 0x10 was read as weight 0, a missing comma passed), an
	// escaped quote in the dataset no longer cuts it, and a concept or
	// relation with a space or control character is a malformed line.
	// 4: a WordNet word with a slash ("read/write_head") is the concept
	// read_write_head, as ConceptNet spells it (its URI /c/en/read/write_head
	// was read back as the concept "read").
	Version: "4-" + embeddedDigest(),
	Doc: "Builds the knowledge graph: reads ConceptNet 5 assertions (CSV or CSV.gz), a WordNet 3.0 dictionary " +
		"directory, or the embedded WordNet-derived edge file; keeps English-to-English edges with normalised concepts, " +
		"relation, weight and dataset; loads them into a Cayley quad store in bolt (graph/indexes.bolt) and writes the " +
		"kg_nodes table (concept, degree). Malformed lines are counted with line numbers; the stage fails above " +
		"max_bad_fraction. Query it with `coderflow kg WF STAGE neighbors TERM`.",
	Produces: []string{TableNodes},
	Params: []pipeline.Param{
		{Name: ParamSource, Type: pipeline.Path, Default: SourceEmbedded,
			Doc: "\"embedded\" (WordNet-derived edges compiled in, offline), a ConceptNet assertions file (.csv or .csv.gz), a WordNet dictionary directory (with data.noun, e.g. /usr/share/wordnet)"},
		{Name: ParamUpstream, Type: pipeline.Bool, Default: false,
			Doc: "read every *.csv/*.csv.gz file and WordNet directory in the files of the stages in needs (e.g. a download of catalog entry conceptnet-5.7) instead of source"},
		{Name: ParamWordNet, Type: pipeline.Path, Optional: true,
			Doc: "optional WordNet 3.0 dictionary directory whose edges are added to source's"},
		{Name: ParamRelations, Type: pipeline.StringList, Default: []string{},
			Doc: "keep only these relations (e.g. [/r/IsA, /r/Synonym] or [IsA, Synonym]); empty keeps all"},
		{Name: ParamMaxBad, Type: pipeline.Float, Default: DefaultMaxBad, Min: pipeline.Bound(0), Max: pipeline.Bound(1),
			Doc: "fail if more than this fraction of input lines are malformed (they are skipped and reported otherwise)"},
		// Not NoCache: both loaders store the same graph and count a
		// repeated edge once (same kg_nodes, same quads), but their
		// indexes.bolt files differ (node and quad ids, Cayley's
		// wall-clock log timestamps), so the loader is part of the key.
		{Name: ParamLoader, Type: pipeline.String, Default: kg.LoaderBulk, Enum: kg.Loaders,
			Doc: "bulk: build the store layout in memory and write it once (fast); quadwriter: stream through Cayley's QuadWriter " +
				"(slower; memory: a batch, Cayley's buffers and 16 bytes per distinct edge). Both store and count an edge asserted twice once"},
		// batch stays in the cache key (it was when it decided which repeated
		// edges Cayley's writer kept; it changes no output any more).
		{Name: ParamBatch, Type: pipeline.Int, Default: DefaultBatchSize, Min: pipeline.Bound(1),
			Doc: "edges per read batch and per Cayley WriteQuads call"},
	},
	// Without upstream the stage reads nothing from its needs, so the engine
	// leaves an unused download stage out (an offline run never downloads).
	InputsUnused: func(p pipeline.Params) bool { return !p.Bool(ParamUpstream) },
	Validate:     validateConceptNet,
	Stage:        pipeline.StageFunc(runConceptNet),
}

// validateConceptNet refuses a source next to upstream: true, which reads
// the files of the stages in needs instead: the source was never read
// (though digested into the key), and the download it was meant to
// replace still ran.
func validateConceptNet(p pipeline.Params) error {
	if src := p.Path(ParamSource); p.Bool(ParamUpstream) && src != SourceEmbedded {
		return pipeline.ParamError(ParamSource, fmt.Errorf("%q is not read with upstream: true (the stage reads the knowledge files "+
			"of the stages in needs): set upstream: false to read it (e.g. --set kg.upstream=false), or drop source", src))
	}
	return nil
}

func init() { pipeline.Default.MustRegister(ConceptNetSpec) }

func embeddedDigest() string {
	h := sha256.Sum256(embedded.Edges())
	return hex.EncodeToString(h[:6])
}

// sourceKind tells how a source value is read.
func readSource(ctx context.Context, src string, opt kg.ReadOptions, fn func([]kg.Edge) error) (kg.ReadStats, string, error) {
	if src == SourceEmbedded || strings.HasPrefix(src, SourceEmbedded+":") {
		st, err := kg.ReadConceptNet(ctx, bytes.NewReader(embedded.Edges()), "embedded:"+embedded.EdgesFile, opt, fn)
		return st, "embedded", err
	}
	path, ok := pipeline.IsLocalSource(src)
	if !ok {
		return kg.ReadStats{}, "", fmt.Errorf("source %q: only local files and directories (or \"embedded\") are read; fetch URLs with a download stage", src)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return kg.ReadStats{}, "", fmt.Errorf("source: %w", err)
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "data.noun")); err != nil {
			return kg.ReadStats{}, "", fmt.Errorf("source %s: a directory must be a WordNet dictionary (data.noun, data.verb, data.adj, data.adv)", path)
		}
		st, err := kg.ReadWordNet(ctx, path, opt, fn)
		return st, "wordnet", err
	}
	st, err := kg.ReadConceptNetFile(ctx, path, opt, fn)
	return st, "conceptnet", err
}

func runConceptNet(ctx context.Context, env *pipeline.Env) error {
	p := env.Params
	var rels []string
	for _, r := range p.Strings(ParamRelations) {
		rels = append(rels, kg.NormalizeRel(r))
	}
	opt := kg.ReadOptions{Relations: rels, Batch: p.Int(ParamBatch)}
	sources := []string{p.Path(ParamSource)}
	if p.Bool(ParamUpstream) {
		var err error
		if sources, err = upstreamSources(env); err != nil {
			return err
		}
	}
	if wn := p.Path(ParamWordNet); wn != "" {
		sources = append(sources, wn)
	}

	storeDir := filepath.Join(env.Dir, kg.StoreDirName)
	if err := os.RemoveAll(storeDir); err != nil { // a partial store of an interrupted attempt
		return err
	}
	start := time.Now()
	b, err := kg.NewBuilder(storeDir, p.String(ParamLoader), p.Int(ParamBatch))
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			b.Abort()
		}
	}()
	prog := env.Progress("edges", 0)
	// Parsing the next batch overlaps storing the previous one.
	add, wait := kg.Pipe(ctx, func(batch []kg.Edge) error {
		prog.Add(int64(len(batch)))
		return b.Add(batch)
	})
	defer wait()
	var total kg.ReadStats
	perSource := map[string]kg.ReadStats{}
	for _, src := range sources {
		st, kind, err := readSource(ctx, src, opt, add)
		if err != nil {
			wait()
			prog.Done()
			return fmt.Errorf("kg.conceptnet: %w", err)
		}
		env.Log.Info("read knowledge source", "source", src, "kind", kind, "lines", st.Lines, "edges", st.Edges,
			"skipped", st.Skipped, "bad", st.Bad)
		for _, bl := range st.Samples {
			env.Log.Warn("malformed line skipped", "file", bl.File, "line", bl.Line, "reason", bl.Reason)
		}
		if st.Lines == 0 {
			prog.Done()
			return fmt.Errorf("kg.conceptnet: source %s is empty", src)
		}
		perSource[src] = st
		total.Add(st)
	}
	if err := wait(); err != nil {
		prog.Done()
		return fmt.Errorf("kg.conceptnet: %w", err)
	}
	prog.Done()
	env.SetInfo("read", perSource)
	if f := total.BadFraction(); f > p.Float(ParamMaxBad) {
		return fmt.Errorf("kg.conceptnet: %d of %d lines (%.4g) are malformed, above max_bad_fraction %g; first: %v",
			total.Bad, total.Lines, f, p.Float(ParamMaxBad), total.Samples[0])
	}
	if total.Edges == 0 {
		return fmt.Errorf("kg.conceptnet: no English-to-English edges in %s (%d lines: %d skipped as other-language, external or filtered, %d malformed)",
			strings.Join(sources, ", "), total.Lines, total.Skipped, total.Bad)
	}
	bs, err := b.CloseContext(ctx)
	closed = true
	if err != nil {
		return err
	}
	loadSec := time.Since(start).Seconds()

	// kg_nodes: every concept with its degree, in name order.
	w, err := table.Create[NodeRow](env.Path("nodes.parquet"), env, TableNodes, table.Options{RowGroupRows: 1 << 16})
	if err != nil {
		return err
	}
	defer w.Abort()
	buf := make([]NodeRow, 0, 4096)
	err = b.Concepts(func(n kg.NodeDegree) error {
		buf = append(buf, NodeRow{Concept: n.Concept, Degree: n.Degree})
		if len(buf) == cap(buf) {
			err := w.Write(buf)
			buf = buf[:0]
			return err
		}
		return nil
	})
	if err == nil && len(buf) > 0 {
		err = w.Write(buf)
	}
	if err != nil {
		return err
	}
	rows := w.Rows()
	if err := w.Close(); err != nil {
		return err
	}
	env.AddTable(TableNodes, rows, "nodes.parquet")
	env.SetInfo("store", kg.StoreDirName+"/"+kg.BoltFile)
	env.SetInfo("backend", kg.Backend)
	env.SetInfo("loader", p.String(ParamLoader))
	env.SetInfo("edges", bs.Edges)
	env.SetInfo("quads", bs.Quads)
	env.SetInfo("concepts", rows)
	env.SetInfo("bad_lines", total.Bad)
	env.SetInfo("skipped_lines", total.Skipped)
	env.SetMetric("edges", float64(bs.Edges))
	env.SetMetric("load_edges_per_second", float64(bs.Edges)/loadSec)
	env.Summarize("%d edges (%d distinct quads) among %d concepts in %s; %d lines skipped, %d malformed",
		bs.Edges, bs.Quads, rows, kg.StoreDirName+"/"+kg.BoltFile, total.Skipped, total.Bad)
	return nil
}

// upstreamSources lists the knowledge files of the direct inputs (download
// artifacts): under files/, or the directory named by location.json. It
// returns WordNet dictionary directories and ConceptNet .csv/.csv.gz files,
// sorted.
func upstreamSources(env *pipeline.Env) ([]string, error) {
	var roots []string
	for _, a := range env.Inputs {
		if b, err := os.ReadFile(a.Path("location.json")); err == nil {
			var loc struct{ Dir string }
			if json.Unmarshal(b, &loc) == nil && loc.Dir != "" {
				roots = append(roots, loc.Dir)
				continue
			}
		}
		if fi, err := os.Stat(a.Path("files")); err == nil && fi.IsDir() {
			roots = append(roots, a.Path("files"))
		}
	}
	var out []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if _, err := os.Stat(filepath.Join(p, "data.noun")); err == nil {
					out = append(out, p)
					return filepath.SkipDir
				}
				return nil
			}
			if n := strings.ToLower(d.Name()); strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".csv.gz") {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("kg.conceptnet: %w", err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("kg.conceptnet: upstream: no .csv/.csv.gz file or WordNet directory in the files of the stages in needs")
	}
	slices.Sort(out)
	return out, nil
}
