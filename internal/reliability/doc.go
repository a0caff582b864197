// Package reliability holds coderflow's end-to-end reliability suite (issue
// 8). It has no library code: TestMain builds the coderflow binary once and
// the tests drive it as a subprocess, the way a user or CI does.
//
//   - TestKillResume runs a small workflow (testdata/kill.yaml: synthetic
//     images, region features, tokenizer, CODER training, embedding,
//     evaluation; testdata/kill-kg.yaml adds the knowledge graph and concept
//     linking when the binary registers kg.conceptnet and kg.link) once
//     uninterrupted, then SIGKILLs it at seeded random moments in every
//     stage of a fresh workdir, rerunning after each kill. After each kill
//     nothing under cache/ may look complete without being complete; the
//     final rerun must reproduce the uninterrupted run's artifact keys,
//     metrics and file digests. TestKillResumeRealPhotos and
//     TestKillDownload do the same for feature extraction of real photos
//     and for an HTTP download; TestInterrupt for SIGINT.
//   - TestConcurrentRuns, TestConcurrentRunsDifferentParams, TestLockTimeout
//     and TestWaiterAfterKilledHolder exercise the workdir lock.
//   - TestBadInputs is a catalogue of bad inputs (workflow files, images,
//     archives, HTTP faults, .npy and caption files, Parquet, ConceptNet
//     CSV); TestDiskFull fills a small tmpfs; TestCorruptedCache and
//     TestCorruptedWorkdirFiles damage the cache and the workdir's
//     bookkeeping. Each must give a clear error naming the file or position
//     (or a counted skip in the manifest), never a panic, and must not
//     damage artifacts already in the cache.
//   - TestCachedStageWithMissingAncestor, TestGCKeepsCurrentArtifactsAfterKill,
//     TestRunSweepsTrash and TestPanicStackInDebugLog (in-process: no stage
//     of the binary panics on purpose) pin bugs the suite found.
//
// docs/RELIABILITY.md lists the catalogue and the findings. Environment:
// RELIABILITY_SEED replays a kill schedule (the seed is logged),
// RELIABILITY_CODERFLOW tests a prebuilt binary instead of building one,
// RELIABILITY_VERBOSE=1 prints every catalogue case's output.
package reliability
