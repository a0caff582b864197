package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"coderflow/pipeline"
)

func newMetricsCmd(g *globalFlags) *cobra.Command {
	var asJSON bool
	var diff []string
	var run string
	var all bool
	var sets []string
	c := &cobra.Command{
		Use:   "metrics WORKFLOW.yaml [--diff RUN_A RUN_B]",
		Short: "Show the metrics of the latest run, or compare two runs",
		Long: `metrics prints every metric the stages of a run recorded (training losses,
Recall@K, rSum, ...). --diff RUN_A RUN_B (or RUN_A,RUN_B) shows the params that differ between
the two runs and the metric deltas, like dvc metrics diff. Run ids may be
prefixes, "latest" or "latest~N" (N runs before the latest); --runs lists them.`,
		Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 { // --diff RUN_A RUN_B: RUN_B is a positional argument
				if len(diff) != 1 {
					return usageError{fmt.Errorf("unexpected argument %q (metrics takes one workflow file)", args[1])}
				}
				diff = append(diff, args[1])
			}
			w, err := loadWorkflow(g, args[0], sets)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(sets) > 0 {
				// the metrics at the keys the overrides give: not a run's
				if fl := changedFlags(cmd, "run", "runs", "diff"); fl != "" {
					return usageError{fmt.Errorf("--set and %s cannot be combined: with --set the metrics are those of the artifacts at the keys run would compute now, not a recorded run's", fl)}
				}
				return metricsForKeys(cmd, w, asJSON)
			}
			if all {
				recs, err := pipeline.ListRuns(w.Workdir, w.Name)
				var bad *pipeline.UnreadableRunsError
				if errors.As(err, &bad) {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err)
				} else if err != nil {
					return err
				}
				if asJSON {
					return printRunsJSON(out, recs, bad)
				}
				var rows [][]string
				for _, r := range recs {
					dur := "-"
					if sec, ok := runSeconds(r); ok {
						dur = fmtDuration(sec)
					}
					rows = append(rows, []string{r.ID, r.Status, fmt.Sprint(r.Sets), selection(r), dur})
				}
				table(out, []string{"RUN", "STATUS", "SETS", "SELECTION", "DURATION"}, rows)
				return nil
			}
			if len(diff) > 0 {
				if len(diff) != 2 {
					return usageError{errors.New("--diff takes two run ids")}
				}
				a, err := findRun(w, diff[0])
				if err != nil {
					return err
				}
				b, err := findRun(w, diff[1])
				if err != nil {
					return err
				}
				d := pipeline.DiffRuns(a, b)
				if asJSON {
					return json.NewEncoder(out).Encode(d)
				}
				fmt.Fprintf(out, "A = %s\nB = %s\n\n", a.ID, b.ID)
				if len(d.Params) > 0 {
					var rows [][]string
					for _, p := range d.Params {
						rows = append(rows, []string{p.Stage, p.Param, jsonText(p.A), jsonText(p.B)})
					}
					table(out, []string{"STAGE", "PARAM", "A", "B"}, rows)
					fmt.Fprintln(out)
				} else {
					fmt.Fprintln(out, "no param differs")
				}
				var rows [][]string
				for _, m := range d.Metrics {
					rows = append(rows, []string{m.Stage, m.Metric, optF(m.A, m.HasA), optF(m.B, m.HasB), deltaF(m)})
				}
				table(out, []string{"STAGE", "METRIC", "A", "B", "DELTA"}, rows)
				return nil
			}
			rec, err := findRun(w, run)
			if err != nil {
				return err
			}
			if asJSON {
				m := map[string]map[string]float64{}
				for _, s := range rec.Stages {
					if len(s.Metrics) > 0 {
						m[s.Stage] = s.Metrics
					}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"run": rec.ID, "metrics": m})
			}
			fmt.Fprintf(out, "run %s (%s)\n", rec.ID, rec.Status)
			var rows [][]string
			for _, s := range rec.Stages {
				keys := make([]string, 0, len(s.Metrics))
				for k := range s.Metrics {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					rows = append(rows, []string{s.Stage, k, fmtMetric(s.Metrics[k], false)})
				}
			}
			table(out, []string{"STAGE", "METRIC", "VALUE"}, rows)
			if !cmd.Flags().Changed("run") && rec.Status != "ok" {
				// after a Ctrl-C the latest run shows little more than the
				// cached stages: say where the last finished run's are
				if okRec := latestOKRun(w); okRec != nil {
					status := rec.Status
					if status == pipeline.RunRunning {
						// the next run marks a killed run's record killed
						status = "running (or was killed)"
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "note: the latest run is %s; the latest that finished is %s: coderflow metrics %s --run %s\n",
						status, okRec.ID, args[0], okRec.ID)
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	c.Flags().StringSliceVar(&diff, "diff", nil, "compare two runs: --diff RUN_A,RUN_B or --diff A --diff B")
	c.Flags().StringVar(&run, "run", "latest", "run id (prefix)")
	c.Flags().BoolVar(&all, "runs", false, "list the runs of the workflow")
	c.Flags().StringArrayVar(&sets, "set", nil, "`STAGE.PARAM=VALUE`: show the metrics of the artifacts at the keys these overrides give, as run --set computes them")
	registerStageCompletion(c)
	return c
}

// findRun resolves a run id given on the command line. An id that names no
// run, or a prefix of several, is a usage error (exit 2); failing to read the
// runs directory is not.
func findRun(w *pipeline.Workflow, id string) (*pipeline.RunRecord, error) {
	r, err := pipeline.FindRun(w.Workdir, w.Name, id)
	if err == nil {
		return r, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		msg := fmt.Sprintf("no run %q of workflow %s in %s (list them with metrics --runs)", id, w.Name, w.Workdir)
		if err != os.ErrNotExist { // it names unreadable records
			msg += ": " + err.Error()
		}
		return nil, usageError{errors.New(msg)}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, err
	}
	var amb *pipeline.AmbiguousRunError
	if errors.As(err, &amb) {
		return nil, usageError{fmt.Errorf("run id prefix %q is ambiguous: it matches %s", id, abbreviate(amb.Matches, 5))}
	}
	return nil, usageError{err}
}

// latestOKRun returns the newest run record of w whose run finished
// ("ok"), or nil.
func latestOKRun(w *pipeline.Workflow) *pipeline.RunRecord {
	recs, _ := pipeline.ListRuns(w.Workdir, w.Name) // unreadable records: the others are returned
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Status == "ok" {
			return recs[i]
		}
	}
	return nil
}

