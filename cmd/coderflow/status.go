package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"coderflow/pipeline"
)

func newStatusCmd(g *globalFlags) *cobra.Command {
	var sets []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "status WORKFLOW.yaml",
		Short: "Show per stage: cached, stale (and why) or missing",
		Long: `status computes every stage's cache key as run would (with the --set
overrides) and prints per stage:

  cached   its artifact is in the cache, intact: run skips it (unless --force
           or --from selects it)
  stale    it is not, and the stage's latest run had another key: REASON says
           which param, input, file or stage version changed (or what is
           damaged in the artifact)
  missing  it has not run with this key, or its artifact was deleted since
           (REASON says so)

A stage that an interrupted run left finished shards of says so: the next
run resumes from them. Download stages that a local source makes
unnecessary are listed as not needed. status only reads: it takes no lock
and writes nothing.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := loadWorkflow(g, args[0], sets)
			if err != nil {
				return err
			}
			states, err := workflowStates(cmd.Context(), w)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(w.WithDropped(states)) // not-needed stages too, as the table lists them
			}
			var rows [][]string
			for _, s := range states {
				rows = append(rows, []string{s.Stage, s.Kind, s.Status, pipeline.ShortKey(s.Key), s.Reason})
			}
			table(out, []string{"STAGE", "KIND", "STATUS", "KEY", "REASON"}, rows)
			printDropped(out, w)
			return nil
		},
	}
	c.Flags().StringArrayVar(&sets, "set", nil, "evaluate with a `STAGE.PARAM=VALUE` param override, as run --set would")
	c.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	registerStageCompletion(c)
	return c
}

func newDagCmd(g *globalFlags) *cobra.Command {
	var format string
	var sets []string
	c := &cobra.Command{
		Use:   "dag WORKFLOW.yaml",
		Short: "Print the stage graph as text, Graphviz dot or Mermaid",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := loadWorkflow(g, args[0], sets)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch strings.ToLower(format) {
			case "text":
				tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
				for _, n := range w.Stages {
					deps := "(no inputs)"
					if ins := inputIDs(n); len(ins) > 0 {
						deps = "<- " + strings.Join(ins, ", ")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", n.ID, n.Kind, deps)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if len(w.Dropped) > 0 {
					fmt.Fprintf(out, "(not needed with these params: %s)\n", strings.Join(w.Dropped, ", "))
				}
			case "dot":
				fmt.Fprintf(out, "digraph %q {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n", w.Name)
				for _, n := range w.Stages {
					fmt.Fprintf(out, "  %q [label=\"%s\\n%s\"];\n", n.ID, n.ID, n.Kind)
				}
				for _, n := range w.Stages {
					for _, in := range inputIDs(n) {
						fmt.Fprintf(out, "  %q -> %q;\n", in, n.ID)
					}
				}
				fmt.Fprintln(out, "}")
			case "mermaid":
				fmt.Fprintln(out, "flowchart LR")
				for _, n := range w.Stages {
					fmt.Fprintf(out, "  %s[\"%s<br/><small>%s</small>\"]\n", mermaidID(n.ID), n.ID, n.Kind)
				}
				for _, n := range w.Stages {
					for _, in := range inputIDs(n) {
						fmt.Fprintf(out, "  %s --> %s\n", mermaidID(in), mermaidID(n.ID))
					}
				}
			default:
				return usageError{fmt.Errorf("--format %q: want text, dot or mermaid", format)}
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "text", "text, dot or mermaid")
	c.Flags().StringArrayVar(&sets, "set", nil, "`STAGE.PARAM=VALUE` param override, as run --set (a local source drops the download stages it replaces)")
	_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "dot", "mermaid"}, cobra.ShellCompDirectiveNoFileComp))
	registerStageCompletion(c)
	return c
}

// inputIDs are the stages n reads from with the workflow's params (needs
// less the stages a local source made unnecessary).
func inputIDs(n *pipeline.Node) []string {
	var ids []string
	for _, in := range n.Inputs {
		ids = append(ids, in.ID)
	}
	return ids
}

// mermaidID turns a stage id into a Mermaid node id. Mermaid ids are
// letters, digits and '_', so '_' is escaped as "__", '-' as "_h", '.' as
// "_d" and any other byte as "_xHH": distinct stage ids (a-b, a_b, a.b) give
// distinct node ids. The node's label shows the stage id as written.
func mermaidID(s string) string {
	var b strings.Builder
	b.WriteString("s_")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			b.WriteString("__")
		case c == '-':
			b.WriteString("_h")
		case c == '.':
			b.WriteString("_d")
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "_x%02x", c)
		}
	}
	return b.String()
}

func newStagesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stages [KIND]",
		Short: "List registered stage kinds with their params and docs",
		Args:  rangeArgs(0, 1),
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return pipeline.Default.Kinds(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			kinds := pipeline.Default.Kinds()
			if len(args) == 1 {
				if _, ok := pipeline.Default.Lookup(args[0]); !ok {
					return usageError{fmt.Errorf("unknown stage kind %q%s (coderflow stages lists them)", args[0], pipeline.DidYouMean(args[0], kinds))}
				}
				kinds = args
			}
			for i, k := range kinds {
				s, _ := pipeline.Default.Lookup(k)
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "%s (version %s)\n", s.Kind, s.Version)
				if s.Doc != "" {
					fmt.Fprintf(out, "  %s\n", wrap(s.Doc, 78, "  "))
				}
				if len(s.Produces) > 0 {
					fmt.Fprintf(out, "  produces: %s\n", strings.Join(s.Produces, ", "))
				}
				params := append([]pipeline.Param(nil), s.Params...)
				sort.SliceStable(params, func(i, j int) bool { return params[i].Name < params[j].Name })
				// columns as wide as this kind's longest name and type
				// (max_missing_fraction, list of strings), at least 16 and 8
				nameW, typeW := 16, 8
				for _, p := range params {
					nameW = max(nameW, len(p.Name))
					typeW = max(typeW, len(p.Type.String()))
				}
				for _, p := range params {
					def := "required"
					switch {
					case p.Default != nil:
						def = "default " + fmtDefault(p.Default)
					case p.Optional:
						def = "optional"
					}
					extra := ""
					if len(p.Enum) > 0 {
						extra = " one of " + strings.Join(p.Enum, "|") + ";"
					}
					if p.NoCache {
						extra += " not in the cache key;"
					}
					fmt.Fprintf(out, "    %-*s %-*s %s;%s %s\n", nameW, p.Name, typeW, p.Type, def, extra, p.Doc)
				}
			}
			return nil
		},
	}
}

// fmtDefault formats a param's default as it is written in a workflow: a
// list in YAML's flow form, [train, restval] (%v printed [train restval],
// which YAML reads as one string).
func fmtDefault(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return fmt.Sprint(v)
	}
	items := make([]string, rv.Len())
	for i := range items {
		items[i] = fmt.Sprint(rv.Index(i).Interface())
	}
	return "[" + strings.Join(items, ", ") + "]"
}

func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		if i > 0 {
			if n+1+len(word) > width-len(indent) {
				b.WriteString("\n" + indent)
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the coderflow version and cache format",
		Args:  exactArgs(0),
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "coderflow %s (cache %s)\n", versionString(), pipeline.EngineSalt)
		},
	}
}

func newGCCmd(g *globalFlags) *cobra.Command {
	var dry bool
	var keepRuns int
	var lockTimeout time.Duration
	c := &cobra.Command{
		Use:   "gc WORKFLOW.yaml",
		Short: "Delete artifacts that no run record references and the workflow does not use now",
		Long: "Delete artifacts that no run record references and the workflow does not use now, and the work\n" +
			"directories of interrupted runs. Every run record protects the artifacts it used; with\n" +
			"--keep-runs N only the N newest runs of each workflow in the workdir do (the records stay,\n" +
			"so metrics --diff still compares old runs). --keep-runs 1 keeps what WORKFLOW uses now and\n" +
			"what the last run of each workflow used.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keepRuns < 0 {
				return usageError{fmt.Errorf("--keep-runs %d: want 0 (all runs) or more", keepRuns)}
			}
			w, err := loadWorkflow(g, args[0], nil)
			if err != nil {
				return err
			}
			// A dry run only reads, like status: it takes no lock (next to a
			// running job it reports what gc would delete now) and creates
			// nothing, not even the workdir.
			if !dry {
				log := newLogger(g, cmd.ErrOrStderr())
				lock, err := pipeline.AcquireLock(cmd.Context(), w.Workdir, lockTimeout, func(holder string) {
					log.Info("waiting for the workdir lock", "workdir", w.Workdir, "holder", holder)
				})
				if err != nil {
					return err
				}
				defer lock.Release()
			}
			states, err := workflowStates(cmd.Context(), w)
			if err != nil {
				return err
			}
			st, err := pipeline.GC(w.Workdir, states, pipeline.GCOptions{DryRun: dry, KeepRuns: keepRuns})
			if err != nil {
				return err
			}
			if holder, locked := pipeline.LockedBy(w.Workdir); dry && locked {
				// the running job's work directories and the artifacts it
				// has not recorded yet look unused to a dry run
				fmt.Fprintf(cmd.ErrOrStderr(), "note: a run holds the workdir lock (%s): its work directories and the artifacts it "+
					"has not recorded yet are listed below as if unused; gc without --dry-run waits for it to finish\n", holder)
			}
			if len(st.Unreadable) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: run records that cannot be read (every artifact key in their text was kept): %s\n", strings.Join(st.Unreadable, ", "))
			}
			verb := "deleted"
			if dry {
				verb = "would delete"
			}
			// one line per item, as git clean -n and rsync --dry-run list
			// theirs, then the totals
			for _, it := range st.Deleted {
				what := "artifact"
				if it.WorkDir {
					what = "work directory"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s/%s (%.1f MB): %s\n", verb, what, it.Kind, pipeline.ShortKey(it.Key), float64(it.Bytes)/1e6, it.Dir)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %d artifacts and %d work directories (%.1f MB); kept %d\n", verb, st.Artifacts, st.WorkDirs, float64(st.Bytes)/1e6, st.Kept)
			if st.WorkDirs > 0 {
				// a user who pressed Ctrl-C to resume later should know
				fmt.Fprintln(cmd.OutOrStdout(), "(a work directory holds the finished shards of an interrupted stage: without it, rerunning that stage starts it over)")
			}
			if st.StatEntries > 0 {
				drop := "dropped"
				if dry {
					drop = "would drop"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %d stat-cache entries of files that no longer exist\n", drop, st.StatEntries)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&dry, "dry-run", false, "only report; takes no lock and writes nothing")
	c.Flags().IntVar(&keepRuns, "keep-runs", 0, "let only the N newest run records of each workflow protect artifacts (0: all)")
	c.Flags().DurationVar(&lockTimeout, "lock-timeout", 30*time.Minute, "how long to wait for a run on the same workdir (0: fail at once, negative: wait forever)")
	return c
}

// workflowStates computes the stages' keys and cache states through the
// workdir's stat cache, stopping when ctx is done. A path param that names a
// missing file is a usage error (exit 2); an interrupt is not.
func workflowStates(ctx context.Context, w *pipeline.Workflow) ([]*pipeline.State, error) {
	states, err := w.StatesContext(ctx, pipeline.NewDigester(pipeline.StatCachePath(w.Workdir)))
	var se *pipeline.SpecError
	if errors.As(err, &se) {
		return nil, usageError{err}
	}
	return states, err
}

// printDropped notes stages left out because their consumers read a local source.
func printDropped(out io.Writer, w *pipeline.Workflow) {
	if len(w.Dropped) > 0 {
		fmt.Fprintf(out, "\nnot needed with these params (every stage that needs them reads a local source): %s\n", strings.Join(w.Dropped, ", "))
	}
}

// versionString is the version set at link time, else the module version
// the go command stamps (go install ...@vX, or the pseudo-version of a
// build in a git checkout: date, commit and "+dirty" for uncommitted
// changes), else "dev" with the VCS commit if one was stamped.
func versionString() string {
	v := version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		// a release version, or the pseudo-version of a build in a git
		// checkout, which names the commit (and +dirty) already
		return bi.Main.Version
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " " + rev[:min(12, len(rev))] + dirty
	}
	return v
}
