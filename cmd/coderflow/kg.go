package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"coderflow/kg"
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
the neighbours of a concept (a word or a multi-word term such as "hot dog")
with relation, direction and weight, heaviest first.`,
		Args: exactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[2] != "neighbors" {
				return usageError{fmt.Errorf("unknown kg query %q (want neighbors)", args[2])}
			}
			w, err := loadWorkflow(g, args[0], sets)
			if err != nil {
				return err
			}
			a, err := stageArtifact(cmd.Context(), w, args[1], sets, run)
			if err != nil {
				return err
			}
			st, err := kg.OpenStore(a.Dir)
			if err != nil {
				return fmt.Errorf("stage %s: %w", args[1], err)
			}
			defer st.Close()
			ns, err := st.Neighbors(cmd.Context(), args[3], rel)
			if err != nil {
				return err
			}
			sort.SliceStable(ns, func(i, j int) bool { return ns[i].Weight > ns[j].Weight })
			if limit > 0 && len(ns) > limit {
				ns = ns[:limit]
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(ns)
			}
			if len(ns) == 0 {
				fmt.Fprintf(out, "no neighbours of %q in the graph\n", args[3])
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
	return c
}
