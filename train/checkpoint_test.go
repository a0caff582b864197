package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestLoadRejectsDamage checks that Load refuses a checkpoint whose bytes
// were changed after Save (a flipped bit in the weights, a truncation, data
// after the end) and still reads a version 1 checkpoint (no checksum).
func TestLoadRejectsDamage(t *testing.T) {
	cfg := tinyConfig()
	adj := adjFor(cfg)
	m, err := NewModel(cfg, adj)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := makeSynth(cfg, 12, 6)
	if _, err := m.Step(s.batch(cfg, 0, 6), 1e-3); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	damage := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"intact", good, true},
		{"bit-flip-in-weights", damage(func(b []byte) []byte { b[len(b)*2/3] ^= 0x10; return b }), false},
		{"bit-flip-last-byte", damage(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), false},
		{"truncated", good[:len(good)-3], false},
		{"trailing-data", append(bytes.Clone(good), 0), false},
		{"version-1", damage(func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"version":2`))
			if i < 0 {
				return nil // not a version 2 checkpoint
			}
			b[i+len(`"version":`)] = '1'
			// version 1 has neither the header's nor the file's checksum
			end := len(ckptMagic) + 4 + int(binary.LittleEndian.Uint32(b[len(ckptMagic):]))
			return append(b[:end:end], b[end+4:len(b)-4]...)
		}), true},
	}
	// A changed header config would make Load build a model of another
	// size before the file's checksum is read: the header has its own.
	header := damage(func(b []byte) []byte {
		i := bytes.Index(b, []byte(`"Dim":8,`))
		if i < 0 {
			return nil
		}
		b[i+len(`"Dim":`)] = '9'
		return b
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.data == nil {
				t.Fatal("Save did not write a version 2 header")
			}
			l, err := Load(bytes.NewReader(tc.data), adj)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				sameWeights(t, m, l)
				return
			}
			if err == nil {
				l.Close()
				t.Fatal("damaged checkpoint loaded without error")
			}
			if !strings.HasPrefix(err.Error(), "train: ") {
				t.Errorf("error %q", err)
			}
		})
	}
	t.Run("future-version", func(t *testing.T) {
		b := damage(func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"version":2`))
			if i < 0 {
				return nil
			}
			b[i+len(`"version":`)] = '3'
			return b
		})
		if b == nil {
			t.Fatal("Save did not write a version 2 header")
		}
		l, err := Load(bytes.NewReader(b), adj)
		if err == nil {
			l.Close()
			t.Fatal("checkpoint of a future format version loaded")
		}
		if !strings.Contains(err.Error(), "version 3") {
			t.Errorf("error %q does not name the version", err)
		}
	})
	t.Run("header-config", func(t *testing.T) {
		if header == nil {
			t.Fatal(`no "Dim":8 in the header`)
		}
		l, err := Load(bytes.NewReader(header), adj)
		if err == nil {
			l.Close()
			t.Fatal("checkpoint with a changed header loaded")
		}
		if !strings.Contains(err.Error(), "header checksum") {
			t.Errorf("error %q, want the header checksum's", err)
		}
	})
}

// TestAcceptedConfigsSave: every config NewModel accepts can be saved and
// loads back as the same config. Validate used to accept NaN and infinite
// float fields (NaN passes the `< 0` checks, +Inf the `> 0` ones, and the
// fields of switched-off branches are not checked at all), e.g. ClipNorm
// = +Inf as "no clipping": such a model trained, and then every Save
// failed on its JSON header (json: unsupported value), so no checkpoint
// could be written; a NaN field also made the config differ from itself,
// which the train stage's resume check reads as another config.
func TestAcceptedConfigsSave(t *testing.T) {
	base := tinyConfig()
	base.Concept = false
	base.Concepts = 0
	rv := reflect.ValueOf(base)
	for i := range rv.NumField() {
		if rv.Field(i).Kind() != reflect.Float64 {
			continue
		}
		name := rv.Type().Field(i).Name
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			t.Run(fmt.Sprintf("%s=%v", name, v), func(t *testing.T) {
				cfg := base
				reflect.ValueOf(&cfg).Elem().Field(i).SetFloat(v)
				m, err := NewModel(cfg, nil)
				if err != nil {
					if !strings.Contains(err.Error(), name) {
						t.Errorf("error %q does not name %s", err, name)
					}
					return
				}
				defer m.Close()
				var buf bytes.Buffer
				if err := m.Save(&buf); err != nil {
					t.Fatalf("NewModel accepted the config but Save fails: %v", err)
				}
				l, err := Load(&buf, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				if l.Config() != cfg {
					t.Errorf("loaded config %+v, saved %+v", l.Config(), cfg)
				}
			})
		}
	}
}

