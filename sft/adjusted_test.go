package sft

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// plantedVariants draws K variants of n samples whose final loss is a per-sample difficulty
// (standard deviation difficulty, shared by every variant), plus a position effect falling
// linearly by amplitude from the first to the last position of the variant's own first-epoch
// order, plus noise of its own. last, when set, also gives each variant an independent
// last-epoch order (reshuffling), on which nothing depends.
func plantedVariants(rng *RNG, n, k int, difficulty, amplitude, noise float64, last bool) []VariantLosses {
	d := make([]float64, n)
	for i := range d {
		d[i] = difficulty * rng.NormFloat64()
	}
	var out []VariantLosses
	for v := 0; v < k; v++ {
		vl := VariantLosses{Name: fmt.Sprintf("v%d", v), OrderSeed: uint64(v), First: rng.Perm(n), LastEpoch: 2}
		if last {
			vl.Last = rng.Perm(n)
		}
		for i := 0; i < n; i++ {
			vl.IDs = append(vl.IDs, fmt.Sprintf("s%03d", i))
			effect := amplitude * (0.5 - float64(vl.First[i])/float64(n-1))
			vl.Losses = append(vl.Losses, 2+d[i]+effect+noise*rng.NormFloat64())
		}
		out = append(out, vl)
	}
	return out
}

// Under strong per-sample difficulty (losses correlated about 0.99 across variants), a
// position effect that the raw statistic rarely finds is found by the adjusted one in almost
// every draw.
func TestAdjustedImbalanceFindsAnEffectThatDifficultyHides(t *testing.T) {
	const draws, n, k = 20, 400, 3
	rng := NewRNG(2024)
	rawHits, adjHits := 0, 0
	for d := 0; d < draws; d++ {
		vs := plantedVariants(rng, n, k, 1.0, 0.075, 0.1, false)
		if d == 0 {
			if c := Spearman(vs[0].Losses, vs[1].Losses); c < 0.95 {
				t.Fatalf("the difficulty is not strong: losses of two variants correlate %.3f", c)
			}
		}
		an, err := AnalyzeImbalance(vs, StatsOptions{Permutations: 500, Seed: uint64(d)})
		if err != nil {
			t.Fatal(err)
		}
		if an.Raw.P < 0.05 && an.Raw.MeanSpearman < 0 {
			rawHits++
		}
		if an.Adjusted.P < 0.05 && an.Adjusted.MeanSpearman < 0 {
			adjHits++
		}
		if d == 0 {
			if !strings.Contains(an.Verdict, "difficulty-adjusted") || !strings.Contains(an.Verdict, "the training imbalance") {
				t.Errorf("verdict %q", an.Verdict)
			}
			for _, v := range an.Variants {
				if v.Adjusted.Spearman >= 0 || v.Adjusted.Slope >= 0 {
					t.Errorf("%s: adjusted statistic %v", v.Name, v.Adjusted)
				}
				if len(v.Adjusted.Bins) != 10 {
					t.Errorf("%s: %d adjusted bins", v.Name, len(v.Adjusted.Bins))
				}
			}
			if an.Adjusted.Imbalanced < 2 || an.Adjusted.Opposite != 0 || math.IsNaN(an.Adjusted.SESpearman) || an.Adjusted.SESpearman <= 0 {
				t.Errorf("pooled adjusted %+v", an.Adjusted)
			}
		}
	}
	t.Logf("detected in %d of %d draws raw, %d adjusted", rawHits, draws, adjHits)
	if adjHits < draws*9/10 {
		t.Errorf("adjusted statistic detected the planted effect in only %d of %d draws", adjHits, draws)
	}
	if rawHits > draws*3/10 {
		t.Errorf("raw statistic detected it in %d of %d draws: the planted effect is not hidden by difficulty, the test proves nothing", rawHits, draws)
	}
}

// With no position effect the adjusted tests (each variant's and the pooled one) reject at the
// nominal 5%, as do the raw ones, and last-epoch positions show nothing either.
func TestAdjustedImbalanceFalsePositiveRateIsNominal(t *testing.T) {
	// 600 draws of 60 samples: binomial standard errors at 5% of 0.5 points over the 1800
	// per-variant tests and 0.9 over the 600 pooled ones (a run of 3000 draws gave 4.5-5.0%
	// for every kind, the permutation test's exact level with 199 re-pairings being 4.5%).
	const draws, n, k = 600, 60, 3
	rng := NewRNG(77)
	var variantRej, pooledRej, rawPooledRej, lastRej, tests int
	for d := 0; d < draws; d++ {
		vs := plantedVariants(rng, n, k, 0.5, 0, 0.15, true)
		an, err := AnalyzeImbalance(vs, StatsOptions{Permutations: 199, Seed: uint64(d)})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range an.Variants {
			tests++
			if v.Adjusted.Significant(0.05) {
				variantRej++
			}
		}
		if an.Adjusted.P < 0.05 {
			pooledRej++
		}
		if an.Raw.P < 0.05 {
			rawPooledRej++
		}
		if an.AdjustedLast.P < 0.05 {
			lastRej++
		}
	}
	rate := func(c, of int) float64 { return float64(c) / float64(of) }
	t.Logf("rejection rates: adjusted per variant %.3f, adjusted pooled %.3f, raw pooled %.3f, adjusted last epoch %.3f",
		rate(variantRej, tests), rate(pooledRej, draws), rate(rawPooledRej, draws), rate(lastRej, draws))
	if r := rate(variantRej, tests); r < 0.03 || r > 0.065 {
		t.Errorf("per-variant adjusted false-positive rate %.3f, want about 0.05", r)
	}
	for name, c := range map[string]int{"adjusted pooled": pooledRej, "raw pooled": rawPooledRej, "adjusted last-epoch pooled": lastRej} {
		if r := rate(c, draws); r < 0.02 || r > 0.08 {
			t.Errorf("%s false-positive rate %.3f, want about 0.05", name, r)
		}
	}
}

