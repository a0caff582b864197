package main

import (
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
