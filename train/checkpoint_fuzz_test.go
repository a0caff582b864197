package train

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// v1Checkpoint returns a tiny model's checkpoint rewritten as format
// version 1 (no checksums), whose header nothing guards.
func v1Checkpoint(t testing.TB, cfg Config) []byte {
	t.Helper()
	b := freshCheckpoint(t, cfg)
	i := bytes.Index(b, []byte(`"version":2`))
	if i < 0 {
		t.Fatal("Save did not write a version 2 header")
	}
	b[i+len(`"version":`)] = '1'
	end := len(ckptMagic) + 4 + int(binary.LittleEndian.Uint32(b[len(ckptMagic):]))
	return append(b[:end:end], b[end+4:len(b)-4]...)
}

// freshCheckpoint is the checkpoint of a new model of cfg.
func freshCheckpoint(t testing.TB, cfg Config) []byte {
	t.Helper()
	m, err := NewModel(cfg, adjFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCkptLayoutMatchesModel: the layout Load checks a header against
// before it builds the model is the model's own, for every branch switch.
func TestCkptLayoutMatchesModel(t *testing.T) {
	for _, mut := range []func(*Config){
		func(*Config) {},
		func(c *Config) { c.Concept = false },
		func(c *Config) { c.Queue = 0 },
		func(c *Config) { c.Clustering = false },
		func(c *Config) { c.TextEncoder, c.Pooling = TextBiGRU, PoolAttn },
	} {
		cfg := tinyConfig()
		mut(&cfg)
		m, err := NewModel(cfg, adjFor(cfg))
		if err != nil {
			t.Fatal(err)
		}
		names, ts := m.tensors()
		var lens []int
		for _, x := range ts {
			lens = append(lens, x.Shape().TotalSize())
		}
		qnames, _ := m.queues()
		m.Close()
		ln, ll, lq := ckptLayout(cfg)
		if !slices.Equal(ln, names) || !slices.Equal(ll, lens) || !slices.Equal(lq, qnames) {
			t.Errorf("config %+v: layout %v %v %v, model %v %v %v", cfg, ln, ll, lq, names, lens, qnames)
		}
	}
}

// TestLoadV1HugeConfig: a version 1 checkpoint (no header checksum) whose
// config was damaged to a huge vocabulary is refused before the model is
// built; it used to allocate the damaged size (here about half a GB, four
// copies of a 5M x WordDim embedding) before it found the mismatch.
func TestLoadV1HugeConfig(t *testing.T) {
	cfg := tinyConfig()
	b := v1Checkpoint(t, cfg)
	old := []byte(`"VocabSize":30,`)
	i := bytes.Index(b, old)
	if i < 0 {
		t.Fatalf("no %s in the header", old)
	}
	// the header length grows by the added digits
	nb := append(append(bytes.Clone(b[:i]), `"VocabSize":5000000,`...), b[i+len(old):]...)
	hl := binary.LittleEndian.Uint32(b[len(ckptMagic):])
	binary.LittleEndian.PutUint32(nb[len(ckptMagic):], hl+uint32(len(`5000000`)-len(`30`)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := Load(bytes.NewReader(nb), adjFor(cfg))
	runtime.ReadMemStats(&after)
	if err == nil {
		m.Close()
		t.Fatal("damaged version 1 checkpoint loaded")
	}
	if !strings.Contains(err.Error(), "w/txt.E") {
		t.Errorf("error %q does not name the mismatching tensor", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Errorf("Load allocated %d MB for a %d-byte checkpoint", d>>20, len(nb))
	}
}

// FuzzLoad: Load of damaged checkpoints (format versions 1 and 2) returns
// an error that starts with "train: ", or a model whose Save writes the
// same checkpoint back (version 2 input; a version 1 input loads into the
// model its data describes, saved as version 2, which must load again).
// Run it with -fuzzminimizetime 100x: minimising each new 11 kB input by
// time takes a minute (a 90 s run with it: 133k inputs, no failure).
func FuzzLoad(f *testing.F) {
	cfg := tinyConfig()
	cfg.Queue, cfg.Prototypes, cfg.Concepts, cfg.VocabSize = 4, 2, 3, 8
	f.Add(freshCheckpoint(f, cfg))
	f.Add(v1Checkpoint(f, cfg))
	f.Add([]byte(ckptMagic))
	adj := adjFor(cfg)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Load(bytes.NewReader(data), adj)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "train: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		defer l.Close()
		var out bytes.Buffer
		if err := l.Save(&out); err != nil {
			t.Fatalf("a loaded checkpoint does not save: %v", err)
		}
		if bytes.Contains(data, []byte(`"version":2`)) && !bytes.Equal(out.Bytes(), data) {
			t.Fatal("a loaded version 2 checkpoint saves differently")
		}
		again, err := Load(bytes.NewReader(out.Bytes()), adj)
		if err != nil {
			t.Fatalf("a saved checkpoint does not load: %v", err)
		}
		again.Close()
	})
}
