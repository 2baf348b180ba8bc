package study_test

import (
	"context"
	"fmt"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/study"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// Three order variants of one small model, their weighted average, and the imbalance of all
// four: raw and difficulty-adjusted per variant and pooled, and the merge's against the
// variants' positions.
func ExampleImbalance() {
	ctx := context.Background()
	tok := tokenizer.ByteLevel()
	task, _ := data.Embedded("arith")
	examples, _ := task.Train.Head(24).Encode(tok, data.EncodeOptions{MaxLen: 129, Overflow: data.OverflowTruncate})
	base, err := llama.New(tensor.NewLlamaConfig(32, 64, 1, 2, 1, tok.VocabSize(), 128), 1, llama.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	pad, _ := tok.Special(tokenizer.PAD)
	cfg := sft.Config{Epochs: 2, BatchSize: 8, LR: 1e-3, Schedule: sft.ScheduleCosine, PadID: pad}
	runs, err := sft.TrainVariants(ctx, base, examples, cfg, sft.VariantSeeds(3, 1), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	variants, _ := study.Models(runs)
	avg, _, err := study.MergeVariants(ctx, base, variants, study.MethodSpec{Name: "weighted average", Method: "linear"}, 1, "f32")
	if err != nil {
		fmt.Println(err)
		return
	}
	merged, err := study.TrainingLosses(ctx, "weighted average", avg, examples, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	an, err := study.Imbalance(runs, merged)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(an.Variants), "variants;", an.Adjusted.Defined(), "adjusted statistics; last epoch:", an.Variants[0].AdjustedLast.Epoch)
	fmt.Println(an.Models[0].Name, "measured against", len(an.Models[0].PerVariant), "variants' positions")
	fig, err := study.FlatteningFigure("arith", runs, merged)
	fmt.Println(len(fig.Series), "curves in the flattening figure,", err)
	// Output:
	// 3 variants; 3 adjusted statistics; last epoch: 1
	// weighted average measured against 3 variants' positions
	// 2 curves in the flattening figure, <nil>
}

// A live imbalance view: the progress callback redraws the figure from the records so far
// every few steps (in a notebook: display.Update(id, fig)); at the end, the run's
// training-dynamics map.
func ExampleLiveImbalanceFigure() {
	tok := tokenizer.ByteLevel()
	task, _ := data.Embedded("arith")
	examples, _ := task.Train.Head(24).Encode(tok, data.EncodeOptions{MaxLen: 129, Overflow: data.OverflowTruncate})
	m, _ := llama.New(tensor.NewLlamaConfig(32, 64, 1, 2, 1, tok.VocabSize(), 128), 1, llama.Options{})
	pad, _ := tok.Special(tokenizer.PAD)
	redrawn := 0
	cfg := sft.Config{Epochs: 2, BatchSize: 8, LR: 1e-3, PadID: pad, LogEvery: 2, Progress: func(p sft.Progress) {
		if p.Phase != "train" {
			return
		}
		fig, err := study.LiveImbalanceFigure("arith, so far", p.Records)
		if err == nil && fig.Series[0].N != nil {
			redrawn++
		}
	}}
	res, err := sft.Train(context.Background(), m, examples, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("redrawn", redrawn, "times over", res.Steps, "steps")
	cart, err := study.CartographyFigure("arith: training dynamics", res)
	points := 0
	for _, s := range cart.Series {
		points += len(s.X)
	}
	fmt.Println(points, "samples on the map,", err)
	// Output:
	// redrawn 3 times over 6 steps
	// 24 samples on the map, <nil>
}
