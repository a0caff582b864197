// Package all imports every stage kind for its registration side effect, so
// that the CLI (and tests that run real workflows) see them in
// pipeline.Default.
package all
