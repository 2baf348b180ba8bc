package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ordermerge/ordermerge/cluster"
	"github.com/ordermerge/ordermerge/study"
)

func runFinish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("finish", stderr)
	batch := fs.Int("eval-batch", 32, "prompts generated together when evaluating")
	maxMemory := fs.String("max-memory", "256MiB", "memory budget of each merge's tensor buffers")
	var cf computeFlags
	cf.registerDevice(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ordermerge finish [--device cuda] DIR | PLAN.json")
		fmt.Fprintln(stderr, "")
		fmt.Fprintln(stderr, "The finishing job of a submission (ordermerge submit): checks that every variant in DIR is")
		fmt.Fprintln(stderr, "complete (else it refuses, naming the variant), merges them with every method of the plan into")
		fmt.Fprintln(stderr, "DIR/merged, evaluates the base, the variants and the merges, and writes DIR/report.")
		fmt.Fprintln(stderr, "")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give the output folder of a submission, or its plan.json")
	}
	budget, err := parseSize(*maxMemory)
	if err != nil || budget < 0 {
		return usagef("--max-memory %q: give a size such as 512MiB", *maxMemory)
	}
	plan, err := cluster.LoadPlan(fs.Arg(0))
	if err != nil {
		return err
	}
	model, err := cf.options()
	if err != nil {
		return err
	}
	logf := func(line string) { fmt.Fprintf(stdout, "%s %s\n", time.Now().Format(time.TimeOnly), line) }
	res, err := cluster.Finish(ctx, plan, cluster.FinishOptions{Log: logf, EvalBatch: *batch, MaxMemory: budget, Model: model})
	if err != nil {
		return err
	}
	for _, v := range res.Verdicts() {
		fmt.Fprintln(stdout, "- "+v)
	}
	fmt.Fprintf(stdout, "report: %s\n", filepath.Join(plan.Out, cluster.ReportDir, study.ReportMarkdown))
	return nil
}
