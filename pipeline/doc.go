// Package pipeline is coderflow's engine: it parses workflow files into a
// validated DAG of stages, computes content-addressed cache keys, runs the
// stages that are not cached (in parallel where the DAG allows), and records
// each run. It knows nothing about images or text.
//
// # Stage contract
//
// A stage kind is a [Spec] registered on a [Registry] ([Default] for the CLI,
// from the stage package's init). Its [Stage] gets an [Env]:
//
//   - Env.Params: typed, defaulted params ([Params.Int], [Params.String], ...).
//   - Env.Input(table): the nearest upstream artifact declaring that table.
//   - Env.Dir: the work directory. Everything the stage writes goes here; it
//     becomes the artifact only when Run returns nil (renamed into the cache).
//   - Env.Path(rel) and Env.AddTable(name, rows, files...): files of the
//     artifact, relative to Dir; a path that leaves Dir (absolute, or "..")
//     fails the stage. A metric that is NaN or infinite is not stored (the
//     manifest's info names it: metrics_not_finite).
//   - Env.ShardDone / Env.CommitShard: resumable shards. The work directory of
//     an interrupted run with the same key is kept, so a rerun skips shards
//     already committed. Write a shard atomically, then commit it.
//   - Env.Progress, Env.Log, Env.SetMetric, Env.SetInfo, Env.Summarize.
//   - ctx: canceled on an interrupt or when another stage of the run
//     fails. A stage must return soon after; [Run] waits for every
//     stage it started, so one that ignores ctx holds the run until it
//     ends. A panic fails the stage (the error names it) and keeps its
//     work directory, so the rerun resumes from its committed shards.
//   - Spec.GCPercent and Env.SetMemoryBudget: for stages that stream large
//     buffers through a bounded working set, a garbage-collector target and
//     a working-set budget the engine applies to the Go runtime while the
//     stage runs (memory.go), so peak memory does not creep up with run
//     length.
//
// # Cache keys
//
// key = sha256(EngineSalt, kind, Version, canonical JSON of the params that
// affect output (NoCache params dropped; local Path params replaced by the
// digest of their content; a string that is not valid UTF-8 by its bytes,
// which JSON would fold into U+FFFD), input artifact keys in `needs` order).
//
// External file digests are remembered by path, size, mtime and (Linux)
// ctime, so an unchanged file is never reread and one replaced with a
// copied mtime is. A digest is remembered only when the file's timestamp
// (ctime on Linux, else mtime) is at least 3 s older than the start of the
// read, as git treats "racily clean" entries: a file rewritten with the
// same size within the timestamp tick of its read would keep the
// remembered stat, so one changed in the 3 s before it was read is read
// again at its next lookup (docs/pipeline-statcache.md).
//
// A directory param marked [Param.SkipInputs] leaves the stage's input
// artifacts out of its digest, and one marked [Param.MissingIsEmpty]
// digests as an empty directory while it does not exist (a report's
// runs_dir: ${workdir}/cache/evaluate). A directory param whose tree holds
// the workdir is digested without it, also when either is named through a
// symlink.
//
// # Workflow references
//
// Values under `with:` and workflow params (also when given with --set,
// lists included) may use ${workdir}, the workflow's absolute workdir
// (cleaned: no trailing slash); values under `with:` may use
// ${params.NAME}. Any other ${...} is a validation error at file:line:col,
// and so is any reference in `workdir:` itself.
package pipeline