// TestStepsIndependentOfGOMAXPROCS: the row-parallel and chunked passes of
// a step split their work over GOMAXPROCS goroutines without changing a bit
// of the training state, so a run resumed on another core count (or with
// another GOMAXPROCS) continues byte-identically.
func TestStepsIndependentOfGOMAXPROCS(t *testing.T) {
	for _, loss := range []string{LossDCL, LossVSEPP} {
		t.Run(loss, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Loss, cfg.TextEncoder, cfg.Pooling = loss, TextBiGRU, PoolAttn
			cfg.VocabSize, cfg.WordDim = 3000, 16 // 48k embedding values: Adam/EMA take the parallel path
			state := func(procs int) []byte {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				m, err := NewModel(cfg, adjFor(cfg))
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				s := makeSynth(cfg, 120, 9)
				for k := range 4 {
					if _, err := m.Step(s.batch(cfg, k*30, 30), 1e-3); err != nil {
						t.Fatal(err)
					}
				}
				var b bytes.Buffer
				if err := m.Save(&b); err != nil {
					t.Fatal(err)
				}
				return b.Bytes()
			}
			one := state(1)
			for _, p := range []int{2, 5} {
				if !bytes.Equal(one, state(p)) {
					t.Errorf("training state with GOMAXPROCS %d differs from GOMAXPROCS 1", p)
				}
			}
		})
	}
}

// TestCheckpointLayout pins the byte layout of a checkpoint independently
// of the reader: the magic line, the little-endian header length, the JSON
// header and its CRC-32, then the first tensor's values as little-endian
// float32 (whatever the machine's byte order), and the file's CRC-32 at the
// end.
func TestCheckpointLayout(t *testing.T) {
	cfg := tinyConfig()
	m, err := NewModel(cfg, adjFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.HasPrefix(b, []byte("coderflow-train-checkpoint\n")) {
		t.Fatalf("magic %q", b[:27])
	}
	off := len(ckptMagic)
	n := int(binary.LittleEndian.Uint32(b[off:]))
	off += 4
	js := b[off : off+n]
	off += n
	var h struct {
		Version int `json:"version"`
		Tensors []struct {
			Name string `json:"name"`
			Len  int    `json:"len"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal(js, &h); err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 {
		t.Errorf("version %d, want 2", h.Version)
	}
	if got := binary.LittleEndian.Uint32(b[off:]); got != crc32.ChecksumIEEE(js) {
		t.Errorf("header CRC %08x, want %08x", got, crc32.ChecksumIEEE(js))
	}
	off += 4
	if len(h.Tensors) == 0 || h.Tensors[0].Name != "w/img.W" {
		t.Fatalf("first tensor %+v, want w/img.W", h.Tensors)
	}
	want := m.w["img.W"].Data().([]float32)
	if h.Tensors[0].Len != len(want) {
		t.Fatalf("w/img.W has %d values in the header, the model %d", h.Tensors[0].Len, len(want))
	}
	for i, v := range want {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(b[off+4*i:])); got != v {
			t.Fatalf("w/img.W[%d] = %v in the file, %v in the model", i, got, v)
		}
	}
	end := len(b) - 4
	if got := binary.LittleEndian.Uint32(b[end:]); got != crc32.ChecksumIEEE(b[:end]) {
		t.Errorf("file CRC %08x, want %08x", got, crc32.ChecksumIEEE(b[:end]))
	}
}
