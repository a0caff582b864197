package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"coderflow/pipeline"
)

// waitSpec is a test-only stage kind with a progress reporter: it waits
// until canceled (block) or for ms milliseconds (by default long enough for
// the plain progress log to print its "finished" line), and records nonce as
// a metric.
var waitSpec = pipeline.Spec{Kind: "clitest.wait", Version: "1", Doc: "test only: waits",
	Params: []pipeline.Param{
		{Name: "block", Type: pipeline.Bool, Default: false, Doc: "wait until canceled"},
		{Name: "nonce", Type: pipeline.Int, Default: 0, Doc: "recorded as the metric nonce"},
		{Name: "ms", Type: pipeline.Int, Default: 1200, Doc: "how long to wait without block"},
	},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		env.SetMetric("nonce", float64(env.Params.Int("nonce")))
		p := env.Progress("items", 10)
		defer p.Done()
		p.Add(1)
		if env.Params.Bool("block") {
			<-ctx.Done()
			return ctx.Err()
		}
		select {
		case <-time.After(time.Duration(env.Params.Int("ms")) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		p.Add(9)
		return nil
	})}

func init() { pipeline.Default.MustRegister(waitSpec) }

// mainHelper runs mainCode (main without the exit) in a subprocess of the
// test binary when CODERFLOW_MAIN_HELPER holds the JSON args.
func mainHelper() {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv("CODERFLOW_MAIN_HELPER")), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(mainCode(args, os.Stdout, os.Stderr))
}
