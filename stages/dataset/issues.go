package dataset

import (
	"fmt"
	"sort"

	"coderflow/pipeline"
)

// maxExamples bounds the examples kept per kind of issue.
const maxExamples = 10

// issues counts the input anomalies a reader skipped or tolerated, with a
// few examples each, for the manifest (info "issues"). In strict mode the
// first anomaly is an error instead.
type issues struct {
	strict   bool
	counts   map[string]int64
	examples map[string][]string
}

func newIssues(strict bool) *issues {
	return &issues{strict: strict, counts: map[string]int64{}, examples: map[string][]string{}}
}

// note records one anomaly of kind (e.g. "missing_images") with an example
// (e.g. the image name). It returns an error in strict mode.
func (s *issues) note(kind, example string) error {
	if s.strict {
		return fmt.Errorf("%s: %s (strict: true; set strict: false to skip and count)", kind, example)
	}
	s.counts[kind]++
	if len(s.examples[kind]) < maxExamples {
		s.examples[kind] = append(s.examples[kind], example)
	}
	return nil
}

// issueInfo is one kind of issue in the manifest.
type issueInfo struct {
	Count    int64    `json:"count"`
	Examples []string `json:"examples"`
}

// publish writes the counts into the manifest (always, so a clean input
// shows "issues": {}) and logs a warning per kind.
func (s *issues) publish(env *pipeline.Env) {
	m := map[string]issueInfo{}
	var kinds []string
	for k := range s.counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		m[k] = issueInfo{Count: s.counts[k], Examples: s.examples[k]}
		env.Log.Warn("input issue", "kind", k, "count", s.counts[k], "examples", s.examples[k])
	}
	env.SetInfo("issues", m)
}

// total returns the number of anomalies of every kind.
func (s *issues) total() int64 {
	var n int64
	for _, c := range s.counts {
		n += c
	}
	return n
}
