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
	// skipped counts, per table split, the listed images of that split
	// left out of the tables (see skipImage)
	skipped map[string]int64
}

// skippedPerSplitInfo is the manifest info key of a reader's per-split
// count of listed images it left out of the images and captions tables
// (missing or unreadable files, too few captions, no features, an image
// listed in an earlier split too): {"test": 2, "train": 1}. Every reader
// that can skip images records it, {} when none was skipped, so that the
// evaluate stage can tell a complete test split from one with gaps. A
// manifest without the key predates it (reader versions before
// dataset.flickr8k 4, dataset.coco and dataset.f30k 4, dataset.precomp 3).
const skippedPerSplitInfo = "images_skipped_per_split"

func newIssues(strict bool) *issues {
	return &issues{strict: strict, counts: map[string]int64{}, examples: map[string][]string{},
		skipped: map[string]int64{}}
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

// skipImage records one listed image of split that is left out of the
// tables, as an anomaly of kind (see note), and counts it for split. It
// returns an error in strict mode.
func (s *issues) skipImage(split, kind, example string) error {
	if err := s.note(kind, example); err != nil {
		return err
	}
	s.skipped[split]++
	return nil
}

// issueInfo is one kind of issue in the manifest.
type issueInfo struct {
	Count    int64    `json:"count"`
	Examples []string `json:"examples"`
}

// publish writes the counts and the per-split image skips into the
// manifest (always, so a clean input shows "issues": {} and
// "images_skipped_per_split": {}) and logs a warning per kind.
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
	env.SetInfo(skippedPerSplitInfo, s.skipped)
}

// total returns the number of anomalies of every kind.
func (s *issues) total() int64 {
	var n int64
	for _, c := range s.counts {
		n += c
	}
	return n
}
