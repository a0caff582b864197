//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// pty is a pseudo-terminal whose output is collected.
type pty struct {
	slave *os.File
	mu    sync.Mutex
	out   bytes.Buffer
	done  chan struct{}
}

// openPTY opens a pseudo-terminal of cols x rows (0 x 0: never sized) and
// collects what is written to it.
func openPTY(t *testing.T, cols, rows uint16) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var n int
	ctl := func(fn func(fd uintptr) error) {
		rc, err := m.SyscallConn()
		if err == nil {
			cerr := rc.Control(func(fd uintptr) { err = fn(fd) })
			if cerr != nil {
				err = cerr
			}
		}
		if err != nil {
			m.Close()
			t.Skipf("no pseudo-terminal: %v", err)
		}
	}
	ctl(func(fd uintptr) error { return unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0) })
	ctl(func(fd uintptr) (err error) { n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN); return err })
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if cols > 0 {
		if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
			t.Fatal(err)
		}
	}
	p := &pty{slave: s, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			k, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:k])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		s.Close()
		m.Close()
		<-p.done
	})
	return p
}

func (p *pty) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// screen replays terminal output with the controls mpb uses (\r, \n,
// cursor up ESC[nA, erase below ESC[J) and returns the lines left on the
// screen.
func screen(out string) []string {
	lines := []string{""}
	row := 0
	for i := 0; i < len(out); i++ {
		switch c := out[i]; c {
		case '\r':
		case '\n':
			row++
			if row == len(lines) {
				lines = append(lines, "")
			}
		case 0x1b:
			j := i + 2
			for j < len(out) && (out[j] >= '0' && out[j] <= '9' || out[j] == ';' || out[j] == '?') {
				j++
			}
			if i+1 >= len(out) || out[i+1] != '[' || j >= len(out) {
				continue
			}
			n, _ := strconv.Atoi(out[i+2 : j])
			switch out[j] {
			case 'A':
				row = max(0, row-max(n, 1))
			case 'J':
				lines = lines[:row+1]
				lines[row] = ""
			}
			i = j
		default:
			lines[row] += string(c)
		}
	}
	return lines
}

// TestInterruptNoticeOnBars: on a terminal with progress bars, the Ctrl-C
// notice stays on the screen (written straight to the terminal it was
// erased by the bars' next redraw, so a user never saw it), the run exits 1
// and its last words say it was interrupted and how to resume (they were
// "stage failed: ... context canceled").
func TestInterruptNoticeOnBars(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	wf := filepath.Join(dir, "wait.yaml")
	os.WriteFile(wf, []byte("name: wait\nstages:\n  hold:\n    uses: clitest.wait\n    with: {block: true}\n"), 0o644)
	term := openPTY(t, 100, 30)
	args, _ := json.Marshal([]string{"run", wf, "--workdir", filepath.Join(dir, "wd")})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CODERFLOW_MAIN_HELPER="+string(args), "TERM=xterm") // bars even where the tests run with TERM=dumb
	cmd.Stderr = term.slave
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(term.text(), "1/10") { // the bar is drawn
		if time.Now().After(deadline) {
			t.Fatalf("no progress bar on the terminal:\n%q", term.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitFailed {
		t.Errorf("interrupted run: exit %d (%v), want %d", code, err, exitFailed)
	}
	time.Sleep(100 * time.Millisecond) // let the reader drain the terminal
	var seen bool
	for _, l := range screen(term.text()) {
		seen = seen || strings.Contains(l, "stopping the running stages (press Ctrl-C again to quit at once)")
	}
	if !seen {
		t.Errorf("the interrupt notice is not on the screen:\n%s\n(raw %q)", strings.Join(screen(term.text()), "\n"), term.text())
	}
	if !strings.Contains(term.text(), "coderflow: interrupted (interrupt signal received): finished stages and committed shards are kept; run the same command again to resume") {
		t.Errorf("no interrupted message at the end:\n%q", term.text())
	}
	if !strings.Contains(stdout.String(), "canceled") {
		t.Errorf("stdout has no canceled stage:\n%s", stdout.String())
	}
}

// csi matches a terminal control sequence (cursor up, erase below).
var csi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// TestUnsizedTerminalLogsProgress: on a terminal that has no size (a
// pseudo-terminal nobody sized: mpb draws nothing there), run logs plain
// progress lines instead of showing no progress at all; so it does with
// TERM=dumb (an editor's shell, where cursor controls show as junk). A
// 20-column terminal shows the count too, and no line wider than itself.
func TestUnsizedTerminalLogsProgress(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cols, rows uint16
		term       string
		want       string
	}{
		{"Unsized", 0, 0, "xterm", "msg=finished"},
		{"Sized", 100, 30, "xterm", "10/10"},
		// 20 columns: the count stays on the screen (the padded stage
		// and label columns pushed it past the edge, where mpb cut it)
		{"Narrow", 20, 30, "xterm", "10/10"},
		{"Dumb", 100, 30, "dumb", "msg=finished"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TERM", tc.term)
			dir := t.TempDir()
			wf := filepath.Join(dir, "wait.yaml")
			os.WriteFile(wf, []byte("name: wait\nstages:\n  hold:\n    uses: clitest.wait\n"), 0o644)
			term := openPTY(t, tc.cols, tc.rows)
			var stdout bytes.Buffer
			if code := runCLI(t.Context(), []string{"run", wf, "--workdir", filepath.Join(dir, "wd")}, &stdout, term.slave); code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), term.text())
			}
			time.Sleep(100 * time.Millisecond) // let the reader drain the terminal
			if out := term.text(); !strings.Contains(out, tc.want) {
				t.Errorf("%dx%d terminal: no %q in\n%q", tc.cols, tc.rows, tc.want, out)
			}
			if tc.cols > 0 && tc.term != "dumb" {
				// every frame's bar line, not only the last screen
				for _, l := range strings.Split(term.text(), "\n") {
					l = csi.ReplaceAllString(strings.TrimRight(l, "\r"), "")
					if n := utf8.RuneCountInString(l); n > int(tc.cols) && strings.Contains(l, "hold") && !strings.Contains(l, "msg=") {
						t.Errorf("%d-column terminal: bar line of %d columns: %q", tc.cols, n, l)
					}
				}
			}
		})
	}
}
