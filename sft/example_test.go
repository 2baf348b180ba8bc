package sft_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/sft"
)

// reverseTask makes n samples: a prompt of random letters 1..20 and a separator 21, then the
// same letters reversed as the response.
func reverseTask(n int) []data.Example {
	rng := sft.NewRNG(1)
	out := make([]data.Example, n)
	for i := range out {
		k := 3 + rng.Intn(3)
		toks := []int32{}
		for j := 0; j < k; j++ {
			toks = append(toks, int32(1+rng.Intn(20)))
		}
		toks = append(toks, 21)
		for j := k - 1; j >= 0; j-- {
			toks = append(toks, toks[j])
		}
		out[i] = data.Example{ID: fmt.Sprintf("rev-%03d", i), Tokens: toks, PromptLen: k + 1}
	}
	return out
}

// Train fine-tunes a model (here the package's TinyModel) on examples; the order of the data
// is fully decided by OrderSeed and OrderMode.
func ExampleTrain() {
	model, _ := sft.NewTinyModel(sft.TinyConfig{Vocab: 22, Seed: 1})
	cfg := sft.Config{Epochs: 3, BatchSize: 8, LR: 3e-3, OrderSeed: 42, OrderMode: sft.OrderReshuffle}
	res, err := sft.Train(context.Background(), model, reverseTask(64), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	first, last := res.StepLosses[0].Loss, res.StepLosses[len(res.StepLosses)-1].Loss
	fmt.Println("steps:", res.Steps, "records:", len(res.Records), "final losses:", len(res.Final))
	fmt.Println("loss went down:", last < first)
	// Output:
	// steps: 24 records: 192 final losses: 64
	// loss went down: true
}

// TrainVariants trains K copies of one base that differ only in the order seed; AnalyzeResults
// then measures their imbalance, raw and adjusted for each sample's difficulty (its loss
// minus the mean of the other variants' losses), per variant and pooled.
func ExampleTrainVariants() {
	base, _ := sft.NewTinyModel(sft.TinyConfig{Vocab: 22, Seed: 1})
	cfg := sft.Config{Epochs: 2, BatchSize: 8, LR: 3e-3}
	variants, err := sft.TrainVariants(context.Background(), base, reverseTask(48), cfg, sft.VariantSeeds(3, 100), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	firsts := map[string]bool{}
	for _, v := range variants {
		firsts[v.Records[0].ID] = true
	}
	fmt.Println("order seeds", variants[0].Config.OrderSeed, variants[1].Config.OrderSeed, variants[2].Config.OrderSeed, "start with", len(firsts), "different samples")
	an, err := sft.AnalyzeResults(variants)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(an.Variants), "variants,", an.Adjusted.Defined(), "with a difficulty-adjusted statistic,", an.Adjusted.Permutations, "re-pairings in the pooled test")
	// Output:
	// order seeds 100 101 102 start with 3 different samples
	// 3 variants, 3 with a difficulty-adjusted statistic, 1000 re-pairings in the pooled test
}

// Records export as CSV with a pandas-friendly header (and as JSONL).
func ExampleWriteStepRecordsCSV() {
	recs := []sft.StepRecord{
		{Step: 1, Epoch: 0, Position: 0, ID: "a", Loss: 2.5},
		{Step: 1, Epoch: 0, Position: 1, ID: "b", Loss: 1.25},
	}
	sft.WriteStepRecordsCSV(os.Stdout, recs)
	sft.WriteStepRecordsJSONL(os.Stdout, recs[:1])
	// Output:
	// step,epoch,position,id,loss
	// 1,0,0,a,2.5
	// 1,0,1,b,1.25
	// {"step":1,"epoch":0,"position":0,"id":"a","loss":2.5}
}

// ImbalanceOf measures how final loss depends on position: here losses fall with position,
// the training imbalance, and the statistics say so.
func ExampleImbalanceOf() {
	positions := make([]int, 100)
	losses := make([]float64, 100)
	for i := range positions {
		positions[i] = i
		losses[i] = 2 - 0.01*float64(i) + 0.05*float64(i%3)
	}
	st, _ := sft.ImbalanceOf(positions, losses, sft.StatsOptions{Seed: 1})
	fmt.Printf("spearman %.2f, gap %.2f, slope %.3f\n", st.Spearman, st.Gap, st.Slope)
	fmt.Println(st.Verdict())
	// Output:
	// spearman -0.99, gap 0.90, slope -0.010
	// early samples end with higher loss (the training imbalance)
}
