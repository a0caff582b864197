// Package train registers the stage kinds that train the CODER model and use
// it: train.coder and embed. The model itself is package coderflow/train
// (imported here as coder); the Recall@K protocol is coderflow/train/eval.
//
// # train.coder
//
// Inputs (looked up upstream by table name): features, tokens, vocab, and
// with concept=true also concepts, concept_edges and caption_concepts; the
// captions table is used for caption ordinals when an upstream stage has it
// (otherwise the rank by caption id within the image). Training pairs are
// (caption, its image) of split train. Every epoch's batch sequence is a
// function of (seed, epoch) only — see loader for the two modes (all
// features cached in memory when they fit feature_memory, otherwise shards
// streamed through a shuffle buffer of that size) — so a run killed after
// epoch k and rerun into the same work directory resumes from the epoch-k
// checkpoint and ends with byte-identical weights. A checkpoint or sidecar
// that does not load (checksums, truncation), holds another config or
// another run's step count or cache key is skipped with a warning: resume
// falls back to the epoch before it, down to a fresh start (info
// checkpoints_rejected). Checkpoints within an epoch (checkpoint_minutes)
// resume at the batch; see docs/train-stage.md.
//
// With pooling=mean the loader averages each image's regions before the
// model (the model sees one region per image); this is exactly the model's
// mean pooling (mean then linear = linear then mean) and 36 times smaller
// in memory. With pooling=attn every image keeps Regions regions (the count
// of the first feature row, also when that is 1; the first row should be a
// typical image): images with more are truncated to their first Regions
// (the rest is never read), images with fewer get zero padding that the
// model leaves out of the pooling (weight 0 in the attention, not part of
// the guide mean; coder.Batch.RegionCounts); both counted.
//
// After each epoch: dev Recall@K (images with at least 5 dev captions, the
// first 5 by ordinal; dev_every, dev_images), a train_curve row, and a
// checkpoint ckpt/epoch-NNNN.bin (coder.Model.Save: weights, momentum
// weights, prototypes, Adam state, queues, step) plus a JSON sidecar with
// the curve row, committed as shard "epoch-N". At the end model.bin is the
// best epoch by dev rSum (the last epoch when there is no dev split),
// model_config.json its coder.Config, train_state.json the curve, best
// epoch and data counts; the epoch checkpoints are removed unless
// keep_checkpoints.
//
// # embed
//
// Loads model.bin from the nearest upstream train.coder artifact (walking
// the inputs breadth first; the concept adjacency is rebuilt from the tables
// that artifact was trained on) and writes image_embeddings and
// caption_embeddings for one split, ordered by (image_id, ordinal). For
// evaluation splits (dev, test, testall) each kept image has exactly 5
// captions; images with fewer are dropped and captions beyond the first 5
// are dropped, both counted in the manifest. Image vectors are held in
// memory until written (N x (D + Dc) floats); captions are encoded and
// written in batches.
package train
