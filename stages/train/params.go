package train

import (
	"fmt"

	"coderflow/pipeline"
	coder "coderflow/train"
)

// Kinds of the stages in this package.
const (
	KindTrain = "train.coder"
	KindEmbed = "embed"
)

// ModelFile is the best checkpoint inside a train.coder artifact, in the
// format of coder.Model.Save (read it back with coder.Load).
const ModelFile = "model.bin"

// ModelConfigFile is the JSON copy of model.bin's config (coder.Config),
// readable without the concept adjacency that coder.Load needs.
const ModelConfigFile = "model_config.json"

// StateFile is the small JSON file inside a train.coder artifact recording
// the per-epoch curve, the best epoch and the data counts.
const StateFile = "train_state.json"

// defaults are the model defaults; the params below take them so that the
// stage and the model package agree on one set of numbers.
var defaults = coder.DefaultConfig()

func trainParams() []pipeline.Param {
	d := defaults
	return []pipeline.Param{
		// switches (names fixed by the issue)
		{Name: "loss", Type: pipeline.String, Default: orStr(d.Loss, "dcl"), Enum: []string{"dcl", "vsepp"},
			Doc: "instance loss: dcl (diversity-sensitive contrastive, InfoNCE when beta=0) or vsepp (VSE++ hinge, hardest negative)"},
		{Name: "queue", Type: pipeline.Int, Default: d.Queue, Min: pipeline.Bound(0),
			Doc: "momentum dictionary size K per modality (capped at the number of training pairs); 0 = in-batch negatives only"},
		{Name: "beta", Type: pipeline.Float, Default: d.Beta, Min: pipeline.Bound(0),
			Doc: "DCL weight sharpness; 0 = uniform negative weights = InfoNCE"},
		{Name: "clustering", Type: pipeline.Bool, Default: d.Clustering,
			Doc: "online clustering: Sinkhorn codes on momentum embeddings and swapped prediction"},
		{Name: "concept", Type: pipeline.Bool, Default: d.Concept,
			Doc: "concept branch (GCN over the concept graph, concept DCL, pseudo-label prediction); needs concepts, concept_edges and caption_concepts upstream"},
		{Name: "epochs", Type: pipeline.Int, Default: 10, Min: pipeline.Bound(1), Doc: "training epochs"},
		{Name: "batch", Type: pipeline.Int, Default: 128, Min: pipeline.Bound(2),
			Doc: "pairs per training batch (the last partial batch of an epoch is dropped)"},
		{Name: "dim", Type: pipeline.Int, Default: d.Dim, Min: pipeline.Bound(1), Doc: "joint embedding dimension D"},
		{Name: "text_encoder", Type: pipeline.String, Default: orStr(d.TextEncoder, "bigru"), Enum: []string{"bigru", "mean"},
			Doc: "caption encoder: bidirectional GRU or mean of word embeddings"},
		// other hyper-parameters
		{Name: "pooling", Type: pipeline.String, Default: orStr(d.Pooling, "mean"), Enum: []string{"mean", "attn"},
			Doc: "region pooling; mean pools regions before the model (identical result, and the loader keeps one vector per image)"},
		{Name: "lr", Type: pipeline.Float, Default: d.LR, Min: pipeline.Bound(0), Doc: "Adam learning rate"},
		{Name: "lr_step", Type: pipeline.Int, Default: 0, Min: pipeline.Bound(0),
			Doc: "the lr is multiplied by 0.1 for epochs after this one (1-based); 0 = half the epochs, rounded up"},
		{Name: "clip", Type: pipeline.Float, Default: d.ClipNorm, Min: pipeline.Bound(0), Doc: "gradient clipping by global norm; 0 = off"},
		{Name: "tau", Type: pipeline.Float, Default: d.Tau, Min: pipeline.Bound(1e-6), Doc: "contrastive temperature"},
		{Name: "momentum", Type: pipeline.Float, Default: d.Momentum, Min: pipeline.Bound(0), Max: pipeline.Bound(1),
			Doc: "momentum-encoder EMA coefficient m"},
		{Name: "prototypes", Type: pipeline.Int, Default: d.Prototypes, Min: pipeline.Bound(1), Doc: "number of clustering prototypes P"},
		{Name: "word_dim", Type: pipeline.Int, Default: d.WordDim, Min: pipeline.Bound(1), Doc: "word embedding size"},
		{Name: "max_len", Type: pipeline.Int, Default: orInt(d.MaxLen, 32), Min: pipeline.Bound(1),
			Doc: "captions are truncated and padded to this many tokens"},
		{Name: "seed", Type: pipeline.Int, Default: 1, Doc: "seed of the initialisation and of the per-epoch shuffles"},
		{Name: "alpha", Type: pipeline.Float, Default: d.Alpha, Min: pipeline.Bound(0), Max: pipeline.Bound(1),
			Doc: "test similarity alpha*S_inst + (1-alpha)*S_concept (dev evaluation; stored with the model)"},
		{Name: "margin", Type: pipeline.Float, Default: d.Margin, Min: pipeline.Bound(0), Doc: "VSE++ margin (loss=vsepp)"},
		{Name: "sinkhorn_eps", Type: pipeline.Float, Default: d.SinkhornEps, Min: pipeline.Bound(0.003),
			Doc: "Sinkhorn-Knopp epsilon (the scores of unit vectors span at most 2, and below about 2/745 = 0.0027 their exponentials can underflow to 0, leaving a sample without a code)"},
		{Name: "sinkhorn_iters", Type: pipeline.Int, Default: d.SinkhornIters, Min: pipeline.Bound(1), Doc: "Sinkhorn-Knopp iterations"},
		{Name: "tau_p", Type: pipeline.Float, Default: d.TauP, Min: pipeline.Bound(1e-6), Doc: "prototype softmax temperature"},
		{Name: "lambda", Type: pipeline.Float, Default: d.Lambda, Min: pipeline.Bound(0), Doc: "concept attention sharpness"},
		{Name: "rho", Type: pipeline.Float, Default: d.Rho, Min: pipeline.Bound(0), Max: pipeline.Bound(1),
			Doc: "mixing of a caption's linked concepts into its concept attention"},
		{Name: "lambda_c", Type: pipeline.Float, Default: d.LambdaC, Min: pipeline.Bound(0), Doc: "weight of the concept DCL"},
		{Name: "lambda_p", Type: pipeline.Float, Default: d.LambdaP, Min: pipeline.Bound(0), Doc: "weight of the pseudo-label prediction"},
		{Name: "lambda_s", Type: pipeline.Float, Default: d.LambdaS, Min: pipeline.Bound(0), Doc: "weight of the swapped prediction"},
		{Name: "concept_emb", Type: pipeline.Int, Default: orInt(d.ConceptEmb, 300), Min: pipeline.Bound(1), Doc: "GCN input embedding size e"},
		// loop, data and evaluation
		{Name: "dev_every", Type: pipeline.Int, Default: 1, Min: pipeline.Bound(1),
			Doc: "evaluate dev R@K every this many epochs (and after the last); model selection uses evaluated epochs only"},
		{Name: "dev_images", Type: pipeline.Int, Default: 0, Min: pipeline.Bound(0),
			Doc: "evaluate on the first N dev images (by image id) with 5 captions each; 0 = all"},
		{Name: "feature_memory", Type: pipeline.Int, Default: 1024, Min: pipeline.Bound(1),
			Doc: "MiB of converted image features the loader may hold: all training features stay in memory when they fit, otherwise shards are streamed through a shuffle buffer of this size (changes the batch order, so it is part of the key)"},
		{Name: "keep_checkpoints", Type: pipeline.Bool, Default: false,
			Doc: "keep every epoch checkpoint (ckpt/epoch-NNNN.bin) in the artifact instead of only model.bin"},
		{Name: "checkpoint_minutes", Type: pipeline.Int, Default: 10, Min: pipeline.Bound(0), NoCache: true,
			Doc: "also checkpoint within an epoch when this many minutes passed since the last checkpoint (and before a dev evaluation), so a killed run loses at most that much training; 0 = at epoch ends only; does not change results"},
		{Name: "workers", Type: pipeline.Int, Default: 0, Min: pipeline.Bound(0), Max: pipeline.Bound(64), NoCache: true,
			Doc: "batches the loader builds ahead of the model in a background goroutine (0 = 2; at most 64: each one is held in memory); does not change results"},
	}
}

func orStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// shapes are the data-derived fields of the model config.
type shapes struct {
	ImageDim, Regions, VocabSize, MaxLen, Concepts int
}

// configFromParams maps the stage params onto a model config.
func configFromParams(p pipeline.Params, s shapes) (coder.Config, error) {
	c := coder.DefaultConfig()
	c.ImageDim, c.Regions, c.VocabSize = s.ImageDim, s.Regions, s.VocabSize
	c.MaxLen = p.Int("max_len")
	c.Concepts = 0
	c.Concept = p.Bool("concept")
	if c.Concept {
		c.Concepts = s.Concepts
	}
	c.Dim = p.Int("dim")
	c.WordDim = p.Int("word_dim")
	c.TextEncoder = p.String("text_encoder")
	c.Pooling = p.String("pooling")
	c.ConceptEmb = p.Int("concept_emb")
	c.Loss = p.String("loss")
	c.Margin = p.Float("margin")
	c.Queue = p.Int("queue")
	c.Beta = p.Float("beta")
	c.Tau = p.Float("tau")
	c.Momentum = p.Float("momentum")
	c.Clustering = p.Bool("clustering")
	c.Prototypes = p.Int("prototypes")
	c.SinkhornEps = p.Float("sinkhorn_eps")
	c.SinkhornIters = p.Int("sinkhorn_iters")
	c.TauP = p.Float("tau_p")
	c.Lambda = p.Float("lambda")
	c.Rho = p.Float("rho")
	c.LambdaC = p.Float("lambda_c")
	c.LambdaP = p.Float("lambda_p")
	c.LambdaS = p.Float("lambda_s")
	c.Alpha = p.Float("alpha")
	c.LR = p.Float("lr")
	c.ClipNorm = p.Float("clip")
	c.Seed = int64(p.Int("seed"))
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("model config: %w", err)
	}
	return c, nil
}

// lrStep returns the 1-based epoch after which the learning rate drops.
func lrStep(p pipeline.Params) int {
	if s := p.Int("lr_step"); s > 0 {
		return s
	}
	return (p.Int("epochs") + 1) / 2
}

// learningRate is the lr of 1-based epoch e.
func learningRate(base float64, step, e int) float64 {
	if e > step {
		return base * 0.1
	}
	return base
}
