package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"coderflow/internal/atomicfile"
)

// MetricsFileName is the name of the metrics file in an `evaluate` artifact.
const MetricsFileName = "metrics.json"

// MetricsTable is the name of the table the `evaluate` stage writes (one row
// per fold and metric, see [MetricsRow]).
const MetricsTable = "metrics"

// MetricsFormat is the value of MetricsFile.Format written by this version.
const MetricsFormat = "coderflow.metrics/v1"

// Protocol describes the evaluation protocol, written into metrics.json.
const Protocol = "Recall@K image-text retrieval (VSE++/SCAN/VSE-infinity protocol): " +
	"N images x 5N captions, caption 5i+k belongs to image i; sims = alpha*inst + (1-alpha)*concept; " +
	"i2t rank = best 0-based position of the image's 5 captions in its row, t2i rank = 0-based position of " +
	"the caption's image in its column; ties broken by index (stable sort); R@K = 100*#{rank<K}/count; " +
	"medr = floor(median rank)+1; meanr = mean rank+1; rsum = sum of the six recalls; with K folds every " +
	"metric is the mean over folds and rsum the sum of the mean recalls"

// MetricsFile is the content of metrics.json.
type MetricsFile struct {
	Format     string    `json:"format"`      // MetricsFormat
	Protocol   string    `json:"protocol"`    // Protocol
	Split      string    `json:"split"`       // the evaluated split, e.g. "test"
	Images     int       `json:"images"`      // N
	Captions   int       `json:"captions"`    // 5N
	Dim        int       `json:"dim"`         // instance embedding size
	ConceptDim int       `json:"concept_dim"` // concept embedding size (0: none)
	Alpha      float64   `json:"alpha"`       // similarity mix (meaningful when concept_dim > 0)
	Folds      int       `json:"folds"`       // number of folds (1: no folds)
	FoldImages int       `json:"fold_images"` // images per fold
	Mean       Metrics   `json:"mean"`        // the reported numbers
	PerFold    []Metrics `json:"per_fold"`    // one entry per fold
	// Stage and Key identify the evaluate artifact that wrote the file.
	Stage string `json:"stage,omitempty"`
	Key   string `json:"key,omitempty"`
	// Model is the upstream artifact that produced the embeddings, with its
	// params: the report's ablation table shows the params that differ.
	Model *ModelRef `json:"model,omitempty"`
	// DroppedUpstream counts images of the split left out upstream: skipped
	// by the data set stage (missing or unreadable files, too few captions)
	// or dropped by the stage that wrote the embeddings (no features, fewer
	// than 5 captions). When nonzero, the numbers are not those of the
	// protocol's full test set.
	DroppedUpstream int `json:"images_dropped_upstream,omitempty"`
	// Data identifies the evaluated test data (evaluate version 3 and
	// later; nil in older files and when no images or captions table is
	// upstream): reports compare only runs on the same data.
	Data *DataIdentity `json:"data,omitempty"`
}

// DataIdentity identifies the test data an evaluation ran on. Two
// evaluations ran on the same data when they evaluated the same split and
// their identities are equal (see SameData): the same artifacts provided the
// images and captions tables, and the same image and caption ids were
// ranked in the same order. Runs on other data (another data set, another
// size or seed of the synthetic one, images dropped by other feature
// settings) have numbers that are not comparable.
type DataIdentity struct {
	// Images and Captions are the nearest artifacts upstream of the
	// embeddings that declare the images and captions tables (the data set
	// stage); at least one is set.
	Images   *ArtifactRef `json:"images,omitempty"`
	Captions *ArtifactRef `json:"captions,omitempty"`
	// IDs is "sha256:" and the hex SHA-256 of the evaluated ids in protocol
	// order: one line "image <id>" per image row, then one line
	// "caption <id>" per caption row, each ending in "\n".
	IDs string `json:"ids"`
}

// ArtifactRef names an upstream artifact: its stage id in the workflow that
// made it, its kind and its cache key (the key alone identifies it).
type ArtifactRef struct {
	Stage string `json:"stage"`
	Kind  string `json:"kind"`
	Key   string `json:"key"`
}

// SameData reports whether two evaluations ran on the same test data: both
// have a data identity, the split is the same and the identities are equal
// (artifact keys and ids; stage names do not matter).
func SameData(a, b *MetricsFile) bool {
	if a == nil || b == nil || a.Data == nil || b.Data == nil || a.Split != b.Split {
		return false
	}
	same := func(x, y *ArtifactRef) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Key == y.Key
	}
	return a.Data.IDs == b.Data.IDs && same(a.Data.Images, b.Data.Images) && same(a.Data.Captions, b.Data.Captions)
}

// ModelRef names the artifact that produced the evaluated embeddings.
type ModelRef struct {
	Stage  string         `json:"stage"`
	Kind   string         `json:"kind"`
	Key    string         `json:"key"`
	Params map[string]any `json:"params,omitempty"`
}

// MetricsRow is one row of the metrics table: Fold is "mean" or the fold
// index ("0", "1", ...); Metric is a name from [Metrics.Named].
type MetricsRow struct {
	Fold   string  `parquet:"fold"`
	Metric string  `parquet:"metric"`
	Value  float64 `parquet:"value"`
}

// Rows returns the metrics table rows of f: the mean first, then each fold.
func (f *MetricsFile) Rows() []MetricsRow {
	var rows []MetricsRow
	add := func(fold string, m Metrics) {
		for _, nv := range m.Named() {
			rows = append(rows, MetricsRow{Fold: fold, Metric: nv.Name, Value: nv.Value})
		}
	}
	add("mean", f.Mean)
	for i, m := range f.PerFold {
		add(fmt.Sprint(i), m)
	}
	return rows
}

// WriteMetricsFile writes f as indented JSON to path, atomically.
func WriteMetricsFile(path string, f *MetricsFile) error {
	if f.Format == "" {
		f.Format = MetricsFormat
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadMetricsFile reads a metrics.json written by the `evaluate` stage.
// path may also be a directory (an evaluate artifact) holding metrics.json.
func ReadMetricsFile(path string) (*MetricsFile, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, MetricsFileName)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f MetricsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Format != MetricsFormat {
		return nil, fmt.Errorf("%s: format %q, want %q", path, f.Format, MetricsFormat)
	}
	if len(f.PerFold) == 0 {
		return nil, errors.New(path + ": no per-fold metrics")
	}
	if f.Data != nil && f.Data.Images == nil && f.Data.Captions == nil {
		f.Data = nil // without the tables' artifacts the ids do not tell data sets apart
	}
	return &f, nil
}
