package train

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// TestSaveLoadResumesExactly saves a model after 1 step (queues not yet
// full), 2 steps (queues wrapped: write position inside the ring) and with
// no queue, and checks that the loaded model holds exactly the state a
// resume needs, beyond the tensors sameWeights compares: the Adam step
// count (bias correction), the step count, and for every queue its keys,
// image-id tags, write position and fill count. It then takes the same next
// step on both models (lr of the decayed schedule) and requires their
// checkpoints to be byte-identical, which fails if any of these (or the
// momentum weights or moments) were not restored.
func TestSaveLoadResumesExactly(t *testing.T) {
	for _, tc := range []struct {
		steps, queue int
		concept      bool
	}{{1, 10, true}, {2, 10, true}, {3, 10, false}, {2, 0, true}} {
		t.Run(fmt.Sprintf("steps=%d queue=%d concept=%v", tc.steps, tc.queue, tc.concept), func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Queue, cfg.Concept = tc.queue, tc.concept
			if !cfg.Concept {
				cfg.Concepts = 0
			}
			adj := adjFor(cfg)
			m, err := NewModel(cfg, adj)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s := makeSynth(cfg, 6*(tc.steps+1), 4)
			for k := range tc.steps {
				if _, err := m.Step(s.batch(cfg, 6*k, 6), 1e-3); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if err := m.Save(&buf); err != nil {
				t.Fatal(err)
			}
			l, err := Load(bytes.NewReader(buf.Bytes()), adj)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.adamT != m.adamT || l.steps != m.steps || l.adamT != int64(tc.steps) {
				t.Fatalf("loaded Adam t %d steps %d, saved %d %d", l.adamT, l.steps, m.adamT, m.steps)
			}
			qn, qa := m.queues()
			_, qb := l.queues()
			if len(qa) != len(qb) || (tc.queue > 0) != (len(qa) > 0) {
				t.Fatalf("%d queues saved, %d loaded", len(qa), len(qb))
			}
			for i, a := range qa {
				b := qb[i]
				if a.head != b.head || a.count != b.count || !slices.Equal(a.ids, b.ids) || !slices.Equal(a.f32(), b.f32()) {
					t.Errorf("queue %s: loaded head %d count %d ids %v, saved %d %d %v (or keys differ)", qn[i], b.head, b.count, b.ids, a.head, a.count, a.ids)
				}
				if want := min(6*tc.steps, tc.queue); a.count != want {
					t.Errorf("queue %s holds %d keys, want %d: the test does not reach the intended fill", qn[i], a.count, want)
				}
			}
			sameWeights(t, m, l)
			next := s.batch(cfg, 6*tc.steps, 6)
			la, err := m.Step(next, 1e-4)
			if err != nil {
				t.Fatal(err)
			}
			lb, err := l.Step(next, 1e-4)
			if err != nil {
				t.Fatal(err)
			}
			if la != lb {
				t.Errorf("resumed step losses %+v, uninterrupted %+v", lb, la)
			}
			var x, y bytes.Buffer
			if err := m.Save(&x); err != nil {
				t.Fatal(err)
			}
			if err := l.Save(&y); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(x.Bytes(), y.Bytes()) {
				t.Error("checkpoint after the resumed step differs from the uninterrupted model's")
			}
		})
	}
}
