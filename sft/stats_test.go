package sft

import (
	"math"
	"slices"
	"testing"
)

func TestRanksAndSpearmanWithTies(t *testing.T) {
	if got := Ranks([]float64{10, 20, 20, 5, 20}); !slices.Equal(got, []float64{2, 4, 4, 1, 4}) {
		t.Errorf("ranks %v", got)
	}
	// Worked by hand: x ranks 1..5, y = [1, 2, 2, 3, 1] has ranks [1.5, 3.5, 3.5, 5, 1.5];
	// centred: dx = [-2 -1 0 1 2], dy = [-1.5 .5 .5 2 -1.5]; sxy = 1.5, sxx = 10, syy = 9,
	// so rho = 1.5 / sqrt(90) = 0.15811.
	got := Spearman([]float64{1, 2, 3, 4, 5}, []float64{1, 2, 2, 3, 1})
	if math.Abs(got-1.5/math.Sqrt(90)) > 1e-12 {
		t.Errorf("spearman %g, want %g", got, 1.5/math.Sqrt(90))
	}
	if got := Spearman([]float64{1, 2, 3}, []float64{9, 4, 1}); got != -1 {
		t.Errorf("monotone decreasing: %g", got)
	}
	if got := Spearman([]float64{1, 2, 3}, []float64{2, 2, 2}); !math.IsNaN(got) {
		t.Errorf("constant side: %g, want NaN", got)
	}
	slope, icpt := LeastSquares([]float64{0, 1, 2, 3}, []float64{1, 3, 5, 7})
	if slope != 2 || icpt != 1 {
		t.Errorf("fit %g + %g x", icpt, slope)
	}
}

func TestImbalanceOfDetectsAnEffectAndNotNoise(t *testing.T) {
	const n = 400
	rng := NewRNG(11)
	pos := NewRNG(12).Perm(n)
	strong := make([]float64, n)
	noise := make([]float64, n)
	for i, p := range pos {
		e := rng.NormFloat64()
		strong[i] = 2 - 0.002*float64(p) + 0.2*e // early positions end higher
		noise[i] = 2 + 0.2*e
	}
	st, err := ImbalanceOf(pos, strong, StatsOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Spearman > -0.5 || st.SpearmanP > 0.01 || !st.Significant(0.05) || st.Gap < 0.5 || st.Gap < 3*st.GapSE {
		t.Errorf("strong effect missed: %v", st)
	}
	if math.Abs(st.Slope+0.002) > 0.0003 {
		t.Errorf("slope %g, want about -0.002", st.Slope)
	}
	if len(st.Bins) != 10 || st.Bins[0].FirstPosition != 0 || st.Bins[0].LastPosition != 39 || st.Bins[9].LastPosition != n-1 {
		t.Errorf("bins %+v", st.Bins)
	}
	total := 0
	for _, b := range st.Bins {
		total += b.N
	}
	if total != n {
		t.Errorf("bins hold %d samples, want %d", total, n)
	}
	// The first decile's mean is the mean of the losses at positions 0..39.
	var sum float64
	for i, p := range pos {
		if p < 40 {
			sum += strong[i]
		}
	}
	if math.Abs(st.Bins[0].Mean-sum/40) > 1e-12 {
		t.Errorf("first decile mean %g, want %g", st.Bins[0].Mean, sum/40)
	}
	ns, err := ImbalanceOf(pos, noise, StatsOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ns.SpearmanP < 0.01 || ns.Significant(0.01) {
		t.Errorf("noise looks significant: %v", ns)
	}
	again, _ := ImbalanceOf(pos, noise, StatsOptions{Seed: 1})
	if again.SpearmanP != ns.SpearmanP {
		t.Error("permutation p-value not reproducible for a fixed seed")
	}
	if _, err := ImbalanceOf([]int{1, 2}, []float64{1, 2}, StatsOptions{}); err == nil {
		t.Error("two samples accepted")
	}
	if _, err := ImbalanceOf([]int{1, 2, 3}, []float64{1, math.NaN(), 2}, StatsOptions{}); err == nil {
		t.Error("NaN loss accepted")
	}
	sum2 := SummarizeImbalance([]ImbalanceStats{st, ns})
	if sum2.Variants != 2 || sum2.Imbalanced != 1 || sum2.Opposite != 0 || math.Abs(sum2.MeanSpearman-(st.Spearman+ns.Spearman)/2) > 1e-12 {
		t.Errorf("summary %+v", sum2)
	}
}

func TestImbalanceForLaterEpochUsesThatEpochsPositions(t *testing.T) {
	final := []FinalLoss{{ID: "a", Loss: 3, FirstPosition: 0}, {ID: "b", Loss: 2, FirstPosition: 1}, {ID: "c", Loss: 1, FirstPosition: 2}}
	recs := []StepRecord{
		{Step: 1, Epoch: 0, Position: 0, ID: "a"}, {Step: 1, Epoch: 0, Position: 1, ID: "b"}, {Step: 2, Epoch: 0, Position: 2, ID: "c"},
		{Step: 3, Epoch: 1, Position: 0, ID: "c"}, {Step: 3, Epoch: 1, Position: 1, ID: "b"}, {Step: 4, Epoch: 1, Position: 2, ID: "a"},
	}
	e0, err := Imbalance(final, recs, 0, StatsOptions{Permutations: -1})
	if err != nil {
		t.Fatal(err)
	}
	e1, err := Imbalance(final, recs, 1, StatsOptions{Permutations: -1})
	if err != nil {
		t.Fatal(err)
	}
	if e0.Spearman != -1 || e1.Spearman != 1 || e1.Epoch != 1 || e0.Gap != 2 || e1.Gap != -2 {
		t.Errorf("epoch 0: %v\nepoch 1: %v", e0, e1)
	}
	if _, err := Imbalance(final, recs, 2, StatsOptions{}); err == nil {
		t.Error("epoch without records accepted")
	}
}
