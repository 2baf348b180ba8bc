package study

import (
	"context"
	"fmt"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/merge"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/viz"
)

// The functions in this file are the study's steps as plain calls, for notebooks: they take
// and return the trainer's and the model's own types, so a cell can go from sft.TrainVariants
// to a merged, evaluated model and its figures in a few lines.

// Models returns the Llama models trained by sft.Train or sft.TrainVariants.
func Models(results []*sft.Result) ([]*llama.Model, error) {
	out := make([]*llama.Model, len(results))
	for i, r := range results {
		m, ok := r.Model.(*llama.Model)
		if !ok {
			return nil, fmt.Errorf("result %d holds a %T, not a Llama model", i, r.Model)
		}
		out[i] = m
	}
	return out, nil
}

// MergeVariants merges fine-tuned variants of base with one method (spec) and seed, and
// returns the merged model (a new model; nothing passed in is changed) with the merge's
// report. precision is "f32" or "bf16" (the variants and the base are rounded to bf16 first,
// as if trained and saved in bf16; the merge is then computed in float32 and stored in
// bf16).
func MergeVariants(ctx context.Context, base *llama.Model, variants []*llama.Model, spec MethodSpec, seed uint64, precision string) (*llama.Model, *merge.Report, error) {
	if len(variants) == 0 {
		return nil, nil, fmt.Errorf("merge %s: no variants", spec.Name)
	}
	if precision == "" {
		precision = "f32"
	}
	if precision != "f32" && precision != "bf16" {
		return nil, nil, fmt.Errorf("merge %s: precision %q is not f32 or bf16", spec.Name, precision)
	}
	names := make([]string, len(variants))
	models := make([]merge.Model, len(variants))
	for i, v := range variants {
		var err error
		if models[i], err = toMergeModel(v, precision); err != nil {
			return nil, nil, fmt.Errorf("merge %s: variant %d: %w", spec.Name, i, err)
		}
		names[i] = fmt.Sprintf("variant %d", i+1)
	}
	baseModel, err := toMergeModel(base, precision)
	if err != nil {
		return nil, nil, fmt.Errorf("merge %s: base: %w", spec.Name, err)
	}
	opt := merge.Options{Method: spec.Method, Base: baseModel, Models: models, Names: names, Seed: seed, Params: spec.Params}
	merged, rep, err := merge.Merge(ctx, opt)
	if err != nil {
		return nil, nil, fmt.Errorf("merge %s: %w", spec.Name, err)
	}
	m, err := fromMerged(base, merged)
	if err != nil {
		return nil, nil, fmt.Errorf("merge %s: %w", spec.Name, err)
	}
	return m, rep, nil
}

// ImbalanceSeries turns training results into the imbalance figure's series: each sample's
// first-epoch position and final loss, one series per result, labelled by order seed.
func ImbalanceSeries(results []*sft.Result) []viz.ImbalanceSeries {
	var out []viz.ImbalanceSeries
	for _, r := range results {
		s := viz.ImbalanceSeries{Name: fmt.Sprintf("order seed %d", r.Config.OrderSeed)}
		for _, f := range r.Final {
			s.Positions = append(s.Positions, f.FirstPosition)
			s.Losses = append(s.Losses, f.Loss)
		}
		out = append(out, s)
	}
	return out
}

// CurveSeries turns training results into the training-curve figure's series.
func CurveSeries(results []*sft.Result) []viz.CurveSeries {
	var out []viz.CurveSeries
	for _, r := range results {
		s := viz.CurveSeries{Name: fmt.Sprintf("order seed %d", r.Config.OrderSeed)}
		for _, l := range r.StepLosses {
			s.Steps = append(s.Steps, l.Step)
			s.Losses = append(s.Losses, l.Loss)
		}
		out = append(out, s)
	}
	return out
}

// SelectionShares turns a merge report into the selection map's per-tensor shares.
func SelectionShares(rep *merge.Report) []viz.TensorShare {
	var out []viz.TensorShare
	for _, t := range rep.Tensors {
		if len(t.Taken) == 0 {
			continue
		}
		out = append(out, viz.TensorShare{Name: t.Name, Numel: int(t.Elements), FromModel: t.Taken, EqualBase: t.BaseEqual})
	}
	return out
}

// MergedLosses is a merged model's loss on every training sample (ids and losses index by
// index): the imbalance of a model that saw no order of its own.
type MergedLosses struct {
	Name   string
	IDs    []string
	Losses []float64
}