// One variant, constant losses and mismatched samples are said, not NaN in JSON nor a panic.
func TestAdjustedImbalanceUndefinedCases(t *testing.T) {
	rng := NewRNG(5)
	one := plantedVariants(rng, 50, 1, 0.5, 0.5, 0.1, true)
	an, err := AnalyzeImbalance(one, StatsOptions{Permutations: 99})
	if err != nil {
		t.Fatal(err)
	}
	v := an.Variants[0]
	if !math.IsNaN(v.Adjusted.Spearman) || !strings.Contains(v.Adjusted.Undefined, "at least 2 variants") || v.Adjusted.N != 50 || math.IsNaN(v.Raw.Spearman) {
		t.Errorf("one variant: adjusted %+v raw %+v", v.Adjusted, v.Raw)
	}
	if an.Adjusted.Defined() != 0 || !strings.Contains(an.Adjusted.Verdict(), "at least 2 variants") || !strings.HasPrefix(an.Verdict, "raw (") {
		t.Errorf("one variant: pooled %+v, verdict %q", an.Adjusted, an.Verdict)
	}
	b, err := json.Marshal(an)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "NaN") || !strings.Contains(string(b), `"spearman":null`) {
		t.Errorf("JSON of one variant: %s", b)
	}
	var back ImbalanceAnalysis
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back.Variants[0].Adjusted.Spearman) || back.Variants[0].Raw.Spearman != v.Raw.Spearman || !math.IsNaN(back.Adjusted.P) || back.Raw.P != an.Raw.P {
		t.Errorf("round trip: %+v", back.Variants[0])
	}

	// Two variants with the same losses: the residuals are all zero.
	same := plantedVariants(rng, 30, 2, 0.5, 0, 0, false)
	copy(same[1].Losses, same[0].Losses)
	an, err = AnalyzeImbalance(same, StatsOptions{Permutations: 99})
	if err != nil {
		t.Fatal(err)
	}
	if u := an.Variants[1].Adjusted.Undefined; !strings.Contains(u, "all residual losses are equal") {
		t.Errorf("equal losses: undefined %q", u)
	}
	if !strings.Contains(an.Variants[0].RawLast.Undefined, "last epoch") || an.RawLast.Defined() != 0 {
		t.Errorf("no last positions: %+v", an.Variants[0].RawLast)
	}
	if b, err := json.Marshal(an); err != nil || strings.Contains(string(b), "NaN") {
		t.Errorf("JSON: %v %s", err, b)
	}

	// Too few samples for statistics: undefined, not an error.
	tiny := plantedVariants(rng, 2, 2, 0.5, 0, 0.1, false)
	an, err = AnalyzeImbalance(tiny, StatsOptions{})
	if err != nil || !strings.Contains(an.Variants[0].Raw.Undefined, "at least 3 samples") {
		t.Errorf("two samples: %v %+v", err, an)
	}

	// Variants on different samples are an error.
	bad := plantedVariants(rng, 10, 2, 0.5, 0, 0.1, false)
	bad[1].IDs[3] = "other"
	if _, err := AnalyzeImbalance(bad, StatsOptions{}); err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Errorf("mismatched samples: %v", err)
	}
	if _, err := AnalyzeImbalance(nil, StatsOptions{}); err == nil {
		t.Error("no variants: no error")
	}
}

// A model whose loss carries each variant's position effect divided by K (a merge of K
// variants, to first order) is measured flatter by about 1/K.
func TestModelImbalanceOfAMergeIsFlatter(t *testing.T) {
	const n, k = 600, 3
	rng := NewRNG(9)
	vs := plantedVariants(rng, n, k, 0.8, 0.6, 0.1, true)
	// Rebuild the merge's loss from the same parts: difficulty (a variant's loss minus its own
	// effect and noise is not recoverable, so draw the merge from variant 0's loss with its
	// effect replaced by the mean of all the variants' effects).
	effect := func(v VariantLosses, i int) float64 { return 0.6 * (0.5 - float64(v.First[i])/float64(n-1)) }
	ids := append([]string(nil), vs[0].IDs...)
	merged := make([]float64, n)
	for i := range merged {
		var e float64
		for _, v := range vs {
			e += effect(v, i)
		}
		merged[i] = vs[0].Losses[i] - effect(vs[0], i) + e/k
	}
	m, err := ModelImbalanceOf("merge", ids, merged, vs, StatsOptions{Permutations: 200, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.PerVariant) != k || m.Adjusted.Defined() != k {
		t.Fatalf("%+v", m)
	}
	if m.Flattening < 0.15 || m.Flattening > 0.6 || m.FlatteningGap < 0.1 || m.FlatteningGap > 0.7 {
		t.Errorf("flattening %.3f (gap %.3f), want about 1/%d", m.Flattening, m.FlatteningGap, k)
	}
	if m.Adjusted.MeanSpearman >= 0 || m.Adjusted.P > 0.05 {
		t.Errorf("a third of the effect is still there: %v", m.Adjusted)
	}
	b, err := json.Marshal(m)
	if err != nil || strings.Contains(string(b), "NaN") {
		t.Fatalf("%v %s", err, b)
	}
	var back ModelImbalance
	if err := json.Unmarshal(b, &back); err != nil || back.Flattening != m.Flattening {
		t.Errorf("round trip %v: %v", err, back.Flattening)
	}
	if _, err := ModelImbalanceOf("merge", ids[:5], merged[:5], vs, StatsOptions{}); err == nil {
		t.Error("a model on other samples: no error")
	}
}
