package evaluate

import (
	"context"

	"coderflow/pipeline"
)

// ReportSpec is the `report` stage kind.
var ReportSpec = pipeline.Spec{
	Kind:    "report",
	Version: "1",
	Doc:     "A self-contained HTML report (report.html).",
	Stage:   pipeline.StageFunc(runReport),
}

func runReport(ctx context.Context, env *pipeline.Env) error { return nil }