// TrainingLosses runs model over the training examples (no update), batched and padded as
// training with cfg does, and returns its per-sample losses under name.
func TrainingLosses(ctx context.Context, name string, model *llama.Model, examples []data.Example, cfg sft.Config) (MergedLosses, error) {
	cfg.Progress = nil
	fl, err := sft.SampleLosses(ctx, model, examples, cfg)
	if err != nil {
		return MergedLosses{}, fmt.Errorf("training losses of %s: %w", name, err)
	}
	out := MergedLosses{Name: name}
	for _, f := range fl {
		out.IDs = append(out.IDs, f.ID)
		out.Losses = append(out.Losses, f.Loss)
	}
	return out, nil
}

// datasetOf puts training runs and merged models' losses in the report's form, so notebooks
// get the report's statistics and figures.
func datasetOf(name string, results []*sft.Result, merged []MergedLosses) (*DatasetResult, error) {
	d := &DatasetResult{Name: name}
	for i, r := range results {
		vl, err := sft.LossesOf(r)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i, err)
		}
		d.Variants = append(d.Variants, VariantResult{OrderSeed: vl.OrderSeed, IDs: vl.IDs, Positions: vl.First, LastPositions: vl.Last, LastEpoch: vl.LastEpoch, FinalLosses: vl.Losses})
	}
	if len(d.Variants) == 0 {
		return nil, fmt.Errorf("no training runs")
	}
	for _, m := range merged {
		// The report's merges are in the variants' id order; a notebook's may come in any.
		where := map[string]float64{}
		for i, id := range m.IDs {
			if i < len(m.Losses) {
				where[id] = m.Losses[i]
			}
		}
		mr := MergeResult{Name: m.Name}
		for _, id := range d.Variants[0].IDs {
			l, ok := where[id]
			if !ok {
				return nil, fmt.Errorf("%s has no loss for sample %q", m.Name, id)
			}
			mr.TrainLosses = append(mr.TrainLosses, l)
		}
		d.Merges = append(d.Merges, mr)
	}
	if err := d.AnalyzeImbalance(); err != nil {
		return nil, err
	}
	return d, nil
}

// Imbalance measures training runs (sft.TrainVariants' results on the same data) and merged
// models' training losses as the report does: raw and difficulty-adjusted statistics per
// variant and pooled, against first- and last-epoch positions, with every merged model
// against the variants' positions (Models, with its flattening).
func Imbalance(results []*sft.Result, merged ...MergedLosses) (*sft.ImbalanceAnalysis, error) {
	d, err := datasetOf("runs", results, merged)
	if err != nil {
		return nil, err
	}
	return d.Imbalance, nil
}

// ImbalanceFigure draws the raw imbalance figure of training runs beside the
// difficulty-adjusted one (raw alone for one run).
func ImbalanceFigure(title string, results []*sft.Result) (*viz.Figure, error) {
	d, err := datasetOf(title, results, nil)
	if err != nil {
		return nil, err
	}
	return d.imbalanceFigure(ImbalanceSeries(results))
}

// FlatteningFigure draws the difficulty-adjusted position curve of the single models against
// each merged model's: does merging flatten the imbalance?
func FlatteningFigure(title string, results []*sft.Result, merged ...MergedLosses) (*viz.Figure, error) {
	d, err := datasetOf(title, results, merged)
	if err != nil {
		return nil, err
	}
	f, err := d.flatteningFigure()
	if err == nil && f == nil {
		err = fmt.Errorf("flattening figure: needs at least two runs and one merged model")
	}
	return f, err
}

// LiveImbalanceFigure draws the imbalance while training runs: every sample seen so far, its
// loss at its latest visit against its first-epoch position (from sft.Progress.Records). Call
// it from a progress callback every N steps and display.Update the figure in place.
func LiveImbalanceFigure(title string, records []sft.StepRecord) (*viz.Figure, error) {
	_, pos, losses := sft.LatestLosses(records)
	if len(pos) == 0 {
		return nil, fmt.Errorf("live imbalance: no samples seen yet")
	}
	return viz.Imbalance([]viz.ImbalanceSeries{{Name: fmt.Sprintf("%d samples, latest visit", len(pos)), Positions: pos, Losses: losses}},
		viz.ImbalanceOptions{Title: title, Spread: "sem", Points: true})
}

// CartographyFigure draws a run's training-dynamics map (Dataset Cartography): each sample's
// mean confidence against its variability over its visits, coloured by first-epoch position.
func CartographyFigure(title string, r *sft.Result) (*viz.Figure, error) {
	if r == nil {
		return nil, fmt.Errorf("cartography: no run")
	}
	dyn, err := sft.Dynamics(r.Records)
	if err != nil {
		return nil, err
	}
	pts := make([]viz.CartographyPoint, len(dyn))
	for i, d := range dyn {
		pts[i] = viz.CartographyPoint{Confidence: d.Confidence, Variability: d.Variability, Position: d.FirstPosition}
	}
	return viz.Cartography(pts, viz.CartographyOptions{Title: title})
}
