package train

import (
	"errors"
	"fmt"
	"math"
)

// Config holds every switch and hyper-parameter of CODER-METHOD.md.
type Config struct {
	// data shapes (the stage fills these from the data)
	ImageDim  int // d_in: region feature dimension (from the features table)
	Regions   int // regions per image (36)
	VocabSize int // including the 4 special tokens
	MaxLen    int // caption padding length T
	Concepts  int // M: concept vocabulary size (0 when the concept branch is off)

	// model
	Dim         int    // joint dimension D (paper 1024; CPU default smaller, e.g. 256)
	WordDim     int    // word embedding size (300)
	TextEncoder string // "bigru" | "mean"
	Pooling     string // "mean" | "attn"
	ConceptEmb  int    // GCN input embedding size e

	// losses and switches
	Loss          string  // "dcl" | "vsepp"
	Margin        float64 // VSE++ margin (0.2)
	Queue         int     // K: momentum queue size per modality; 0 = in-batch negatives only
	Beta          float64 // DCL weight sharpness; 0 = uniform weights = InfoNCE
	Tau           float64 // temperature (0.07)
	Momentum      float64 // m (0.995)
	Clustering    bool    // online clustering + swapped prediction
	Prototypes    int     // P (256)
	SinkhornEps   float64 // 0.05
	SinkhornIters int     // 3
	TauP          float64 // prototype softmax temperature (0.1)
	Concept       bool    // concept branch
	Lambda        float64 // concept attention sharpness (10)
	Rho           float64 // caption-label mixing (0.4)
	LambdaC       float64 // weight of concept DCL (1)
	LambdaP       float64 // weight of pseudo-label prediction (0.5)
	LambdaS       float64 // weight of swapped prediction (0.5)
	Alpha         float64 // test similarity mix (0.9) — used by the evaluation, stored with the model

	// optimisation
	LR       float64 // Adam learning rate (2e-4)
	ClipNorm float64 // global-norm clipping (2.0)
	Seed     int64   // initialisation seed
}

// Text encoder, pooling and loss names accepted by [Config].
const (
	TextBiGRU = "bigru"
	TextMean  = "mean"
	PoolMean  = "mean"
	PoolAttn  = "attn"
	LossDCL   = "dcl"
	LossVSEPP = "vsepp"
)

// DefaultConfig returns the CODER-METHOD.md defaults with CPU-sized
// dimensions: D = 256, a mean-of-embeddings text encoder, queue 4096, all
// branches on. The data-shape fields (ImageDim, Regions, VocabSize, MaxLen,
// Concepts) are set to small placeholders and must be filled from the data.
func DefaultConfig() Config {
	return Config{
		ImageDim:  2048,
		Regions:   36,
		VocabSize: 10000,
		MaxLen:    32,
		Concepts:  300,

		Dim:         256,
		WordDim:     300,
		TextEncoder: TextMean,
		Pooling:     PoolMean,
		ConceptEmb:  300,

		Loss:          LossDCL,
		Margin:        0.2,
		Queue:         4096,
		Beta:          1,
		Tau:           0.07,
		Momentum:      0.995,
		Clustering:    true,
		Prototypes:    256,
		SinkhornEps:   0.05,
		SinkhornIters: 3,
		TauP:          0.1,
		Concept:       true,
		Lambda:        10,
		Rho:           0.4,
		LambdaC:       1,
		LambdaP:       0.5,
		LambdaS:       0.5,
		Alpha:         0.9,

		LR:       2e-4,
		ClipNorm: 2.0,
		Seed:     1,
	}
}

