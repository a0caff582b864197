package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"coderflow/datasets"
	"coderflow/pipeline"
)

// DownloadFilesDir is the directory inside a download artifact that holds
// the downloaded (and extracted) files. Readers given no `source` read the
// files of their upstream download artifacts from there.
const DownloadFilesDir = "files"

// downloadKind is the stage kind whose artifacts readers take files from.
const downloadKind = "download"

// sourceParam is the reader param naming a local copy of the data set.
var sourceParam = pipeline.Param{Name: "source", Type: pipeline.Path, Optional: true, Located: true,
	Doc: "local copy of the data set: dir:PATH (unpacked, read in place) or a plain path; " +
		"empty = the files of the upstream download stages (the tables record absolute image paths, " +
		"so the key covers where the copy is as well as its content)"}

// sourceGiven reports whether a reader was given a local `source`: it then
// reads nothing from its upstream download stages, which the engine leaves
// out (pipeline.Spec.InputsUnused), so an offline run never downloads.
func sourceGiven(p pipeline.Params) bool { return p.Path("source") != "" }

// sourceRoots returns the directories a reader searches: the `source` param
// if set, else the files/ directory of every upstream download artifact
// (nearest first).
func sourceRoots(env *pipeline.Env) ([]string, error) {
	src := env.Params.Path("source")
	if src != "" {
		p, ok := pipeline.IsLocalSource(src)
		if !ok {
			return nil, fmt.Errorf("source %q: readers take a local directory; fetch URLs with a download stage and list it in needs", src)
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", src, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("source %q: not a directory (unpack archives with a download stage, extract: true)", src)
		}
		return []string{p}, nil
	}
	var roots []string
	pipeline.WalkUpstream(env.Inputs, func(a *pipeline.Artifact) bool {
		if a.Kind() == downloadKind {
			roots = append(roots, downloadRoot(a))
		}
		return true
	})
	if len(roots) == 0 {
		return nil, fmt.Errorf("no source: set the source param or add a download stage to needs")
	}
	return roots, nil
}

// downloadRoot is where a download artifact's files are: files/ inside it,
// or the directory named by its location.json for a dir: source.
func downloadRoot(a *pipeline.Artifact) string {
	if b, err := os.ReadFile(a.Path(locationFile)); err == nil {
		var loc struct{ Dir string }
		if json.Unmarshal(b, &loc) == nil && loc.Dir != "" {
			return loc.Dir
		}
	}
	return a.Path(DownloadFilesDir)
}

// findFile looks for a regular file named one of names in roots, in order.
func findFile(roots []string, names ...string) (string, error) {
	return findIn(roots, datasets.FindFile, names)
}

// findDir looks for a directory named one of names in roots, in order.
func findDir(roots []string, names ...string) (string, error) {
	return findIn(roots, datasets.FindDir, names)
}

// findIn calls find on each root in order and returns the first match. An
// ambiguous match ends the search (a later root must not hide the choice
// this one needs); when no root matches, the first root's error is
// returned.
func findIn(roots []string, find func(root string, names ...string) (string, error), names []string) (string, error) {
	var firstErr error
	for _, r := range roots {
		p, err := find(r, names...)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, datasets.ErrAmbiguous) {
			return "", err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", firstErr
}
