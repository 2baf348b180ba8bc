package study

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/eval"
	"github.com/ordermerge/ordermerge/merge"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// Run runs the study: base model, then for every dataset the K order variants, their
// imbalance, the merges and the evaluations. It stops at the next step boundary when ctx is
// cancelled and returns ctx's error.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	tok := tokenizer.ByteLevel()
	base, br, err := BaseModel(ctx, c, tok)
	if err != nil {
		return nil, err
	}
	res := &Results{Config: c, Base: br, Machine: machine(base)}
	for i, name := range c.Datasets {
		c.emit(Event{Stage: "dataset", Dataset: name, Message: fmt.Sprintf("dataset %d of %d: %s", i+1, len(c.Datasets), name), Done: i, Total: len(c.Datasets)})
		dr, err := runDataset(ctx, c, tok, base, name)
		if err != nil {
			return nil, err
		}
		res.Datasets = append(res.Datasets, *dr)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func machine(m *llama.Model) string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), m.Device().Describe(), runtime.Version())
}

// Split returns the embedded dataset's train and test splits as the study trains and
// evaluates on them: responses made unique (Config.UniqueResponses) and cut to TrainSize and
// TestSize.
func Split(cfg Config, name string) (train, test *data.Dataset, err error) {
	_, train, test, err = split(cfg, name)
	return train, test, err
}

// split returns the dataset's train and test splits, cut to the configured sizes.
func split(c Config, name string) (*data.Task, *data.Dataset, *data.Dataset, error) {
	task, err := data.Embedded(name)
	if err != nil {
		return nil, nil, nil, err
	}
	train, test := task.Train, task.Test
	if c.UniqueResponses {
		train = uniqueResponses(train)
	}
	if c.TrainSize > 0 {
		train = train.Head(c.TrainSize)
	}
	if c.TestSize > 0 {
		test = test.Head(c.TestSize)
	}
	return task, train, test, nil
}

