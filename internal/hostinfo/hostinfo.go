// Package hostinfo describes the machine for benchmark and results reports.
package hostinfo

import (
	"os"
	"runtime"
	"strings"
)

// CPUModel returns the CPU model name from /proc/cpuinfo, or GOARCH.
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
