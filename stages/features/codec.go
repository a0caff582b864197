package features

import (
	"sync"

	kzstd "github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec is the zstd codec of the feature shards: one long-lived encoder
// with a 1 MiB window, instead of parquet-go's zstd.Codec, whose pooled
// encoders (each allocating a 16 MB history) are dropped at every garbage
// collection and rebuilt, which made the stage's peak memory grow with the
// number of images processed. Pages are compressed independently, so a
// window larger than a page buys nothing. Safe for concurrent use.
type zstdCodec struct {
	level kzstd.EncoderLevel
	mu    sync.Mutex
	enc   *kzstd.Encoder
	dec   *kzstd.Decoder
}

func newZstdCodec(level kzstd.EncoderLevel) *zstdCodec { return &zstdCodec{level: level} }

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enc == nil {
		enc, err := kzstd.NewWriter(nil,
			kzstd.WithEncoderConcurrency(1),
			kzstd.WithEncoderLevel(c.level),
			kzstd.WithWindowSize(1<<20),
			kzstd.WithLowerEncoderMem(true),
			kzstd.WithZeroFrames(true),
			kzstd.WithEncoderCRC(false))
		if err != nil {
			return nil, err
		}
		c.enc = enc
	}
	return c.enc.EncodeAll(src, dst[:0]), nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dec == nil {
		dec, err := kzstd.NewReader(nil, kzstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		c.dec = dec
	}
	return c.dec.DecodeAll(src, dst[:0])
}
