package pipeline_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"coderflow/pipeline"
)

// TestMain doubles as a subprocess entry point for the kill, lock and
// concurrency tests: with COFLOW_HELPER set it runs one command and exits.
func TestMain(m *testing.M) {
	if mode := os.Getenv("COFLOW_HELPER"); mode != "" {
		os.Exit(helperMain(mode, os.Getenv("COFLOW_FILE"), os.Getenv("COFLOW_WORKDIR")))
	}
	os.Exit(m.Run())
}

func helperMain(mode, file, workdir string) int {
	ctx := context.Background()
	switch mode {
	case "lock":
		l, err := pipeline.AcquireLock(ctx, workdir, 0, nil)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Print("locked")
		time.Sleep(time.Minute)
		l.Release()
		return 0
	case "run":
		w, err := pipeline.Load(file, pipeline.LoadOptions{Registry: toyRegistry(), Workdir: workdir})
		if err != nil {
			fmt.Println(err)
			return 2
		}
		log := slog.New(slog.NewTextHandler(os.Stdout, nil))
		res, err := pipeline.Run(ctx, w, pipeline.RunOptions{LockTimeout: time.Minute, Log: log})
		if err != nil {
			fmt.Println(err)
			return 1
		}
		for _, s := range res.Record.Stages {
			fmt.Printf("stage=%s status=%s\n", s.Stage, s.Status)
		}
		return 0
	}
	return 3
}

func helperCmd(t *testing.T, mode, file, workdir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "COFLOW_HELPER="+mode, "COFLOW_FILE="+file, "COFLOW_WORKDIR="+workdir)
	return cmd
}

func itoa(i int) string { return strconv.Itoa(i) }
