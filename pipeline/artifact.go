package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	sjson "github.com/segmentio/encoding/json"
)

// ManifestName is the file name of an artifact's manifest.
const ManifestName = "manifest.json"

// Manifest describes one finished artifact. It is written last, so an
// artifact directory without a manifest is never complete.
type Manifest struct {
	Engine   string             `json:"engine"`  // cache-key salt of the engine that wrote it
	Stage    string             `json:"stage"`   // stage id in the workflow that produced it
	Kind     string             `json:"kind"`    // stage kind
	Version  string             `json:"version"` // stage kind version
	Key      string             `json:"key"`     // cache key (hex sha256)
	Params   map[string]any     `json:"params"`  // resolved params, all of them
	Inputs   []InputRef         `json:"inputs"`  // direct inputs in declared order
	External []ExternalRef      `json:"external,omitempty"`
	Files    []FileEntry        `json:"files"`  // every data file, sorted by path
	Tables   []TableEntry       `json:"tables"` // tables the stage declared
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	Info     map[string]any     `json:"info,omitempty"` // counts, skips and other stage facts
	Summary  string             `json:"summary,omitempty"`
	Start    time.Time          `json:"start"`
	End      time.Time          `json:"end"`
	Seconds  float64            `json:"seconds"`
}

// InputRef names an input artifact.
type InputRef struct {
	Stage string `json:"stage"`
	Kind  string `json:"kind"`
	Key   string `json:"key"`
}

// ExternalRef records the digest of an external file or directory a Path
// param pointed at when the key was computed.
type ExternalRef struct {
	Param  string `json:"param"`
	Source string `json:"source"`
	Digest string `json:"digest"`
}

// FileEntry is one file of an artifact, relative to the artifact directory.
type FileEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	MTime  int64  `json:"mtime_ns"` // modification time when sealed; a change triggers a rehash
}

// TableEntry is a table written by a stage: one or more Parquet files
// (shards) relative to the artifact directory, and the total row count.
type TableEntry struct {
	Name  string   `json:"name"`
	Files []string `json:"files"`
	Rows  int64    `json:"rows"`
}

// Artifact is a finished, immutable stage output in the cache.
type Artifact struct {
	Stage    string    // id of the producing stage in the current workflow
	Dir      string    // absolute directory
	Manifest *Manifest // its manifest
	// Inputs are the artifacts this one was computed from, so that a stage can
	// look up tables produced further upstream (see [Env.Input]).
	Inputs []*Artifact
}

// Key returns the artifact's cache key.
func (a *Artifact) Key() string { return a.Manifest.Key }

// Kind returns the kind of the stage that produced the artifact.
func (a *Artifact) Kind() string { return a.Manifest.Kind }

// Table returns the absolute paths of the files of table name, in order.
func (a *Artifact) Table(name string) ([]string, bool) {
	for _, t := range a.Manifest.Tables {
		if t.Name == name {
			out := make([]string, len(t.Files))
			for i, f := range t.Files {
				out[i] = filepath.Join(a.Dir, filepath.FromSlash(f))
			}
			return out, true
		}
	}
	return nil, false
}

// TableRows returns the row count recorded for table name.
func (a *Artifact) TableRows(name string) int64 {
	for _, t := range a.Manifest.Tables {
		if t.Name == name {
			return t.Rows
		}
	}
	return 0
}

// Path returns the absolute path of a file inside the artifact.
func (a *Artifact) Path(rel string) string { return filepath.Join(a.Dir, filepath.FromSlash(rel)) }

// errNotRegular is readStateFile's error for a path that is not a
// regular file.
var errNotRegular = errors.New("not a regular file")

// readStateFile reads a file of the workdir's state (a manifest, a run
// record, the stat cache, a shard marker). A FIFO, device or directory
// there (a user's mistake) is an error wrapping errNotRegular that names
// it: reading a FIFO would block until something writes to it, so that
// status, run or gc would hang.
func readStateFile(p string) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%v)", p, errNotRegular, st.Mode().Type())
	}
	return os.ReadFile(p)
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := readStateFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	// segmentio's decoder is encoding/json's behaviour at about 3x the
	// speed: a data set's manifest lists every image, and a fully cached
	// run reads each manifest. It has no nesting limit, though: it
	// recurses once per level, so a damaged manifest of a few million
	// '[' overflowed the goroutine stack (a fatal error no recover
	// catches), and it rescans a nested value once per level, so 10,000
	// levels took a second. jsonDepth refuses more than maxJSONDepth
	// levels before decoding (the engine writes about four).
	if err := jsonDepth(b); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	if err := sjson.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	return &m, nil
}

// maxJSONDepth bounds the nesting of a manifest (encoding/json allows
// 10,000 levels, where segmentio's decoder takes seconds per value).
const maxJSONDepth = 128

// jsonDepth returns an error, at the offset where it happens, if JSON
// text b nests arrays and objects more than maxJSONDepth deep. Anything
// else wrong with b is left to the decoder.
func jsonDepth(b []byte) error {
	depth, inString, escaped := 0, false, false
	for i, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > maxJSONDepth {
				return fmt.Errorf("offset %d: nested more than %d deep", i, maxJSONDepth)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// OpenArtifact opens a finished artifact directory (no inputs attached).
func OpenArtifact(dir string) (*Artifact, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	return &Artifact{Stage: m.Stage, Dir: dir, Manifest: m}, nil
}
