package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/eval"
	"github.com/ordermerge/ordermerge/merge"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/study"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// FinishOptions tune the finishing step.
type FinishOptions struct {
	// Log, when set, receives a line for every step (the job's log).
	Log func(string)
	// EvalBatch is the number of prompts generated together (default 32).
	EvalBatch int
	// MaxMemory bounds each merge's buffers in bytes (0: the merge default).
	MaxMemory int64
	// Model places the models that are evaluated (device, precision; zero: the CPU).
	Model llama.Options
}

func (o FinishOptions) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(format, args...))
	}
}

// IncompleteError is the finishing step's refusal: a variant is missing or incomplete.
type IncompleteError struct {
	Out      string
	Problems []string // one per variant, naming it
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("cannot merge the variants of %s: %s (see `ordermerge status %s`; `ordermerge status --requeue %s` trains them again from their checkpoints)",
		e.Out, strings.Join(e.Problems, "; "), e.Out, e.Out)
}

// MergeDir is where the finishing step writes the merge of spec with the given seed (the
// seed is left out of the name for methods that are not randomised).
func (p *Plan) MergeDir(spec study.MethodSpec, seed uint64) string {
	slug := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, spec.Name)
	for strings.Contains(slug, "--") {
		slug = strings.ReplaceAll(slug, "--", "-")
	}
	slug = strings.Trim(slug, "-")
	if info, ok := merge.LookupMethod(spec.Method); ok && !info.Randomised {
		return filepath.Join(p.Out, MergedDir, slug)
	}
	return filepath.Join(p.Out, MergedDir, fmt.Sprintf("%s-seed-%d", slug, seed))
}

