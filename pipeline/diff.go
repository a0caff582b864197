package pipeline

import "sort"

// ParamDiff is a param whose value differs between two runs.
type ParamDiff struct {
	Stage string `json:"stage"`
	Param string `json:"param"`
	A     any    `json:"a"`
	B     any    `json:"b"`
}

// MetricDiff is one metric of two runs.
type MetricDiff struct {
	Stage  string  `json:"stage"`
	Metric string  `json:"metric"`
	A      float64 `json:"a"`
	B      float64 `json:"b"`
	HasA   bool    `json:"has_a"`
	HasB   bool    `json:"has_b"`
}

// RunDiff compares two run records.
type RunDiff struct {
	Params  []ParamDiff  `json:"params"`
	Metrics []MetricDiff `json:"metrics"`
}

// DiffRuns lists the params that differ between runs a and b and every
// metric either recorded, stage by stage.
func DiffRuns(a, b *RunRecord) RunDiff {
	var d RunDiff
	stages := map[string]bool{}
	var order []string
	for _, r := range []*RunRecord{a, b} {
		for _, s := range r.Stages {
			if !stages[s.Stage] {
				stages[s.Stage] = true
				order = append(order, s.Stage)
			}
		}
	}
	for _, id := range order {
		sa, _ := a.Stage(id)
		sb, _ := b.Stage(id)
		names := map[string]bool{}
		for k := range sa.Params {
			names[k] = true
		}
		for k := range sb.Params {
			names[k] = true
		}
		for _, k := range sortedKeys(names) {
			if !sameJSON(sa.Params[k], sb.Params[k]) {
				d.Params = append(d.Params, ParamDiff{Stage: id, Param: k, A: sa.Params[k], B: sb.Params[k]})
			}
		}
		ms := map[string]bool{}
		for k := range sa.Metrics {
			ms[k] = true
		}
		for k := range sb.Metrics {
			ms[k] = true
		}
		keys := sortedKeys(ms)
		sort.Strings(keys)
		for _, k := range keys {
			va, oka := sa.Metrics[k]
			vb, okb := sb.Metrics[k]
			d.Metrics = append(d.Metrics, MetricDiff{Stage: id, Metric: k, A: va, B: vb, HasA: oka, HasB: okb})
		}
	}
	return d
}
