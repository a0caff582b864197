// Package reliability holds coderflow's end-to-end reliability suite (issue
// 8). It has no library code: the tests build the coderflow binary once and
// drive it as a subprocess, the way a user or CI does.
//
//   - TestKillResume runs a small workflow (testdata/kill.yaml: synthetic
//     images, region features, tokenizer, CODER training, embedding,
//     evaluation) once uninterrupted, then SIGKILLs it at seeded random
//     moments in every stage of a fresh workdir, rerunning after each kill.
//     After each kill nothing under cache/ may look complete without being
//     complete; the final rerun must reproduce the uninterrupted run's
//     artifact keys, metrics and file digests.
//   - TestConcurrentRuns starts two runs of that workflow on one workdir at
//     once: one waits for the workdir lock, both succeed, the artifacts are
//     intact.
//   - TestBadInputs is a catalogue of bad inputs (workflow files, images,
//     archives, HTTP faults, .npy and caption files, Parquet, ConceptNet
//     CSV, a full disk). Each must give a clear error naming the file or
//     position, or a counted skip in the manifest, never a panic, and must
//     not damage artifacts already in the cache.
//
// docs/RELIABILITY.md lists the catalogue and what the tests found. Set
// RELIABILITY_SEED to replay the kill schedule of a failed run (its seed is
// logged).
package reliability
