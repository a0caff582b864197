package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"coderflow/datasets"
	"coderflow/pipeline"
)

// downloadKind is the stage kind that fetches files for the readers.
const downloadKind = "download"

// offlineHint says what to do when download stages of a run failed (no
// network, dead links): the --set values that give each stage reading
// those downloads a local copy instead, so that the engine leaves the
// downloads out, and the catalog's notes on the entries they fetch (where
// the files are now, what they hold). It returns "" when no download stage
// failed. A suggestion is printed only once loading the workflow with it
// (a placeholder directory for PATH) leaves the download out; for a reader
// it cannot check, the hint points to docs/datasets.md.
func offlineHint(w *pipeline.Workflow, sets []string, rec *pipeline.RunRecord) string {
	var failed []string // download stages that failed or were canceled with them
	anyFailed := false
	for _, s := range rec.Stages {
		if s.Kind != downloadKind || (s.Status != pipeline.RunFailed && s.Status != pipeline.RunCanceled) {
			continue
		}
		failed = append(failed, s.Stage)
		anyFailed = anyFailed || s.Status == pipeline.RunFailed
	}
	if !anyFailed {
		return ""
	}
	type suggestion struct {
		sets    []string // with PATH as the placeholder
		readers string   // "data (dataset.precomp)"
	}
	var sugs []suggestion
	var allSets []string
	for _, n := range w.Stages {
		if !slices.ContainsFunc(n.Needs, func(id string) bool { return slices.Contains(failed, id) }) {
			continue
		}
		d, ok := n.Params.Decl("source")
		if !ok || d.Type != pipeline.Path {
			continue
		}
		var s []string
		if u, ok := n.Params.Decl("upstream"); ok && u.Type == pipeline.Bool && n.Params.Bool("upstream") {
			s = append(s, n.ID+".upstream=false")
		}
		if strings.Contains(d.Doc, "dir:PATH") {
			s = append(s, n.ID+".source=dir:PATH")
		} else {
			s = append(s, n.ID+".source=PATH")
		}
		sugs = append(sugs, suggestion{s, fmt.Sprintf("%s (%s)", n.ID, n.Kind)})
		allSets = append(allSets, s...)
	}
	var b strings.Builder
	if len(sugs) > 0 && leavesOut(w, sets, allSets, failed) {
		fmt.Fprintf(&b, "to run from a local copy instead (no network, a dead link), give it to the stages that read %s; the download stages are then left out of the run:\n", strings.Join(failed, ", "))
		width := 0
		for _, s := range sugs {
			width = max(width, len(strings.Join(s.sets, " --set ")))
		}
		for _, s := range sugs {
			fmt.Fprintf(&b, "  --set %-*s  for %s\n", width, strings.Join(s.sets, " --set "), s.readers)
		}
	} else {
		fmt.Fprintf(&b, "to run from a local copy instead (no network, a dead link): fetch the files of %s by hand and give them to the stages that read them (source: dir:PATH; docs/datasets.md)\n", strings.Join(failed, ", "))
	}
	for _, id := range failed {
		n, ok := w.Stage(id)
		if !ok {
			continue
		}
		for _, name := range n.Params.Strings("catalog") {
			if src, err := datasets.Lookup(name); err == nil && src.Doc != "" {
				fmt.Fprintf(&b, "%s: catalog entry %s: %s\n", id, name, src.Doc)
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// leavesOut reports whether loading w's file with sets and extra (PATH
// replaced by an empty directory) leaves every stage of ids out of the run.
func leavesOut(w *pipeline.Workflow, sets, extra, ids []string) bool {
	dir, err := os.MkdirTemp("", "coderflow-offline-")
	if err != nil {
		return false
	}
	defer os.Remove(dir)
	all := slices.Clone(sets)
	for _, s := range extra {
		if id, ok := strings.CutSuffix(s, "PATH"); ok {
			s = id + dir // ID.source=PATH or ID.source=dir:PATH
		}
		all = append(all, s)
	}
	w2, err := pipeline.Load(w.File, pipeline.LoadOptions{Sets: all, Workdir: w.Workdir})
	if err != nil {
		return false
	}
	for _, id := range ids {
		if !slices.Contains(w2.Dropped, id) {
			return false
		}
	}
	return true
}
