package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"coderflow/internal/pqinspect"
	"coderflow/pipeline"
)

func newInspectCmd(g *globalFlags) *cobra.Command {
	var schema, meta, asJSON, pathOnly bool
	var head int
	var sets []string
	var run string
	c := &cobra.Command{
		Use:   "inspect FILE.parquet | inspect WORKFLOW.yaml STAGE | inspect ARTIFACT_DIR",
		Short: "Describe a Parquet file, or a stage's artifact",
		Long: `inspect FILE.parquet [--schema] [--meta] [--head N] [--json] shows the row
count, row groups (per-column codec and sizes), key-value metadata, schema and
first rows of any Parquet file.

inspect WORKFLOW.yaml STAGE [--path] [--json] [--run ID | --set S.P=V] shows the
stage's artifact: path, manifest and files. Without --set it shows the artifact
of the latest run; with --set it computes the key as run would.

inspect ARTIFACT_DIR [--path] [--json] shows the same for an artifact
directory found on disk (.coderflow/cache/KIND/KEY, with a manifest.json).`,
		Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 1 && isWorkflowFile(args[0]) {
				w, err := loadWorkflow(g, args[0], sets)
				if err != nil {
					return err
				}
				return usageError{fmt.Errorf("inspect %s needs a STAGE: one of %s", args[0], strings.Join(w.StageIDs(), ", "))}
			}
			if len(args) == 1 && isArtifactDir(args[0]) {
				// a cache directory found on disk (ls .coderflow/cache/tokenize/):
				// its manifest, as for WORKFLOW.yaml STAGE
				if fl := changedFlags(cmd, "head", "schema", "meta", "run", "set"); fl != "" {
					return usageError{fmt.Errorf("%s: not for an artifact directory (it shows the manifest; --path and --json apply)", fl)}
				}
				dir, err := filepath.Abs(args[0])
				if err != nil {
					return err
				}
				a, err := pipeline.OpenArtifact(dir)
				if err != nil {
					return err
				}
				return showArtifact(out, a, pathOnly, asJSON)
			}
			if len(args) == 1 {
				if fl := changedFlags(cmd, "path", "run", "set"); fl != "" {
					return usageError{fmt.Errorf("%s: only for inspect WORKFLOW.yaml STAGE, not for a Parquet file", fl)}
				}
				if head < 0 {
					return usageError{fmt.Errorf("--head %d: want a number of rows, 0 or more", head)}
				}
				if schema && meta { // the schema alone was printed
					return usageError{errors.New("--schema and --meta exclude each other: each prints only its part (without either, inspect prints both)")}
				}
				return inspectParquet(out, args[0], schema, meta, head, asJSON)
			}
			if isParquetFile(args[0]) {
				return usageError{fmt.Errorf("%s is a Parquet file: inspect FILE.parquet takes no STAGE argument (got %q)", args[0], args[1])}
			}
			w, err := loadWorkflow(g, args[0], sets)
			if err != nil {
				return err
			}
			a, err := stageArtifact(cmd.Context(), w, args[1], sets, runFlag(cmd, run))
			if err != nil {
				return err
			}
			if fl := changedFlags(cmd, "head", "schema", "meta"); fl != "" {
				// they were silently ignored: name the files they work on
				return usageError{fmt.Errorf("%s: only for inspect FILE.parquet; the Parquet files of stage %s are %s", fl, args[1], parquetFiles(a))}
			}
			return showArtifact(out, a, pathOnly, asJSON)
		},
	}
	f := c.Flags()
	f.BoolVar(&schema, "schema", false, "print only the schema (FILE.parquet)")
	f.BoolVar(&meta, "meta", false, "print only the key-value metadata (FILE.parquet)")
	f.IntVar(&head, "head", 0, "print the first N rows (FILE.parquet)")
	f.BoolVar(&asJSON, "json", false, "machine-readable output")
	f.BoolVar(&pathOnly, "path", false, "print only the artifact directory (WORKFLOW.yaml STAGE)")
	f.StringArrayVar(&sets, "set", nil, "`STAGE.PARAM=VALUE` param override, as run --set")
	f.StringVar(&run, "run", "latest", "run id (prefix) whose artifact to show, when no --set is given")
	c.ValidArgsFunction = completeStageArg(false)
	registerStageCompletion(c)
	return c
}

// showArtifact prints an artifact: its directory (--path), its path and
// manifest as JSON (--json; with --path, only the path), or its manifest.
func showArtifact(out io.Writer, a *pipeline.Artifact, pathOnly, asJSON bool) error {
	if pathOnly && asJSON { // valid JSON, as --json promises (it printed the bare path)
		return json.NewEncoder(out).Encode(struct {
			Path string `json:"path"`
		}{a.Dir})
	}
	if pathOnly {
		fmt.Fprintln(out, a.Dir)
		return nil
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Path     string             `json:"path"`
			Manifest *pipeline.Manifest `json:"manifest"`
		}{a.Dir, a.Manifest})
	}
	printManifest(out, a)
	return nil
}

