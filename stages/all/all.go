// Package all imports every stage kind for its registration side effect, so
// that the CLI (and tests that run real workflows) see them in
// pipeline.Default.
package all

import (
	_ "coderflow/stages/dataset"  // download, dataset.*
	_ "coderflow/stages/evaluate" // evaluate, report
	_ "coderflow/stages/features" // features.regions
	_ "coderflow/stages/kg"       // kg.conceptnet, kg.link
	_ "coderflow/stages/tokenize" // tokenize
	_ "coderflow/stages/train"    // train.coder, embed
)
