package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"coderflow/internal/termprogress"
	"coderflow/pipeline"
)

func newRunCmd(g *globalFlags) *cobra.Command {
	var opt pipeline.RunOptions
	var sets []string
	var noProgress bool
	c := &cobra.Command{
		Use:   "run WORKFLOW.yaml",
		Short: "Run the stages of a workflow that are not cached",
		Long: `Run computes every stage's cache key and runs the stages whose artifact is
not in the cache, in dependency order, independent stages in parallel.

  --only S     run just S (its inputs and their ancestors must be cached)
  --from S     rerun S and everything downstream of it
  --until S    run S and what it needs, nothing after it
  --force S    rerun S even if cached
  --set S.P=V  override param P of stage S (or params.NAME=V for a workflow param)`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opt.Jobs < 0 {
				return usageError{fmt.Errorf("--jobs %d: want 1 or more (0: the number of CPUs)", opt.Jobs)}
			}
			w, err := loadWorkflow(g, args[0], sets)
			if err != nil {
				return err
			}
			opt.Sets = sets
			stderr := cmd.ErrOrStderr()
			var bars *termprogress.Bars
			restoreNotices := func() {}
			if f, ok := stderr.(*os.File); ok && !noProgress && !opt.DryRun && drawable(f) {
				bars = termprogress.New(f)
				stderr = bars.Writer()
				opt.Progress = bars
				if n := noticesFrom(cmd.Context()); n != nil {
					restoreNotices = n.redirect(bars.Writer())
				}
			}
			opt.Log = newLogger(g, stderr)
			start := time.Now()
			res, err := pipeline.Run(cmd.Context(), w, opt)
			restoreNotices()
			if bars != nil {
				bars.Wait()
			}
			if res == nil {
				var se *pipeline.SpecError
				if errors.Is(err, pipeline.ErrUnknownStage) || errors.Is(err, pipeline.ErrNotCached) || errors.Is(err, pipeline.ErrBadOptions) || errors.As(err, &se) {
					return usageError{err}
				}
				if cmd.Context().Err() != nil {
					return fmt.Errorf("interrupted (%v) before any stage ran", context.Cause(cmd.Context()))
				}
				return err
			}
			out := cmd.OutOrStdout()
			if opt.DryRun {
				printPlan(out, w, res)
				return nil
			}
			printRunTable(out, res)
			printDropped(out, w)
			fmt.Fprintf(out, "\nrun %s: %s in %s (record: %s)\n", res.Record.ID, res.Record.Status, fmtDuration(time.Since(start).Seconds()), res.RecordPath)
			printHighlights(out, res)
			if err != nil && res.Record.Status == pipeline.RunCanceled && cmd.Context().Err() != nil {
				// not "stage failed: ... context canceled": say what happened
				// and what the next run does
				return fmt.Errorf("interrupted (%v): finished stages and committed shards are kept; run the same command again to resume", context.Cause(cmd.Context()))
			}
			if err != nil {
				// a failed download (offline machine, dead link): say how
				// to run from a local copy instead
				if hint := offlineHint(w, sets, res.Record); hint != "" {
					return fmt.Errorf("%w\n%s", err, hint)
				}
			}
			return err
		},
	}
	f := c.Flags()
	f.StringArrayVar(&opt.Only, "only", nil, "run only this stage (repeatable)")
	f.StringVar(&opt.From, "from", "", "rerun this stage and everything downstream")
	f.StringVar(&opt.Until, "until", "", "run this stage and its ancestors only")
	f.StringArrayVar(&opt.Force, "force", nil, "rerun this stage even if cached (repeatable)")
	f.StringArrayVar(&sets, "set", nil, "override a param: `STAGE.PARAM=VALUE` or params.NAME=VALUE (repeatable)")
	f.IntVarP(&opt.Jobs, "jobs", "j", 0, "stages run in parallel (default: number of CPUs)")
	f.BoolVar(&opt.DryRun, "dry-run", false, "show what would run, run nothing")
	f.DurationVar(&opt.LockTimeout, "lock-timeout", 30*time.Minute, "how long to wait for another run on the same workdir (0: fail at once, negative: wait forever)")
	f.BoolVar(&noProgress, "no-progress", false, "plain log lines even on a terminal")
	registerStageCompletion(c, "only", "from", "until", "force")
	return c
}

func printPlan(out io.Writer, w *pipeline.Workflow, res *pipeline.Result) {
	var rows [][]string
	for _, s := range res.States {
		what := res.Plan[s.Stage]
		reason := s.Reason
		if what == pipeline.PlanRun && s.Status == pipeline.StatusCached {
			reason = "forced"
		}
		rows = append(rows, []string{s.Stage, s.Kind, what, s.Status, pipeline.ShortKey(s.Key), reason})
	}
	table(out, []string{"STAGE", "KIND", "PLAN", "CACHE", "KEY", "REASON"}, rows)
	printDropped(out, w)
	fmt.Fprintf(out, "\ndry run of %s: nothing was run (workdir %s)\n", w.File, w.Workdir)
}

func printRunTable(out io.Writer, res *pipeline.Result) {
	var rows [][]string
	for _, s := range res.Record.Stages {
		dur := ""
		if s.Status == pipeline.RunRan || s.Status == pipeline.RunFailed || s.Status == pipeline.RunCanceled {
			dur = fmtDuration(s.Seconds)
		}
		note := s.Summary
		if s.Error != "" {
			note = firstLine(s.Error)
		}
		rows = append(rows, []string{s.Stage, s.Status, dur, pipeline.ShortKey(s.Key), note})
	}
	table(out, []string{"STAGE", "STATUS", "DURATION", "KEY", "SUMMARY"}, rows)
}

// printHighlights prints evaluation metrics and report paths when the
// workflow has them, so the end of a demo run shows the result.
func printHighlights(out io.Writer, res *pipeline.Result) {
	for _, s := range res.Record.Stages {
		a := res.Artifacts[s.Stage]
		if a == nil {
			continue
		}
		if len(s.Metrics) > 0 && (strings.Contains(s.Kind, "evaluate")) {
			fmt.Fprintf(out, "\n%s (%s):\n", s.Stage, s.Kind)
			printMetricsBlock(out, s.Metrics)
		}
		for _, f := range a.Manifest.Files {
			if strings.HasSuffix(f.Path, ".html") {
				fmt.Fprintf(out, "\nreport: %s\n", a.Path(f.Path))
			}
		}
	}
}

// printMetricsBlock prints metrics as the metrics command does (fmtMetric):
// a count in full, not as 0.00, and the same digits as metrics shows.
func printMetricsBlock(out io.Writer, m map[string]float64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var rows [][]string
	for _, k := range keys {
		rows = append(rows, []string{"  " + k, fmtMetric(m[k], false)})
	}
	table(out, []string{"  METRIC", "VALUE"}, rows)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