// mergeSeeds returns the seeds a method is merged with.
func (p *Plan) mergeSeeds(spec study.MethodSpec) []uint64 {
	n := 1
	if info, ok := merge.LookupMethod(spec.Method); ok && info.Randomised {
		n = p.MergeSeeds
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

// CheckVariants returns every variant of the plan, or an *IncompleteError naming each one that
// is missing, incomplete or was trained with another order seed than the plan's.
func (p *Plan) CheckVariants() ([]Variant, error) {
	var vs []Variant
	var problems []string
	for i := 0; i < p.K; i++ {
		v, err := ReadVariant(p.VariantDir(i))
		if err != nil {
			return nil, err
		}
		switch {
		case !v.Complete:
			problems = append(problems, fmt.Sprintf("variant %d (order seed %d): %s", i, p.Seed(i), v.Problem))
		case v.Config.OrderSeed != p.Seed(i):
			problems = append(problems, fmt.Sprintf("variant %d: %s was trained with order seed %d, the plan says %d", i, v.Dir, v.Config.OrderSeed, p.Seed(i)))
		}
		vs = append(vs, v)
	}
	if len(problems) > 0 {
		return nil, &IncompleteError{Out: p.Out, Problems: problems}
	}
	return vs, nil
}

// Finish is the finishing job: it checks that every variant is complete (else it refuses with
// an *IncompleteError before doing anything), merges the variants with every method of the
// plan (randomised ones with each merge seed) into OUT/merged, evaluates the base, every
// variant and every merge on the evaluation data, and writes the report into OUT/report
// (the same report as `ordermerge repro`). Running it again redoes the merges and the report.
func Finish(ctx context.Context, p *Plan, opt FinishOptions) (*study.Results, error) {
	start := time.Now()
	if err := p.Check(); err != nil {
		return nil, err
	}
	variants, err := p.CheckVariants()
	if err != nil {
		return nil, err
	}
	// Everything that can fail cheaply fails before the merges: the records and their
	// statistics, the tokenizer, the evaluation data.
	results := make([]study.VariantResult, len(variants))
	for i, v := range variants {
		if results[i], err = variantResult(v); err != nil {
			return nil, fmt.Errorf("variant %d: %w", i, err)
		}
	}
	tok, err := tokenizer.Load(variants[0].Dir)
	if err != nil {
		return nil, fmt.Errorf("variant 0: %w", err)
	}
	test, err := data.Open(p.EvalData, p.EvalSplit)
	if err != nil {
		return nil, fmt.Errorf("evaluation data: %w", err)
	}
	if p.TestSize > 0 {
		test = test.Head(p.TestSize)
	}
	tmpl, err := data.TemplateByName(templateName(p.Template))
	if err != nil {
		return nil, err
	}
	base, baseDesc, err := p.baseFolder(tok)
	if err != nil {
		return nil, err
	}
	batch := opt.EvalBatch
	if batch <= 0 {
		batch = 32
	}
	score := func(what, dir string) (study.Score, int, error) {
		m, err := llama.Load(dir, opt.Model)
		if err != nil {
			return study.Score{}, 0, fmt.Errorf("%s: %w", what, err)
		}
		r, err := eval.Evaluate(ctx, m, tok, test, eval.Options{Template: tmpl, BatchSize: batch, Losses: true})
		if err != nil {
			return study.Score{}, 0, fmt.Errorf("evaluating %s: %w", what, err)
		}
		opt.logf("%s: %s %.1f%% (%d/%d), mean loss %.4f", what, r.Metric, 100*r.Accuracy, r.Correct, r.N, r.MeanLoss)
		return study.Score{Accuracy: r.Accuracy, Correct: r.Correct, N: r.N, MeanLoss: r.MeanLoss}, m.NumParams(), nil
	}

	ds := study.DatasetResult{Name: test.Name, Metric: test.Metric, Description: test.Description, TestSize: test.Len()}
	if name, ok := strings.CutPrefix(p.Data, "embedded:"); ok {
		if task, err := data.Embedded(name); err == nil {
			ds.Name, ds.Kind, ds.Metric, ds.Description = task.Name, task.Kind, task.Metric, task.Description
		}
	}
	ds.TrainSize = len(results[0].IDs)
	var params int
	if ds.Base, params, err = score("the base model", base); err != nil {
		return nil, err
	}
	for i := range results {
		if results[i].Test, _, err = score(fmt.Sprintf("variant %d (order seed %d)", i, p.Seed(i)), variants[i].Dir); err != nil {
			return nil, err
		}
	}
	ds.Variants = results
	var dirs []string
	for _, v := range variants {
		dirs = append(dirs, v.Dir)
	}
	for _, spec := range p.Methods {
		mr := study.MergeResult{Name: spec.Name, Method: spec.Method, Params: spec.Params}
		for _, seed := range p.mergeSeeds(spec) {
			out := p.MergeDir(spec, seed)
			opt.logf("merging with %s (seed %d) into %s", spec.Name, seed, out)
			rep, err := mergeFolders(ctx, spec, seed, base, dirs, out, opt.MaxMemory)
			if err != nil {
				return nil, err
			}
			s, _, err := score(fmt.Sprintf("%s (seed %d)", spec.Name, seed), out)
			if err != nil {
				return nil, err
			}
			mr.Seeds = append(mr.Seeds, seed)
			mr.Runs = append(mr.Runs, s)
			if len(mr.Seeds) == 1 && rep.Selected {
				mr.Taken, mr.BaseEqual, mr.KeptBase = rep.Total.Taken, rep.Total.BaseEqual, rep.Total.KeptBase
				for _, t := range rep.Tensors {
					mr.Tensors = append(mr.Tensors, study.TensorShare{Name: t.Name, Elements: t.Elements, Taken: t.Taken, BaseEqual: t.BaseEqual})
				}
			}
		}
		ds.Merges = append(ds.Merges, mr)
	}
	// The variants' imbalance, raw and difficulty-adjusted (the merges' training losses are not
	// measured here: the finishing job does not hold the training data).
	if err := ds.AnalyzeImbalance(); err != nil {
		return nil, err
	}
	ds.Seconds = time.Since(start).Seconds()

	cfg := study.Config{
		Datasets: []string{ds.Name}, TestSize: p.TestSize, K: p.K, FirstOrderSeed: p.FirstSeed,
		MergeSeeds: p.MergeSeeds, Methods: p.Methods, Train: variants[0].Config, MergePrecision: "f32", EvalBatch: batch,
	}
	if c, err := tensor.ReadConfig(filepath.Join(base, tensor.ConfigFile)); err == nil {
		cfg.Model = c
	}
	host, _ := os.Hostname()
	res := &study.Results{
		Config:   cfg,
		Machine:  fmt.Sprintf("the finishing job on %s (%s/%s, %d CPUs); each variant in its own job", host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		Base:     study.BaseResult{Dir: base, Params: params, Source: baseDesc},
		Datasets: []study.DatasetResult{ds},
		Seconds:  time.Since(start).Seconds(),
	}
	report := filepath.Join(p.Out, ReportDir)
	if err := study.WriteReport(report, res, p.Command); err != nil {
		return nil, err
	}
	opt.logf("report: %s", filepath.Join(report, study.ReportMarkdown))
	return res, nil
}

func templateName(t string) string {
	if t == "" {
		return "default"
	}
	return t
}

// baseFolder returns the checkpoint folder the variants started from, and a description for
// the report. An --init plan's base is initialised here exactly as train initialised it and
// written to OUT/base (merges need it as a folder).
func (p *Plan) baseFolder(tok tokenizer.Tokenizer) (string, string, error) {
	if p.Base != "" {
		return p.Base, "the checkpoint " + p.Base, nil
	}
	dir := filepath.Join(p.Out, BaseDir)
	desc := fmt.Sprintf("initialised from %s with init seed %d", p.Init, p.InitSeed)
	if _, err := os.Stat(filepath.Join(dir, tensor.ConfigFile)); err == nil {
		return dir, desc, nil
	}
	cfg, err := tensor.ReadConfig(p.Init)
	if err != nil {
		return "", "", fmt.Errorf("init config: %w", err)
	}
	m, err := llama.New(cfg, p.InitSeed, llama.Options{})
	if err != nil {
		return "", "", fmt.Errorf("init config %s: %w", p.Init, err)
	}
	if err := sft.SaveModel(dir, m, true); err != nil {
		return "", "", fmt.Errorf("writing the base model: %w", err)
	}
	if err := tokenizer.Save(dir, tok); err != nil {
		return "", "", err
	}
	return dir, desc, nil
}

// variantResult reads a complete variant's records into the report's form.
func variantResult(v Variant) (study.VariantResult, error) {
	r := study.VariantResult{OrderSeed: v.Config.OrderSeed}
	final, err := sft.ReadFinalLosses(filepath.Join(v.Dir, sft.FinalLossesFile))
	if err != nil {
		return r, err
	}
	records, err := sft.ReadStepRecords(filepath.Join(v.Dir, sft.RecordsFile))
	if err != nil {
		return r, err
	}
	if r.Imbalance, err = sft.Imbalance(final, records, 0, sft.StatsOptions{Seed: v.Config.OrderSeed}); err != nil {
		return r, fmt.Errorf("%s: imbalance statistics: %w", v.Dir, err)
	}
	r.LastEpoch = max(v.Config.Epochs-1, 0)
	if last, _, err := sft.PositionLosses(final, records, r.LastEpoch); err == nil {
		r.LastPositions = last
	}
	for _, f := range final {
		r.IDs = append(r.IDs, f.ID)
		r.Positions = append(r.Positions, f.FirstPosition)
		r.FinalLosses = append(r.FinalLosses, f.Loss)
		r.TrainLoss += f.Loss
	}
	r.TrainLoss /= float64(max(1, len(final)))
	for _, s := range v.StepLosses {
		r.Curve = append(r.Curve, s.Loss)
	}
	return r, nil
}

// mergeFolders merges the variant folders with one method and seed into out (replacing a
// merge an earlier run of the finishing step wrote there).
func mergeFolders(ctx context.Context, spec study.MethodSpec, seed uint64, base string, dirs []string, out string, maxMemory int64) (*merge.Report, error) {
	cfg := &merge.Config{Method: spec.Method, Base: base, Params: spec.Params, Seed: seed}
	for _, d := range dirs {
		cfg.Models = append(cfg.Models, merge.Input{Path: d})
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(out)
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return nil, statErr
	}
	rep, err := merge.Run(ctx, cfg, merge.RunOptions{Out: out, Force: statErr == nil, MaxMemory: maxMemory})
	if err != nil {
		return nil, fmt.Errorf("merge %s (seed %d): %w", spec.Name, seed, err)
	}
	return rep, nil
}
