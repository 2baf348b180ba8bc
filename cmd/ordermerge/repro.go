package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/study"
)

func runRepro(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("repro", stderr)
	quick := fs.Bool("quick", false, "a small version of the study (fewer samples, smaller model, K=2): under two minutes")
	out := fs.String("out", "ordermerge-report", "output folder for report.md, report.html, results.json, figures/ and records/")
	dataList := fs.String("data", "", "comma-separated embedded datasets (default: all five)")
	k := fs.Int("k", 0, "order variants per dataset (default 3; 2 with --quick)")
	mergeSeeds := fs.Int("merge-seeds", 0, "seeds per randomised merge (default 3; 2 with --quick)")
	orderMode := fs.String("order-mode", "", "order mode of the variants: reshuffle (default), fixed or batch-shuffle")
	epochs := fs.Int("epochs", 0, "fine-tuning epochs (default 3; 2 with --quick)")
	precision := fs.String("precision", "", "precision the variants are merged and evaluated in: f32 (default) or bf16 (as the paper)")
	trainSize := fs.Int("train-size", -1, "training samples per dataset (default: the whole split; 160 with --quick)")
	testSize := fs.Int("test-size", -1, "test samples per dataset (default: the whole split; 40 with --quick)")
	unique := fs.Bool("unique-responses", true, "keep only the first training sample of each response, so responses are unique per sample as in real SFT data (false: the whole split)")
	cache := fs.String("cache", "", "folder for the cached base model (default: the user cache folder)")
	var cf computeFlags
	cf.registerDevice(fs)
	cf.registerPrecision(fs, "train-precision")
	from := fs.String("from", "", "write the report from an existing results.json instead of running the study")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ordermerge repro [--quick] [--data a,b] [--k K] --out DIR")
		fmt.Fprintln(stderr, "Runs the paper's study on the embedded datasets and writes DIR/report.md (and .html, results.json, figures).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *from != "" {
		res, err := study.ReadResults(*from)
		if err != nil {
			return err
		}
		if err := study.WriteReport(*out, res, ""); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(*out, study.ReportMarkdown))
		return nil
	}
	cfg := study.DefaultConfig()
	if *quick {
		cfg = study.QuickConfig()
	}
	if *dataList != "" {
		cfg.Datasets = strings.Split(*dataList, ",")
	}
	if *k > 0 {
		cfg.K = *k
	}
	if *mergeSeeds > 0 {
		cfg.MergeSeeds = *mergeSeeds
	}
	if *orderMode != "" {
		m, err := sft.ParseOrderMode(*orderMode)
		if err != nil {
			return usagef("--order-mode: %v", err)
		}
		cfg.Train.OrderMode = m
	}
	if *epochs > 0 {
		cfg.Train.Epochs = *epochs
	}
	if *precision != "" {
		cfg.MergePrecision = *precision
	}
	if *trainSize >= 0 {
		cfg.TrainSize = *trainSize
	}
	if *testSize >= 0 {
		cfg.TestSize = *testSize
	}
	cfg.UniqueResponses = *unique
	cfg.CacheDir = *cache
	opts, err := cf.options()
	if err != nil {
		return err
	}
	cfg.Device, cfg.Precision = opts.Device, opts.Precision
	p := newStudyProgress(stderr)
	cfg.Progress = p.event
	res, err := study.Run(ctx, cfg)
	p.finish()
	if err != nil {
		return err
	}
	command := "ordermerge repro " + strings.Join(args, " ")
	if err := study.WriteReport(*out, res, strings.TrimSpace(command)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s (and report.html, results.json, figures/) after %.0f s\n", filepath.Join(*out, study.ReportMarkdown), res.Seconds)
	for _, v := range res.Verdicts() {
		fmt.Fprintln(stdout, "- "+strings.ReplaceAll(v, "**", ""))
	}
	return nil
}

// studyProgress shows the study's events: step counts redrawn on one line on a terminal, plain
// lines at most every few seconds otherwise; stage changes always get a line.
type studyProgress struct {
	status *statusLine
	last   time.Time
}

func newStudyProgress(w io.Writer) *studyProgress {
	return &studyProgress{status: newStatusLine(w)}
}

func (p *studyProgress) event(e study.Event) {
	stepping := e.Total > 0 && (e.Stage == "train" || e.Stage == "base")
	switch {
	case !stepping:
		p.status.println(e.Message)
	case p.status.tty:
		p.status.redraw(e.Message)
	case time.Since(p.last) >= 5*time.Second || e.Done == e.Total:
		p.status.println(e.Message)
		p.last = time.Now()
	}
}

func (p *studyProgress) finish() { p.status.finish() }
