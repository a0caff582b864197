package features

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPeakRSSFlat runs the stage in child processes (TestRSSChild) on 280
// and on 2,800 images and requires the peak RSS of the larger run to stay
// within 30 % of the smaller one's: memory must not grow with the number
// of images. BenchmarkPeakRSS measures the same on real photos but asserts
// nothing. Kept rows would show: 2,800 rows hold about 42 MB of features.
func TestPeakRSSFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc/self/status (VmHWM): %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	good := fixturePaths(t)[:7] // the decodable fixtures
	rss := func(repeat int) int64 {
		in := imagesArtifact(t, good, repeat)
		cmd := exec.Command(exe, "-test.run=^TestRSSChild$", "-test.v")
		cmd.Env = append(os.Environ(), "CODERFLOW_FEATURES_RSS_INPUT="+in.Dir, "CODERFLOW_FEATURES_RSS_SHARD_ROWS=256")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		var kb, rows int64
		for _, line := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(line, "RSS_KB=%d ROWS=%d", &kb, &rows); err == nil {
				break
			}
		}
		if kb <= 0 || rows != int64(len(good)*repeat) {
			t.Fatalf("repeat %d: RSS %d KiB, %d rows\n%s", repeat, kb, rows, out)
		}
		return kb
	}
	small, big := rss(40), rss(400)
	t.Logf("peak RSS: %d KiB for %d images, %d KiB for %d", small, 7*40, big, 7*400)
	if float64(big) > 1.3*float64(small) {
		t.Errorf("peak RSS grew from %d KiB to %d KiB with 10x the images", small, big)
	}
}
