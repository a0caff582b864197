package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"golang.org/x/text/width"

	"coderflow/internal/pqinspect"
	"coderflow/pipeline"
)

// version is set with -ldflags "-X main.version=..." by release builds.
var version = "dev"

type globalFlags struct {
	workdir string
	verbose bool
	quiet   bool
	sets    []string
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "coderflow",
		Short:         "Cached, inspectable workflows for CODER image-text retrieval",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without a command: usage on stderr and exit 2. (With a RunE, cobra
		// still reports an unknown command word as such.)
		RunE: func(c *cobra.Command, args []string) error {
			fmt.Fprint(c.ErrOrStderr(), c.UsageString())
			return usageError{errors.New("missing command")}
		},
	}
	// --version as well as the version command: the flag users of other
	// tools try first
	root.Version = versionString()
	root.SetVersionTemplate(fmt.Sprintf("coderflow {{.Version}} (cache %s)\n", pipeline.EngineSalt))
	root.PersistentFlags().StringVar(&g.workdir, "workdir", os.Getenv("CODERFLOW_WORKDIR"), "override the workflow's workdir (env CODERFLOW_WORKDIR)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "debug logging")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "only warnings and errors")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if g.quiet && g.verbose {
			return usageError{errors.New("--quiet and --verbose exclude each other")}
		}
		return nil
	}
	root.AddCommand(newRunCmd(g), newStatusCmd(g), newDagCmd(g), newInspectCmd(g), newStagesCmd(),
		newGCCmd(g), newMetricsCmd(g), newKGCmd(g), newVersionCmd())
	return root
}

// exactArgs is cobra.ExactArgs with exit code 2 and the command's usage
// line in the message.
func exactArgs(n int) cobra.PositionalArgs { return argsCheck(cobra.ExactArgs(n)) }

// rangeArgs is cobra.RangeArgs with exit code 2 and the command's usage
// line in the message.
func rangeArgs(lo, hi int) cobra.PositionalArgs { return argsCheck(cobra.RangeArgs(lo, hi)) }

// argsCheck wraps a cobra argument check: its error exits with code 2 and
// says what the command takes ("accepts 1 arg(s), received 0" alone did not
// say that the missing argument is the workflow file).
func argsCheck(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return usageError{fmt.Errorf("%w (usage: %s)", err, strings.TrimSuffix(c.UseLine(), " [flags]"))}
		}
		return nil
	}
}

// loadWorkflow loads and validates a workflow; errors exit with code 2.
func loadWorkflow(g *globalFlags, file string, sets []string) (*pipeline.Workflow, error) {
	w, err := pipeline.Load(file, pipeline.LoadOptions{Sets: sets, Workdir: g.workdir})
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, usageError{err}
		}
		return nil, usageError{fmt.Errorf("invalid workflow:\n%w", err)}
	}
	return w, nil
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// drawable reports whether progress bars can be drawn on f: a terminal
// with a size that moves its cursor. A terminal of 0 columns or rows (a
// pseudo-terminal nobody sized, as some CI runners and editors give) would
// show no bar at all, and no progress either, and one with TERM=dumb (an
// editor's shell) would show the cursor controls as junk, so these get the
// plain log lines.
func drawable(f *os.File) bool {
	if !isTerminal(f) || os.Getenv("TERM") == "dumb" {
		return false
	}
	w, h, err := term.GetSize(int(f.Fd()))
	return err == nil && w > 0 && h > 0
}

func newLogger(g *globalFlags, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if g.verbose {
		level = slog.LevelDebug
	}
	if g.quiet {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.String("time", a.Value.Time().Format("15:04:05.000"))
		}
		return a
	}}))
}

// table prints rows as aligned columns. Columns are as wide as their
// widest cell on the screen (cellWidth: a CJK character takes two columns,
// a combining accent none), not in bytes: "café" in a column padded by
// bytes pushed the rest of its row one column left. Cells are printed with
// cellText, so a name holding a control character (an escape sequence, a
// carriage return) or bytes that are not UTF-8 cannot redraw the terminal.
func table(w io.Writer, header []string, rows [][]string) {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = cellWidth(cellText(h))
	}
	for _, r := range rows {
		for i, c := range r {
			if i < len(width) {
				width[i] = max(width[i], cellWidth(cellText(c)))
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			c = cellText(c)
			b.WriteString(c)
			if i < len(cells)-1 {
				if i < len(width) {
					b.WriteString(strings.Repeat(" ", max(0, width[i]-cellWidth(c))))
				}
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
}

// cellText is s as a table shows it: a control character (C0, DEL, C1:
// ESC, \r, \t, \n...) as its Go escape (\x1b, \r), a byte that is not
// UTF-8 as \xNN; the rest as it is.
func cellText(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return pqinspect.Escape(s)
		}
	}
	return s
}

// cellWidth is how many terminal columns s takes: two for a wide (CJK,
// fullwidth) character, none for a combining mark or a zero-width format
// character, one for the rest.
func cellWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case width.LookupRune(r).Kind() == width.EastAsianWide || width.LookupRune(r).Kind() == width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// fmtDuration formats a duration in seconds for a table: "<1ms" for a
// positive one under a millisecond (a stage that failed at once, a cached
// run; "0s" read as not measured), ms under a second, tenths under a
// minute, seconds above.
func fmtDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d > 0 && d < time.Millisecond:
		return "<1ms"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
