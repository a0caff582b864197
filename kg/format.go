package kg

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// FormatNeighbors writes neighbours as the CLI prints them: one line per
// edge, columns relation, direction ("->" for term -rel-> concept, "<-" for
// concept -rel-> term), concept, weight, dataset.
func FormatNeighbors(w io.Writer, ns []Neighbor) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REL\tDIR\tCONCEPT\tWEIGHT\tDATASET")
	for _, n := range ns {
		dir := "->"
		if n.Direction == In {
			dir = "<-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Rel, dir, n.Concept, strconv.FormatFloat(float64(n.Weight), 'g', 4, 32), n.Dataset)
	}
	return tw.Flush()
}
