package kg

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// WriteConceptNet writes edges as ConceptNet 5 assertion lines
// (uri<TAB>rel<TAB>start<TAB>end<TAB>json), readable by [ReadConceptNet].
func WriteConceptNet(w io.Writer, edges []Edge) error {
	bw := bufio.NewWriter(w)
	for _, e := range edges {
		s, t := ConceptURI(e.Start), ConceptURI(e.End)
		fmt.Fprintf(bw, "/a/[%s/,%s/,%s/]\t%s\t%s\t%s\t{\"dataset\": %q, \"weight\": %s}\n",
			e.Rel, s, t, e.Rel, s, t, e.Dataset, strconv.FormatFloat(float64(e.Weight), 'f', 1, 32))
	}
	return bw.Flush()
}
