package main

import (
	"fmt"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestEvalMetrics: a run whose evaluate record lacks a metric (renamed,
// not reported), failed, or evaluated another split is an error, never a 0
// or a wrong split averaged into the table.
func TestEvalMetrics(t *testing.T) {
	full := func() map[string]float64 {
		return map[string]float64{"i2t_r1": 10, "i2t_r5": 40, "i2t_r10": 60, "t2i_r1": 12, "t2i_r5": 45, "t2i_r10": 65, "rsum": 232, "medr_i2t": 8}
	}
	without := func(name string) map[string]float64 { m := full(); delete(m, name); return m }
	for _, tc := range []struct {
		name    string
		stage   pipeline.StageRecord
		wantErr string
	}{
		{"ran", pipeline.StageRecord{Stage: "evaluate", Status: pipeline.RunRan, Metrics: full(), Params: map[string]any{"split": "test"}}, ""},
		{"cached", pipeline.StageRecord{Stage: "evaluate", Status: pipeline.RunCached, Metrics: full()}, ""},
		{"no rsum", pipeline.StageRecord{Stage: "evaluate", Status: pipeline.RunRan, Metrics: without("rsum")}, "lack rsum"},
		{"no t2i_r10", pipeline.StageRecord{Stage: "evaluate", Status: pipeline.RunRan, Metrics: without("t2i_r10")}, "lack t2i_r10"},
		{"no metrics", pipeline.StageRecord{Stage: "evaluate", Status: pipeline.RunRan}, "lack i2t_r1"},
		{"failed", pipeline.StageRecord{Stage: "evaluate", Status: pipeline.RunFailed, Metrics: full()}, "failed"},
		{"val split", pipeline.StageRecord{Stage: "evaluate", Status: pipeline.RunRan, Metrics: full(), Params: map[string]any{"split": "val"}}, "split val"},
		{"no evaluate", pipeline.StageRecord{Stage: "train", Status: pipeline.RunRan, Metrics: full()}, "no evaluate stage"},
	} {
		rec := &pipeline.RunRecord{ID: "r1", Stages: []pipeline.StageRecord{tc.stage}}
		got, err := evalMetrics(rec)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr == "" && (len(got) != len(metricNames) || got["rsum"] != 232 || got["t2i_r10"] != 65):
			t.Errorf("%s: metrics %v", tc.name, got)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one saying %q (metrics %v)", tc.name, err, tc.wantErr, got)
		}
	}
}

func TestMeanSpread(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want string
	}{
		{nil, "-"},
		{[]float64{42.04}, "42.0"},
		{[]float64{10, 12, 17}, "13.0 ± 3.5"}, // half the range (17-10)/2, not an SD
		{[]float64{1, 1, 1}, "1.0 ± 0.0"},
	} {
		if got := meanSpread(tc.v); got != tc.want {
			t.Errorf("meanSpread(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestParseSeeds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // joined, or "error"
	}{
		{"1,2,3", "1 2 3"},
		{" 1, 2 ,3,", "1 2 3"},
		{"7", "7"},
		{"1,2,1", "error"}, // the repeat would be the cached first run, counted twice
		{"", "error"},
		{",", "error"},
		{"1,x", "error"},
	} {
		got, err := parseSeeds(tc.in)
		if s := strings.Join(got, " "); (err != nil) != (tc.want == "error") || (err == nil && s != tc.want) {
			t.Errorf("parseSeeds(%q) = %q, %v; want %s", tc.in, s, err, tc.want)
		}
	}
}

// TestConfigsSetTheSwitches loads the workflows the ablation runs
// (Taskfile: demo.yaml, and flickr8k.yaml with data.source) with every
// row's overrides and checks that the train stage gets the switches the
// row's name describes, each row differing from the one above in the
// component its name adds.
func TestConfigsSetTheSwitches(t *testing.T) {
	type sw struct {
		loss                string
		beta                float64 // only meaningful for dcl
		queue               int
		clustering, concept bool
	}
	want := map[string]sw{
		"VSE++ (hinge, hardest negative)": {loss: "vsepp", beta: 1, queue: 0},
		"InfoNCE, in-batch negatives":     {loss: "dcl", beta: 0, queue: 0},
		"+ momentum queues":               {loss: "dcl", beta: 0, queue: 1024},
		"+ DCL adaptive weights":          {loss: "dcl", beta: 1, queue: 1024},
		"+ online clustering":             {loss: "dcl", beta: 1, queue: 1024, clustering: true},
		"+ concept branch (full CODER)":   {loss: "dcl", beta: 1, queue: 1024, clustering: true, concept: true},
	}
	src := "data.source=dir:" + t.TempDir()
	for _, wf := range []struct {
		file string
		sets []string
	}{{"../../../workflows/demo.yaml", nil}, {"../../../workflows/flickr8k.yaml", []string{src}}} {
		cs := configs(1024)
		if len(cs) != len(want) {
			t.Fatalf("%d configurations, want %d", len(cs), len(want))
		}
		// every stage but train keeps the same params in every row (so
		// the stages before train are shared through the cache)
		others := map[string]string{}
		wd := t.TempDir() // one workdir, as the ablation's -workdir
		for _, c := range cs {
			w, err := pipeline.Load(wf.file, pipeline.LoadOptions{Sets: append(append([]string{}, wf.sets...), append(c.Sets, "train.seed=2")...), Workdir: wd})
			if err != nil {
				t.Fatalf("%s / %s: %v", wf.file, c.Name, err)
			}
			n, ok := w.Stage("train")
			if !ok {
				t.Fatalf("%s: no train stage", wf.file)
			}
			p := n.Params
			got := sw{p.String("loss"), p.Float("beta"), p.Int("queue"), p.Bool("clustering"), p.Bool("concept")}
			for _, o := range w.Stages {
				if o.ID == "train" {
					continue
				}
				got := fmt.Sprint(o.Params.Map())
				if prev, ok := others[o.ID]; ok && prev != got {
					t.Errorf("%s / %q: stage %s has params %s, another row %s", wf.file, c.Name, o.ID, got, prev)
				}
				others[o.ID] = got
			}
			ws, known := want[c.Name]
			if !known || got != ws || p.Int("seed") != 2 {
				t.Errorf("%s / %q: train gets %+v seed %d, want %+v seed 2", wf.file, c.Name, got, p.Int("seed"), ws)
			}
		}
	}
}

// TestUpstreamNote: the closing line says the stages before train were
// computed once only when this ablation computed them; artifacts found in
// the workdir's cache from an earlier run are counted and said to be
// outside the wall time.
func TestUpstreamNote(t *testing.T) {
	for _, tc := range []struct {
		computed, total int
		want, notWant   string
	}{
		{5, 5, "stages before `train` computed once per data set, then cached", ""},
		{0, 5, "all 5 artifacts of the stages before `train` were already in the workdir's cache", "computed once"},
		{3, 5, "2 of the 5 artifacts of the stages before `train` were already in the workdir's cache", "computed once per data set"},
	} {
		got := upstreamNote(tc.computed, tc.total)
		if !strings.Contains(got, tc.want) || (tc.notWant != "" && strings.Contains(got, tc.notWant)) {
			t.Errorf("upstreamNote(%d, %d) = %q, want %q", tc.computed, tc.total, got, tc.want)
		}
	}
	u := upstream{}
	rec := func(st ...pipeline.StageRecord) *pipeline.RunRecord { return &pipeline.RunRecord{Stages: st} }
	anc := map[string]bool{"data": true, "features": true, "fetch": true, "train": true}
	u.add(anc, rec(pipeline.StageRecord{Stage: "fetch", Key: "f", Status: pipeline.RunSkipped},
		pipeline.StageRecord{Stage: "data", Key: "d", Status: pipeline.RunCached},
		pipeline.StageRecord{Stage: "features", Key: "x", Status: pipeline.RunRan},
		pipeline.StageRecord{Stage: "train", Key: "t", Status: pipeline.RunRan},
		pipeline.StageRecord{Stage: "evaluate", Key: "e", Status: pipeline.RunRan}))
	u.add(anc, rec(pipeline.StageRecord{Stage: "data", Key: "d", Status: pipeline.RunCached},
		pipeline.StageRecord{Stage: "features", Key: "x", Status: pipeline.RunCached}))
	if c, n := u.counts(); c != 1 || n != 2 {
		t.Errorf("upstream counts %d computed of %d, want 1 of 2 (data cached before, features computed here; fetch skipped, train not upstream)", c, n)
	}
}
