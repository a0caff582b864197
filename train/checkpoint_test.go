package train

import (
	"bytes"
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
			b = b[:len(b)-4] // version 1 has no checksum
			i := bytes.Index(b, []byte(`"version":2`))
			if i < 0 {
				return nil // not a version 2 checkpoint
			}
			b[i+len(`"version":`)] = '1'
			return b
		}), true},
	}
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
}