// runSeconds returns how long a run took, and false when its record has no
// end (a run going on or killed) or an end before its start.
func runSeconds(r *pipeline.RunRecord) (float64, bool) {
	if r.Start.IsZero() || r.End.IsZero() || r.End.Before(r.Start) {
		return 0, false
	}
	return r.End.Sub(r.Start).Seconds(), true
}

// selection is the stage selection a run was started with, as its flags
// ("--only tokens --force features"), or "-" for the whole workflow: a run
// of one stage is told apart from a run of all in metrics --runs.
func selection(r *pipeline.RunRecord) string {
	var f []string
	for _, s := range r.Only {
		f = append(f, "--only "+s)
	}
	if r.From != "" {
		f = append(f, "--from "+r.From)
	}
	if r.Until != "" {
		f = append(f, "--until "+r.Until)
	}
	for _, s := range r.Force {
		f = append(f, "--force "+s)
	}
	if len(f) == 0 {
		return "-"
	}
	return strings.Join(f, " ")
}

// runSummary is one run in metrics --runs --json.
type runSummary struct {
	ID      string     `json:"id"`
	Status  string     `json:"status"`
	Sets    []string   `json:"sets"`
	Only    []string   `json:"only,omitempty"` // the stage selection, as in the run record
	From    string     `json:"from,omitempty"`
	Until   string     `json:"until,omitempty"`
	Force   []string   `json:"force,omitempty"`
	Start   time.Time  `json:"start"`
	End     *time.Time `json:"end"`     // null while running or when killed
	Seconds *float64   `json:"seconds"` // null when End is; includes LockWaitMS
	// LockWaitMS is how long the run waited for another run's workdir lock.
	LockWaitMS int64  `json:"lock_wait_ms,omitempty"`
	Error      string `json:"error,omitempty"`
}

func printRunsJSON(out io.Writer, recs []*pipeline.RunRecord, bad *pipeline.UnreadableRunsError) error {
	runs := make([]runSummary, 0, len(recs))
	for _, r := range recs {
		s := runSummary{ID: r.ID, Status: r.Status, Sets: r.Sets, Only: r.Only, From: r.From, Until: r.Until, Force: r.Force, Start: r.Start, LockWaitMS: r.LockWaitMS, Error: r.Error}
		if s.Sets == nil {
			s.Sets = []string{}
		}
		if sec, ok := runSeconds(r); ok {
			end := r.End
			s.End, s.Seconds = &end, &sec
		}
		runs = append(runs, s)
	}
	v := struct {
		Runs       []runSummary `json:"runs"`
		Unreadable []string     `json:"unreadable,omitempty"`
	}{Runs: runs}
	if bad != nil {
		v.Unreadable = bad.Files
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

func optF(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmtMetric(v, false)
}

func deltaF(m pipeline.MetricDiff) string {
	if !m.HasA || !m.HasB {
		return "-"
	}
	return fmtMetric(m.B-m.A, true)
}

// fmtMetric formats a metric for a table: a whole number (a count of
// images, captions, edges) in full, since %.4g turned 616435 captions into
// 6.164e+05 and hid a difference of one between two runs; other values to
// 4 significant digits.
func fmtMetric(v float64, sign bool) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		if sign {
			return fmt.Sprintf("%+d", int64(v))
		}
		return fmt.Sprintf("%d", int64(v))
	}
	if sign {
		return fmt.Sprintf("%+.4g", v)
	}
	return fmt.Sprintf("%.4g", v)
}

// metricsForKeys prints the metrics recorded in the manifests of the
// artifacts at the workflow's current keys (with --set overrides applied).
func metricsForKeys(cmd *cobra.Command, w *pipeline.Workflow, asJSON bool) error {
	states, err := workflowStates(cmd.Context(), w)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	m := map[string]map[string]float64{}
	var rows [][]string
	for _, s := range states {
		if s.Status != pipeline.StatusCached {
			rows = append(rows, []string{s.Stage, "(" + s.Status + ")", ""})
			continue
		}
		if len(s.Manifest.Metrics) > 0 {
			m[s.Stage] = s.Manifest.Metrics
		}
		keys := make([]string, 0, len(s.Manifest.Metrics))
		for k := range s.Manifest.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rows = append(rows, []string{s.Stage, k, fmtMetric(s.Manifest.Metrics[k], false)})
		}
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"metrics": m})
	}
	table(out, []string{"STAGE", "METRIC", "VALUE"}, rows)
	return nil
}
