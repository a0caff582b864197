package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"coderflow/pipeline"
)

// Shell completion (coderflow completion bash|zsh|fish|powershell) of what
// only the workflow file knows: stage ids after --only, --from, --until,
// --force and as the STAGE of inspect and kg, and STAGE.PARAM= after --set.

// completionWorkflow loads the workflow named by the first argument, or
// returns nil (no argument yet, or a file that does not load).
func completionWorkflow(cmd *cobra.Command, args []string) *pipeline.Workflow {
	if len(args) == 0 {
		return nil
	}
	workdir, _ := cmd.Flags().GetString("workdir")
	w, err := pipeline.Load(args[0], pipeline.LoadOptions{Workdir: workdir})
	if err != nil {
		return nil
	}
	return w
}

// stageIDs returns the workflow's stage ids that start with prefix.
func stageIDs(w *pipeline.Workflow, prefix string) []string {
	var ids []string
	for _, id := range w.StageIDs() {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	return ids
}

// completeStageFlag completes a flag whose value is a stage id.
func completeStageFlag(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	w := completionWorkflow(cmd, args)
	if w == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return stageIDs(w, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeSet completes --set: "STAGE." (or "params.") first, then
// "STAGE.PARAM=" with the params of the stage's kind (or the workflow's).
func completeSet(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	w := completionWorkflow(cmd, args)
	if w == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	const more = cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	stage, param, dotted := strings.Cut(toComplete, ".")
	if !dotted {
		var out []string
		for _, id := range append(w.StageIDs(), "params") {
			if strings.HasPrefix(id, stage) {
				out = append(out, id+".")
			}
		}
		return out, more
	}
	if strings.Contains(param, "=") {
		return nil, cobra.ShellCompDirectiveNoFileComp // a value: nothing to offer
	}
	var names []string
	if stage == "params" {
		for name := range w.Params {
			names = append(names, name)
		}
		slices.Sort(names)
	} else if n, ok := w.Stage(stage); ok {
		for _, p := range n.Spec.Params {
			names = append(names, p.Name)
		}
	}
	var out []string
	for _, name := range names {
		if strings.HasPrefix(name, param) {
			out = append(out, stage+"."+name+"=")
		}
	}
	return out, more
}

// completeStageArg completes the STAGE argument (the second) of inspect
// WORKFLOW.yaml STAGE and kg WORKFLOW.yaml STAGE, and the word after it
// for kg; the first argument completes as a file.
func completeStageArg(kg bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch {
		case len(args) == 0:
			return nil, cobra.ShellCompDirectiveDefault
		case len(args) == 1 && isWorkflowFile(args[0]):
			w := completionWorkflow(cmd, args)
			if w == nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			ids := stageIDs(w, toComplete)
			if kg { // only the stages that hold a graph
				ids = slices.DeleteFunc(ids, func(id string) bool {
					n, _ := w.Stage(id)
					return !slices.Contains(graphKinds, n.Kind)
				})
			}
			return ids, cobra.ShellCompDirectiveNoFileComp
		case len(args) == 2 && kg:
			return []string{"neighbors"}, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// registerStageCompletion registers the completions of the flags of c that
// name stages, and of --set.
func registerStageCompletion(c *cobra.Command, stageFlags ...string) {
	for _, name := range stageFlags {
		_ = c.RegisterFlagCompletionFunc(name, completeStageFlag)
	}
	if c.Flags().Lookup("set") != nil {
		_ = c.RegisterFlagCompletionFunc("set", completeSet)
	}
}