func runDataset(ctx context.Context, c Config, tok tokenizer.Tokenizer, base *llama.Model, name string) (*DatasetResult, error) {
	start := time.Now()
	task, train, test, err := split(c, name)
	if err != nil {
		return nil, err
	}
	dr := &DatasetResult{Name: name, Kind: task.Kind, Metric: task.Metric, Description: task.Description, TrainSize: train.Len(), TestSize: test.Len()}
	ctxLen := base.Config().MaxPositionEmbeddings
	examples, err := train.Encode(tok, data.EncodeOptions{MaxLen: ctxLen + 1, Overflow: data.OverflowTruncate})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	tc := c.Train
	tc.PadID, _ = tok.Special(tokenizer.PAD)
	tc.Truncate = true
	tc.Progress = func(p sft.Progress) {
		if p.Phase == "train" {
			c.emit(Event{Stage: "train", Dataset: name, Message: fmt.Sprintf("%s: variant %d/%d: %s", name, p.Variant+1, p.Variants, p), Done: p.Step, Total: p.TotalSteps})
		}
	}
	seeds := sft.VariantSeeds(c.K, c.FirstOrderSeed)
	runs, err := sft.TrainVariants(ctx, base, examples, tc, seeds, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// The models compared: in bf16 precision every model is rounded to bf16 first, as if it
	// had been trained and saved in bf16 (the paper's setting).
	baseEval := base
	var variants []*llama.Model
	for _, r := range runs {
		m, ok := r.Model.(*llama.Model)
		if !ok {
			return nil, fmt.Errorf("%s: trained model is %T, not a Llama model", name, r.Model)
		}
		variants = append(variants, m)
	}
	if c.MergePrecision == "bf16" {
		if baseEval, err = roundBF16(base); err != nil {
			return nil, err
		}
		for i := range variants {
			if variants[i], err = roundBF16(variants[i]); err != nil {
				return nil, err
			}
		}
	}
	evaluate := func(what string, m *llama.Model) (Score, error) {
		c.emit(Event{Stage: "eval", Dataset: name, Message: fmt.Sprintf("%s: evaluating %s on %d test samples", name, what, test.Len())})
		r, err := eval.Evaluate(ctx, m, tok, test, eval.Options{BatchSize: c.EvalBatch, Losses: true})
		if err != nil {
			return Score{}, fmt.Errorf("%s: evaluating %s: %w", name, what, err)
		}
		return Score{Accuracy: r.Accuracy, Correct: r.Correct, N: r.N, MeanLoss: r.MeanLoss}, nil
	}
	if dr.Base, err = evaluate("the base model", baseEval); err != nil {
		return nil, err
	}
	for i, r := range runs {
		vr := VariantResult{OrderSeed: seeds[i]}
		if vr.Imbalance, err = r.Imbalance(); err != nil {
			return nil, fmt.Errorf("%s: variant %d: %w", name, i, err)
		}
		if vl, err := sft.LossesOf(r); err == nil {
			vr.LastPositions, vr.LastEpoch = vl.Last, vl.LastEpoch
		}
		for _, f := range r.Final {
			vr.IDs = append(vr.IDs, f.ID)
			vr.Positions = append(vr.Positions, f.FirstPosition)
			vr.FinalLosses = append(vr.FinalLosses, f.Loss)
			vr.TrainLoss += f.Loss
		}
		vr.TrainLoss /= float64(max(1, len(r.Final)))
		for _, s := range r.StepLosses {
			vr.Curve = append(vr.Curve, s.Loss)
		}
		if vr.Test, err = evaluate(fmt.Sprintf("variant %d", i+1), variants[i]); err != nil {
			return nil, err
		}
		dr.Variants = append(dr.Variants, vr)
	}
	mergeEval := func(spec MethodSpec, vs []*llama.Model, seed uint64) (Score, *merge.Report, *llama.Model, error) {
		// The variants are already rounded when the precision is bf16; rounding again is exact.
		m, rep, err := MergeVariants(ctx, baseEval, vs, spec, seed, c.MergePrecision)
		if err != nil {
			return Score{}, nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		s, err := evaluate(fmt.Sprintf("%s (seed %d, %d variants)", spec.Name, seed, len(vs)), m)
		return s, rep, m, err
	}
	// trainLosses is a merged model's loss on every training sample, in the variants' id
	// order, batched and padded as the variants' final losses were.
	lossCfg := tc
	lossCfg.Progress = nil
	trainLosses := func(what string, m *llama.Model) ([]float64, error) {
		c.emit(Event{Stage: "merge", Dataset: name, Message: fmt.Sprintf("%s: loss of %s on the %d training samples", name, what, len(examples))})
		fl, err := sft.SampleLosses(ctx, m, examples, lossCfg)
		if err != nil {
			return nil, fmt.Errorf("%s: training losses of %s: %w", name, what, err)
		}
		out := make([]float64, len(fl))
		for i, f := range fl {
			if i >= len(dr.Variants[0].IDs) || f.ID != dr.Variants[0].IDs[i] {
				return nil, fmt.Errorf("%s: training losses of %s: sample %d is %q, the variants' is another", name, what, i, f.ID)
			}
			out[i] = f.Loss
		}
		return out, nil
	}
	for _, spec := range c.Methods {
		info, ok := merge.LookupMethod(spec.Method)
		if !ok {
			return nil, fmt.Errorf("study: unknown merge method %q", spec.Method)
		}
		mr := MergeResult{Name: spec.Name, Method: spec.Method, Params: spec.Params}
		n := 1
		if info.Randomised {
			n = c.MergeSeeds
		}
		for s := 0; s < n; s++ {
			seed := uint64(s + 1)
			c.emit(Event{Stage: "merge", Dataset: name, Message: fmt.Sprintf("%s: merging with %s (seed %d)", name, spec.Name, seed)})
			score, rep, merged, err := mergeEval(spec, variants, seed)
			if err != nil {
				return nil, err
			}
			if s == 0 {
				if mr.TrainLosses, err = trainLosses(spec.Name, merged); err != nil {
					return nil, err
				}
			}
			mr.Seeds = append(mr.Seeds, seed)
			mr.Runs = append(mr.Runs, score)
			if s == 0 && rep.Selected {
				mr.Taken, mr.BaseEqual, mr.KeptBase = rep.Total.Taken, rep.Total.BaseEqual, rep.Total.KeptBase
				for _, t := range rep.Tensors {
					mr.Tensors = append(mr.Tensors, TensorShare{Name: t.Name, Elements: t.Elements, Taken: t.Taken, BaseEqual: t.BaseEqual})
				}
			}
		}
		dr.Merges = append(dr.Merges, mr)
	}
	// K ablation: merges of the first k variants. k = 1 is variant 1 itself (linear and
	// parameter selection of one model return it unchanged) and k = K is the main table.
	for _, an := range c.Ablation {
		spec := methodByName(c.Methods, an)
		mr, _ := dr.Merge(an)
		for k := 1; k <= c.K; k++ {
			p := AblationPoint{Name: an, K: k}
			switch k {
			case 1:
				p.Runs = []float64{dr.Variants[0].Test.Accuracy}
			case c.K:
				p.Runs = mr.Accuracies()
			default:
				for _, seed := range mr.Seeds {
					s, _, _, err := mergeEval(spec, variants[:k], seed)
					if err != nil {
						return nil, err
					}
					p.Runs = append(p.Runs, s.Accuracy)
				}
			}
			dr.Ablation = append(dr.Ablation, p)
		}
	}
	if err := dr.AnalyzeImbalance(); err != nil {
		return nil, err
	}
	dr.Seconds = time.Since(start).Seconds()
	return dr, nil
}

func methodByName(ms []MethodSpec, name string) MethodSpec {
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	return MethodSpec{}
}

// toMergeModel copies a model's parameters into named tensors of the merge precision.
func toMergeModel(m *llama.Model, precision string) (merge.Model, error) {
	dt := tensor.F32
	if precision == "bf16" {
		dt = tensor.BF16
	}
	out := merge.Model{}
	values, err := m.Values()
	if err != nil {
		return nil, fmt.Errorf("model values: %w", err)
	}
	off := 0
	for _, p := range m.Params() {
		n := p.Numel()
		t, err := tensor.FromFloat32(p.Name, p.Shape, values[off:off+n], dt)
		if err != nil {
			return nil, err
		}
		out[p.Name] = t
		off += n
	}
	return out, nil
}

// fromMerged returns a copy of like whose parameters are the merged tensors.
func fromMerged(like *llama.Model, merged merge.Model) (*llama.Model, error) {
	m, err := like.CloneModel()
	if err != nil {
		return nil, err
	}
	for _, p := range m.Params() {
		t, ok := merged[p.Name]
		if !ok {
			return nil, fmt.Errorf("merged model lacks %s", p.Name)
		}
		v := make([]float32, p.Numel())
		if err := tensor.DecodeFloat32(v, t.Data, t.DType); err != nil {
			return nil, fmt.Errorf("merged %s: %w", p.Name, err)
		}
		if err := p.Write(v); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// roundBF16 returns a copy of m with every parameter rounded to bfloat16.
func roundBF16(m *llama.Model) (*llama.Model, error) {
	c, err := m.CloneModel()
	if err != nil {
		return nil, err
	}
	v, err := c.Values()
	if err != nil {
		return nil, err
	}
	for i, x := range v {
		v[i] = tensor.Float32FromBF16(tensor.BF16FromFloat32(x))
	}
	return c, c.SetValues(v)
}

// uniqueResponses returns the samples of d whose response no earlier sample has.
func uniqueResponses(d *data.Dataset) *data.Dataset {
	out := *d
	out.Samples = nil
	seen := map[string]bool{}
	for _, s := range d.Samples {
		if !seen[s.Response] {
			seen[s.Response] = true
			out.Samples = append(out.Samples, s)
		}
	}
	return &out
}
