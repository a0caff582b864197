//go:build linux

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestStdoutWriteErrors: a failed write to stdout fails every command, as
// it failed metrics --json (status > /dev/full exited 0 with its output
// lost), and a reader that went away (status | head -1, where SIGPIPE is
// ignored) ends the command with exit 1 and no error spew.
func TestStdoutWriteErrors(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the reader is gone: writes fail with EPIPE (not fd 1: no SIGPIPE)
	defer w.Close()
	for _, tc := range []struct {
		name     string
		out      *os.File
		args     []string
		wantCode int
		wantErr  string // "" : nothing on stderr
	}{
		{"FullStages", full, []string{"stages"}, exitFailed, "coderflow: writing output: "},
		{"FullVersion", full, []string{"version"}, exitFailed, "no space left on device"},
		{"ClosedPipeStages", w, []string{"stages"}, exitFailed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := runCLI(t.Context(), tc.args, tc.out, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if tc.wantErr == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantErr)
			}
			if strings.Count(stderr.String(), "\n") > 1 {
				t.Errorf("more than one line on stderr: %q", stderr.String())
			}
		})
	}
}