// isArtifactDir reports whether p is a directory with a manifest.json: an
// artifact of the cache (or a sealed work directory).
func isArtifactDir(p string) bool {
	st, err := os.Stat(filepath.Join(p, "manifest.json"))
	return err == nil && st.Mode().IsRegular()
}

// changedFlags returns the flags among names given on the command line,
// as "--a, --b", or "".
func changedFlags(cmd *cobra.Command, names ...string) string {
	var on []string
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			on = append(on, "--"+n)
		}
	}
	return strings.Join(on, ", ")
}

// parquetFiles lists an artifact's Parquet files (at most 3, with their
// full paths) for a hint.
func parquetFiles(a *pipeline.Artifact) string {
	var ps []string
	for _, f := range a.Manifest.Files {
		if strings.HasSuffix(f.Path, ".parquet") {
			ps = append(ps, a.Path(f.Path))
		}
	}
	if len(ps) == 0 {
		return "none (it has no Parquet file)"
	}
	return abbreviate(ps, 3)
}

// runFlag returns the value of a command's --run flag, or "" when it was
// not given.
func runFlag(cmd *cobra.Command, run string) string {
	if !cmd.Flags().Changed("run") {
		return ""
	}
	return run
}

// stageArtifact finds a stage's artifact: by the key computed with the
// overrides when --set is given, from run when it is not "", otherwise from
// the latest run if it has the artifact and by the current key if not. A run
// id that names no run, or several, is a usage error.
func stageArtifact(ctx context.Context, w *pipeline.Workflow, stage string, sets []string, run string) (*pipeline.Artifact, error) {
	n, ok := w.Stage(stage)
	if !ok && slices.Contains(w.Dropped, stage) {
		// it is in the file: do not say it is not
		return nil, usageError{fmt.Errorf("stage %s is not needed with these params (every stage that needs it reads a local source), so it has no artifact here", stage)}
	}
	if !ok {
		return nil, usageError{fmt.Errorf("workflow %s has no stage %q%s (stages: %s)", w.File, stage, pipeline.DidYouMean(stage, w.StageIDs()), strings.Join(w.StageIDs(), ", "))}
	}
	if run != "" && len(sets) > 0 {
		return nil, usageError{errors.New("--run and --set cannot be combined: with --set the artifact is the one at the key run would compute now")}
	}
	key := ""
	switch {
	case run != "":
		rec, err := findRun(w, run)
		if err != nil {
			return nil, err
		}
		s, ok := rec.Stage(stage)
		if !ok {
			return nil, fmt.Errorf("run %s has no record of stage %s", rec.ID, stage)
		}
		if s.Key == "" || (s.Status != pipeline.RunRan && s.Status != pipeline.RunCached) {
			return nil, fmt.Errorf("stage %s has no artifact in run %s (%s)", stage, rec.ID, s.Status)
		}
		key = s.Key
	case len(sets) == 0:
		rec, err := pipeline.FindRun(w.Workdir, w.Name, "latest")
		if err == nil {
			if s, ok := rec.Stage(stage); ok && (s.Status == pipeline.RunRan || s.Status == pipeline.RunCached) {
				key = s.Key
			}
		}
	}
	if key == "" {
		states, err := workflowStates(ctx, w)
		if err != nil {
			return nil, err
		}
		for _, s := range states {
			if s.Stage == stage {
				if s.Status != pipeline.StatusCached {
					return nil, fmt.Errorf("stage %s has no artifact for the current params (%s%s); run it first", stage, s.Status, reasonSuffix(s.Reason))
				}
				key = s.Key
			}
		}
	}
	a, err := pipeline.OpenArtifact(pipeline.ArtifactDir(w.Workdir, n.Kind, key))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the artifact of stage %s (key %s) is gone; run the workflow again", stage, pipeline.ShortKey(key))
		}
		return nil, err
	}
	return a, nil
}

