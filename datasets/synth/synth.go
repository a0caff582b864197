package synth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// CaptionsPerImage is the number of captions written for every image.
const CaptionsPerImage = 5

// Config describes a synthetic data set. The same Config (Workers aside)
// always yields the same bytes.
type Config struct {
	Images       int     // number of images
	Seed         int64   // data set seed
	MinSize      int     // smallest width/height in pixels
	MaxSize      int     // largest width/height in pixels
	DevFraction  float64 // share of images in the dev split
	TestFraction float64 // share of images in the test split
	Workers      int     // render goroutines; 0 means GOMAXPROCS
}

// DefaultConfig returns the defaults of the dataset.synth stage.
func DefaultConfig() Config {
	return Config{Images: 2000, Seed: 7, MinSize: 128, MaxSize: 192, DevFraction: 0.1, TestFraction: 0.1}
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.Images < 1 {
		errs = append(errs, fmt.Errorf("images: %d must be at least 1", c.Images))
	}
	if c.MinSize < 32 || c.MaxSize > 4096 || c.MinSize > c.MaxSize {
		errs = append(errs, fmt.Errorf("size range [%d, %d]: want 32 <= min_size <= max_size <= 4096", c.MinSize, c.MaxSize))
	}
	// Written so that NaN, which fails every comparison, is refused too.
	if !(c.DevFraction >= 0 && c.TestFraction >= 0 && c.DevFraction+c.TestFraction < 1) {
		errs = append(errs, fmt.Errorf("dev fraction %v + test fraction %v: each must be >= 0 and their sum < 1", c.DevFraction, c.TestFraction))
	}
	return errors.Join(errs...)
}

// SplitCounts returns the number of train, dev and test images.
func (c Config) SplitCounts() (train, dev, test int) {
	dev = int(math.Round(float64(c.Images) * c.DevFraction))
	test = int(math.Round(float64(c.Images) * c.TestFraction))
	return c.Images - dev - test, dev, test
}

// Split returns the split of image index: the first images are train, then
// dev, then test (images are i.i.d., so contiguous ranges are as good as a
// shuffle and easier to reason about).
func (c Config) Split(index int) string {
	train, dev, _ := c.SplitCounts()
	switch {
	case index < train:
		return "train"
	case index < train+dev:
		return "dev"
	}
	return "test"
}

// Item is one generated image with its captions.
type Item struct {
	Index    int
	Split    string
	Scene    Scene
	Captions []string // CaptionsPerImage different captions
	PNG      []byte   // the encoded image
}

// rngFor returns the private random stream of image index.
func rngFor(seed int64, index int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(index)*0x9E3779B97F4A7C15+0x632BE59BD9B4E019))
}

// Generate draws image index of the data set described by c.
func Generate(c Config, index int) (Item, error) {
	rng := rngFor(c.Seed, index)
	s := newScene(rng, index, c.MinSize, c.MaxSize)
	img := render(rng, s)
	caps := captions(rng, s, CaptionsPerImage)
	var buf bytes.Buffer
	buf.Grow(s.Width * s.Height * 2)
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return Item{}, fmt.Errorf("synth: encoding image %d: %w", index, err)
	}
	return Item{Index: index, Split: c.Split(index), Scene: s, Captions: caps, PNG: buf.Bytes()}, nil
}

// chunk is the number of images generated ahead of the consumer.
const chunk = 256

// Run generates every image of c with a bounded worker pool and calls fn
// with the items in index order, from one goroutine. Memory is bounded by
// the chunk size, not by c.Images. It stops at the first error.
func Run(ctx context.Context, c Config, fn func(Item) error) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	workers := c.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	items := make([]Item, chunk)
	for start := 0; start < c.Images; start += chunk {
		n := min(chunk, c.Images-start)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(workers)
		for i := 0; i < n; i++ {
			g.Go(func() error {
				if err := gctx.Err(); err != nil {
					return err
				}
				it, err := Generate(c, start+i)
				items[i] = it
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := fn(items[i]); err != nil {
				return err
			}
			items[i] = Item{}
		}
	}
	return ctx.Err()
}
