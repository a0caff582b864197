package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"coderflow/kg"
	"coderflow/pipeline"
	stageskg "coderflow/stages/kg"
)

func newKGCmd(g *globalFlags) *cobra.Command {
	var rel, run string
	var sets []string
	var asJSON bool
	var limit int
	c := &cobra.Command{
		Use:   "kg WORKFLOW.yaml STAGE neighbors TERM",
		Short: "Query the knowledge graph stored by a kg.conceptnet stage",
		Long: `kg opens the Cayley graph in the artifact of a kg.conceptnet stage and prints
the neighbours of a concept (a word or a multi-word term such as "hot dog",
quoted or not) with relation, direction and weight, heaviest first.`,
		Args: argsCheck(cobra.MinimumNArgs(4)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: want 0 (all) or more", limit)}
			}
			if args[2] != "neighbors" {
				return usageError{fmt.Errorf("unknown kg query %q (want neighbors)", args[2])}
			}
			w, err := loadWorkflow(g, args[0], sets)
			if err != nil {
				return err
			}
			if err := checkGraphStage(w, args[1]); err != nil {
				return err
			}
			a, err := stageArtifact(cmd.Context(), w, args[1], sets, runFlag(cmd, run))
			if err != nil {
				return err
			}
			st, err := kg.OpenStore(a.Dir)
			if err != nil {
				return fmt.Errorf("stage %s: %w", args[1], err)
			}
			defer st.Close()
			term := strings.Join(args[3:], " ") // neighbors hot dog: the term "hot dog"
			ns, err := st.Neighbors(cmd.Context(), term, rel)
			if err != nil {
				return err
			}
			sort.SliceStable(ns, func(i, j int) bool { return ns[i].Weight > ns[j].Weight })
			if limit > 0 && len(ns) > limit {
				ns = ns[:limit]
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if ns == nil {
					ns = []kg.Neighbor{} // an unknown term: [], not null
				}
				return json.NewEncoder(out).Encode(ns)
			}
			if len(ns) == 0 {
				concept, known, err := st.Lookup(term)
				switch {
				case err != nil:
					return err
				case !known:
					fmt.Fprintf(out, "%q is not a concept of this graph (looked up as %s)\n", term, kg.ConceptURI(concept))
				case rel != "":
					fmt.Fprintf(out, "no %s edges at %s\n", kg.NormalizeRel(rel), kg.ConceptURI(concept))
				default:
					fmt.Fprintf(out, "%s is in the graph without edges\n", kg.ConceptURI(concept))
				}
				return nil
			}
			var rows [][]string
			for _, n := range ns {
				rows = append(rows, []string{n.Rel, n.Direction, n.Concept, fmt.Sprintf("%.3g", n.Weight), n.Dataset})
			}
			table(out, []string{"REL", "DIR", "CONCEPT", "WEIGHT", "DATASET"}, rows)
			return nil
		},
	}
	c.Flags().StringVar(&rel, "rel", "", "only this relation, e.g. /r/IsA")
	c.Flags().StringArrayVar(&sets, "set", nil, "`STAGE.PARAM=VALUE` param override, as run --set")
	c.Flags().StringVar(&run, "run", "latest", "run id (prefix) whose artifact to query")
	c.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	c.Flags().IntVar(&limit, "limit", 50, "at most this many neighbours (0 = all)")
	c.ValidArgsFunction = completeStageArg(true)
	registerStageCompletion(c)
	return c
}

// graphKinds are the stage kinds whose artifact holds a concept graph
// (kg.StoreDirName) that the kg command can query.
var graphKinds = []string{stageskg.ConceptNetSpec.Kind}

// checkGraphStage returns a usage error when stage, a stage of w, is not of
// a kind that stores a concept graph, naming the workflow's stages that do.
func checkGraphStage(w *pipeline.Workflow, stage string) error {
	n, ok := w.Stage(stage)
	if !ok || slices.Contains(graphKinds, n.Kind) {
		return nil // stageArtifact reports an unknown stage
	}
	var have []string
	for _, m := range w.Stages {
		if slices.Contains(graphKinds, m.Kind) {
			have = append(have, m.ID)
		}
	}
	hint := " (this workflow has none)"
	if len(have) > 0 {
		hint = " such as " + strings.Join(have, ", ")
	}
	return usageError{fmt.Errorf("stage %s (kind %s) has no concept graph; kg commands take a %s stage%s",
		stage, n.Kind, strings.Join(graphKinds, " or "), hint)}
}
