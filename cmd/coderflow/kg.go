package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newKGCmd(g *globalFlags) *cobra.Command {
	var rel string
	var sets []string
	c := &cobra.Command{
		Use:   "kg WORKFLOW.yaml STAGE neighbors TERM",
		Short: "Query the knowledge graph stored by a kg.conceptnet stage",
		Args:  exactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("kg: not wired yet")
		},
	}
	c.Flags().StringVar(&rel, "rel", "", "only this relation, e.g. /r/IsA")
	c.Flags().StringArrayVar(&sets, "set", nil, "param override, as `run --set`")
	return c
}