// Validate reports every invalid field of c.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("train: %s must be > 0, got %d", name, v))
		}
	}
	posf := func(name string, v float64) {
		if !(v > 0) {
			errs = append(errs, fmt.Errorf("train: %s must be > 0, got %g", name, v))
		}
	}
	// Every float field must be finite, whether its branch is on or not:
	// NaN slips through the range checks below, +Inf through the "> 0"
	// ones, and Save cannot write either in its JSON header.
	for _, f := range []struct {
		name string
		v    float64
	}{{"Margin", c.Margin}, {"Beta", c.Beta}, {"Tau", c.Tau}, {"Momentum", c.Momentum},
		{"SinkhornEps", c.SinkhornEps}, {"TauP", c.TauP}, {"Lambda", c.Lambda}, {"Rho", c.Rho},
		{"LambdaC", c.LambdaC}, {"LambdaP", c.LambdaP}, {"LambdaS", c.LambdaS}, {"Alpha", c.Alpha},
		{"LR", c.LR}, {"ClipNorm", c.ClipNorm}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			errs = append(errs, fmt.Errorf("train: %s must be finite, got %g", f.name, f.v))
		}
	}
	pos("ImageDim", c.ImageDim)
	pos("Regions", c.Regions)
	pos("VocabSize", c.VocabSize)
	pos("MaxLen", c.MaxLen)
	pos("Dim", c.Dim)
	pos("WordDim", c.WordDim)
	switch c.TextEncoder {
	case TextBiGRU, TextMean:
	default:
		errs = append(errs, fmt.Errorf("train: TextEncoder must be %q or %q, got %q", TextBiGRU, TextMean, c.TextEncoder))
	}
	switch c.Pooling {
	case PoolMean, PoolAttn:
	default:
		errs = append(errs, fmt.Errorf("train: Pooling must be %q or %q, got %q", PoolMean, PoolAttn, c.Pooling))
	}
	switch c.Loss {
	case LossDCL:
		posf("Tau", c.Tau)
	case LossVSEPP:
		if c.Margin < 0 {
			errs = append(errs, fmt.Errorf("train: Margin must be >= 0, got %g", c.Margin))
		}
	default:
		errs = append(errs, fmt.Errorf("train: Loss must be %q or %q, got %q", LossDCL, LossVSEPP, c.Loss))
	}
	if c.Queue < 0 {
		errs = append(errs, fmt.Errorf("train: Queue must be >= 0, got %d", c.Queue))
	}
	if c.Beta < 0 {
		errs = append(errs, fmt.Errorf("train: Beta must be >= 0, got %g", c.Beta))
	}
	for _, w := range []struct {
		name string
		v    float64
	}{{"LambdaC", c.LambdaC}, {"LambdaP", c.LambdaP}, {"LambdaS", c.LambdaS}} {
		if w.v < 0 { // a negative loss weight maximises its term
			errs = append(errs, fmt.Errorf("train: %s (a loss weight) must be >= 0, got %g", w.name, w.v))
		}
	}
	if c.Momentum < 0 || c.Momentum > 1 {
		errs = append(errs, fmt.Errorf("train: Momentum must be in [0,1], got %g", c.Momentum))
	}
	if c.Clustering {
		pos("Prototypes", c.Prototypes)
		posf("SinkhornEps", c.SinkhornEps)
		pos("SinkhornIters", c.SinkhornIters)
		posf("TauP", c.TauP)
	}
	if c.Concept {
		pos("Concepts", c.Concepts)
		pos("ConceptEmb", c.ConceptEmb)
		posf("Lambda", c.Lambda)
		if c.Rho < 0 || c.Rho > 1 {
			errs = append(errs, fmt.Errorf("train: Rho must be in [0,1], got %g", c.Rho))
		}
	}
	if c.Alpha < 0 || c.Alpha > 1 {
		errs = append(errs, fmt.Errorf("train: Alpha must be in [0,1], got %g", c.Alpha))
	}
	posf("LR", c.LR)
	if c.ClipNorm < 0 {
		errs = append(errs, fmt.Errorf("train: ClipNorm must be >= 0 (0 = no clipping), got %g", c.ClipNorm))
	}
	return errors.Join(errs...)
}