// isParquetFile reports whether an inspect argument names a Parquet file:
// by its extension, or by the "PAR1" magic its content starts with.
func isParquetFile(p string) bool {
	if strings.EqualFold(filepath.Ext(p), ".parquet") {
		return true
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == "PAR1"
}

// isWorkflowFile reports whether an inspect argument names a workflow file
// rather than a Parquet file.
func isWorkflowFile(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

func printManifest(out io.Writer, a *pipeline.Artifact) {
	m := a.Manifest
	fmt.Fprintf(out, "stage:    %s (%s, version %s)\n", m.Stage, m.Kind, m.Version)
	fmt.Fprintf(out, "key:      %s\n", m.Key)
	fmt.Fprintf(out, "path:     %s\n", a.Dir)
	fmt.Fprintf(out, "ran:      %s, %s\n", m.Start.Format("2006-01-02 15:04:05"), fmtDuration(m.Seconds))
	if m.Summary != "" {
		fmt.Fprintf(out, "summary:  %s\n", m.Summary)
	}
	for _, in := range m.Inputs {
		fmt.Fprintf(out, "input:    %s (%s) %s\n", in.Stage, in.Kind, pipeline.ShortKey(in.Key))
	}
	for _, e := range m.External {
		fmt.Fprintf(out, "external: %s = %s (sha256 %s)\n", e.Param, e.Source, pipeline.ShortKey(e.Digest))
	}
	fmt.Fprintln(out, "params:")
	keys := sortedKeys(m.Params)
	w := keyWidth(keys)
	for _, k := range keys {
		b, _ := json.Marshal(m.Params[k])
		fmt.Fprintf(out, "  %-*s %s\n", w, k, b)
	}
	if len(m.Tables) > 0 {
		fmt.Fprintln(out, "tables:")
		for _, t := range m.Tables {
			fmt.Fprintf(out, "  %-18s %d rows in %d file(s): %s\n", t.Name, t.Rows, len(t.Files), abbreviate(t.Files, 3))
		}
	}
	if len(m.Metrics) > 0 {
		fmt.Fprintln(out, "metrics:")
		printMetricsBlock(out, m.Metrics)
	}
	if len(m.Info) > 0 {
		fmt.Fprintln(out, "info:")
		keys := sortedKeys(m.Info)
		w := keyWidth(keys)
		for _, k := range keys {
			b, _ := json.Marshal(m.Info[k])
			s := string(b)
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			fmt.Fprintf(out, "  %-*s %s\n", w, k, s)
		}
	}
	var total int64
	for _, f := range m.Files {
		total += f.Size
	}
	fmt.Fprintf(out, "files:    %d, %.1f MB\n", len(m.Files), float64(total)/1e6)
	for i, f := range m.Files {
		if i == 20 {
			fmt.Fprintf(out, "  … %d more\n", len(m.Files)-20)
			break
		}
		fmt.Fprintf(out, "  %-40s %10d  %s\n", f.Path, f.Size, pipeline.ShortKey(f.SHA256))
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// keyWidth is the width of a column of keys: the longest, at least 16 (a
// fixed 16 let max_fail_fraction and extension_mismatch push their values
// out of line).
func keyWidth(keys []string) int {
	w := 16
	for _, k := range keys {
		w = max(w, len(k))
	}
	return w
}

func abbreviate(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(", … (%d more)", len(xs)-n)
}

// dirHint says what inspect takes, for a directory that is not an
// artifact, with an example from the directory itself: an artifact
// directory under it (a kind's cache directory), else its first Parquet
// file in path order (a work directory, a table's shard directory).
func dirHint(dir string) string {
	const takes = "inspect takes one Parquet file or an artifact directory (with a manifest.json)"
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if p := filepath.Join(dir, e.Name()); e.IsDir() && isArtifactDir(p) {
				return takes + "; it holds artifact directories such as " + p
			}
		}
	}
	found, seen, gaveUp := "", 0, false
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if seen++; err != nil || seen > 10000 { // unreadable, or a huge tree: say nothing of it
			gaveUp = true
			return filepath.SkipAll
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".parquet") {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	switch {
	case found == "" && gaveUp:
		return takes
	case found == "":
		return takes + ", and it holds no Parquet file"
	}
	return "inspect takes one Parquet file (such as " + found + ") or an artifact directory (with a manifest.json)"
}

func inspectParquet(out io.Writer, path string, schemaOnly, metaOnly bool, head int, asJSON bool) error {
	if st, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return usageError{err} // a missing file on the command line, as for a workflow file
	} else if err == nil && st.IsDir() {
		return usageError{fmt.Errorf("%s is a directory: %s", path, dirHint(path))}
	}
	info, err := pqinspect.Describe(path)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		switch {
		case schemaOnly:
			return enc.Encode(struct {
				Path    string   `json:"path"`
				Schema  string   `json:"schema"`
				Columns []string `json:"columns"`
			}{info.Path, info.Schema, info.Columns})
		case metaOnly:
			return enc.Encode(info.Meta)
		}
		return inspectParquetJSON(out, info, head)
	}
	switch {
	case schemaOnly:
		fmt.Fprintln(out, info.Schema)
		return nil
	case metaOnly:
		for _, k := range sortedKeysS(info.Meta) {
			// whole, but escaped as everywhere in inspect: a file's
			// metadata must not send escape sequences to the terminal or
			// break the key = value lines (--json gives the raw values)
			fmt.Fprintf(out, "%s = %s\n", cellText(k), cellText(info.Meta[k]))
		}
		return nil
	}
	fmt.Fprintf(out, "file:       %s\n", info.Path)
	fmt.Fprintf(out, "size:       %.2f MB\n", float64(info.Size)/1e6)
	fmt.Fprintf(out, "rows:       %d\n", info.Rows)
	fmt.Fprintf(out, "created by: %s\n", info.CreatedBy)
	fmt.Fprintln(out, "metadata:")
	for _, k := range sortedKeysS(info.Meta) {
		fmt.Fprintf(out, "  %s = %s\n", cellText(k), cellText(cutMeta(info.Meta[k])))
	}
	fmt.Fprintf(out, "row groups: %d\n", len(info.RowGroups))
	for i, rg := range info.RowGroups {
		if i == 10 {
			fmt.Fprintf(out, "  … %d more\n", len(info.RowGroups)-10)
			break
		}
		fmt.Fprintf(out, "  #%d: %d rows, %.2f MB compressed / %.2f MB raw\n", i, rg.Rows, float64(rg.Compressed)/1e6, float64(rg.Uncompressed)/1e6)
		for _, c := range rg.Columns {
			path := cellText(c.Path) // a column name holding control characters or other bytes than UTF-8
			fmt.Fprintf(out, "      %s%s %-6s %10d / %10d bytes\n", path, strings.Repeat(" ", max(0, 24-cellWidth(path))), c.Codec, c.Compressed, c.Uncompressed)
		}
	}
	fmt.Fprintln(out, "schema:")
	fmt.Fprintln(out, indent(info.Schema, "  "))
	if head <= 0 || info.Rows == 0 {
		return nil
	}
	// Rows are printed as they are read: --head with a large N streams.
	fmt.Fprintf(out, "first %d rows:\n", min(int64(head), info.Rows))
	keys := pqinspect.Keys(info.Columns) // a repeated column name shows as name#2
	return pqinspect.Rows(path, head, 8, func(r map[string]any) error {
		var parts []string
		for _, k := range keys {
			parts = append(parts, cellText(k)+"="+plainJSON(r[k]))
		}
		_, err := fmt.Fprintf(out, "  %s\n", strings.Join(parts, " "))
		return err
	})
}

// inspectParquetJSON writes the description as one JSON object; with
// head > 0 its "head" array is written row by row as the rows are read.
// When reading fails after the first row, the array is closed and an
// "error" field holds the error, which is also returned: the output is
// valid JSON either way. An error before the first row writes nothing.
func inspectParquetJSON(out io.Writer, info *pqinspect.Info, head int) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", info.Path, err)
	}
	if head <= 0 {
		_, err := fmt.Fprintf(out, "%s\n", b)
		return err
	}
	b = bytes.TrimSuffix(bytes.TrimRight(b, "\n"), []byte("}"))
	b = bytes.TrimRight(b, "\n")
	// The description is written with the first row, so that an error before
	// any row (a codec rows cannot be read with) leaves no partial JSON.
	started := false
	start := func() error {
		started = true
		_, err := fmt.Fprintf(out, "%s,\n  \"head\": [", b)
		return err
	}
	sep := "\n    "
	err = pqinspect.Rows(info.Path, head, 8, func(r map[string]any) error {
		rb, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("%s: %w", info.Path, err)
		}
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		_, err = fmt.Fprintf(out, "%s%s", sep, rb)
		sep = ",\n    "
		return err
	})
	if err != nil && !started {
		return err
	}
	if !started {
		if err := start(); err != nil {
			return err
		}
	}
	if err != nil {
		// Reading failed after the first row: close the array and say why,
		// so stdout stays valid JSON (the error still ends the command).
		eb, _ := json.Marshal(err.Error())
		if _, werr := fmt.Fprintf(out, "\n  ],\n  \"error\": %s\n}\n", eb); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	_, err = fmt.Fprint(out, "\n  ]\n}\n")
	return err
}

// maxMetaText is how much of a key-value metadata value the description
// shows: Arrow's ARROW:schema (base64) and pandas' column JSON run to
// kilobytes and buried the rest. --meta shows values whole.
const maxMetaText = 200

func cutMeta(v string) string {
	if len(v) <= maxMetaText {
		return v
	}
	k := maxMetaText
	for k > 0 && !utf8.RuneStart(v[k]) {
		k--
	}
	return fmt.Sprintf("%s… (%d bytes; --meta shows it whole)", v[:k], len(v))
}

func sortedKeysS(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func indent(s, pre string) string { return pre + strings.ReplaceAll(s, "\n", "\n"+pre) }

// plainJSON encodes v as JSON without HTML escaping (tokens like <pad> stay readable).
func plainJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}
