package features

import (
	"runtime"

	kzstd "github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec is the zstd codec of the feature shards: a fixed set of
// long-lived encoders and decoders with a 1 MiB window, instead of
// parquet-go's zstd.Codec, whose sync.Pool'ed encoders (each allocating a
// 16 MB history) are dropped at every garbage collection and rebuilt, which
// made the stage's peak memory grow with the number of images processed.
// Pages are compressed independently, so a window larger than a page buys
// nothing. Up to GOMAXPROCS pages are compressed at once (the shard writer
// compresses row groups in parallel); each coder is built on first use and
// kept for the codec's life. Safe for concurrent use.
type zstdCodec struct {
	level kzstd.EncoderLevel
	encs  chan *kzstd.Encoder // free list; nil entries are built on demand
	decs  chan *kzstd.Decoder
}

func newZstdCodec(level kzstd.EncoderLevel) *zstdCodec {
	n := runtime.GOMAXPROCS(0)
	c := &zstdCodec{level: level, encs: make(chan *kzstd.Encoder, n), decs: make(chan *kzstd.Decoder, n)}
	for range n {
		c.encs <- nil
		c.decs <- nil
	}
	return c
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	enc := <-c.encs
	if enc == nil {
		var err error
		enc, err = kzstd.NewWriter(nil,
			kzstd.WithEncoderConcurrency(1),
			kzstd.WithEncoderLevel(c.level),
			kzstd.WithWindowSize(1<<20),
			kzstd.WithLowerEncoderMem(true),
			kzstd.WithZeroFrames(true),
			kzstd.WithEncoderCRC(false))
		if err != nil {
			c.encs <- nil
			return nil, err
		}
	}
	out := enc.EncodeAll(src, dst[:0])
	c.encs <- enc
	return out, nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	dec := <-c.decs
	if dec == nil {
		var err error
		dec, err = kzstd.NewReader(nil, kzstd.WithDecoderConcurrency(1))
		if err != nil {
			c.decs <- nil
			return nil, err
		}
	}
	out, err := dec.DecodeAll(src, dst[:0])
	c.decs <- dec
	return out, err
}
