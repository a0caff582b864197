package train

import (
	"bytes"
	"encoding/binary"
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
