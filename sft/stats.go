package sft

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// BinStat summarises the final losses of the samples in one position bin (a decile by
// default): positions FirstPosition..LastPosition inclusive.
type BinStat struct {
	Bin           int     `json:"bin"`
	FirstPosition int     `json:"first_position"`
	LastPosition  int     `json:"last_position"`
	N             int     `json:"n"`
	Mean          float64 `json:"mean"`
	Std           float64 `json:"std"` // sample standard deviation (n-1); 0 when n < 2
}

// ImbalanceStats is the paper's figure in numbers: how final loss depends on the position a
// sample had in one epoch's order (the first epoch unless stated). A negative Spearman and a
// positive Gap mean early samples end worse fitted: the training imbalance.
type ImbalanceStats struct {
	Epoch int       `json:"epoch"`
	N     int       `json:"n"`
	Bins  []BinStat `json:"bins"`
	// Spearman is the rank correlation of position and final loss (ties get average ranks).
	Spearman float64 `json:"spearman"`
	// SpearmanP is the two-sided permutation p-value of Spearman: the share of random
	// re-pairings of positions and losses whose |correlation| is at least as large
	// ((count+1)/(permutations+1); 1 when no permutations were run).
	SpearmanP    float64 `json:"spearman_p"`
	Permutations int     `json:"permutations"`
	// Slope and Intercept are the least-squares line loss = Intercept + Slope*position.
	Slope     float64 `json:"slope"`
	Intercept float64 `json:"intercept"`
	// Gap is the first bin's mean minus the last bin's (early minus late); GapSE its standard
	// error (Welch), so a gap smaller than about 2*GapSE is not distinguishable from zero.
	Gap   float64 `json:"gap"`
	GapSE float64 `json:"gap_se"`
	// Undefined says why Spearman (and its p-value) or Slope could not be computed, when they
	// could not: NaN in memory, null in JSON. The run itself is fine.
	Undefined string `json:"undefined,omitempty"`
}

// StatsOptions tune ImbalanceOf. Zero values take the defaults.
type StatsOptions struct {
	// Bins is the number of position bins (default 10: deciles).
	Bins int
	// Permutations is the number of random re-pairings for SpearmanP (default 1000; negative:
	// none).
	Permutations int
	// Seed seeds the permutation test, so p-values are reproducible.
	Seed uint64
}

// Significant reports whether the correlation is significant at level alpha (e.g. 0.05).
func (s ImbalanceStats) Significant(alpha float64) bool {
	return s.Permutations > 0 && s.SpearmanP < alpha
}

// Verdict says in words whether the data show the imbalance, at the 5% level.
func (s ImbalanceStats) Verdict() string {
	switch {
	case s.Undefined != "":
		return "undefined: " + s.Undefined
	case s.Permutations <= 0:
		return "not tested (no permutations)"
	case !s.Significant(0.05):
		return "no significant dependence of final loss on position"
	case s.Spearman < 0:
		return "early samples end with higher loss (the training imbalance)"
	default:
		return "late samples end with higher loss (the opposite of the training imbalance)"
	}
}

// String is a short report: one line of numbers and the verdict, then the bins.
func (s ImbalanceStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d positions, n=%d: spearman %.4f (p=%.4g, %d permutations), slope %.4g/position, gap early-late %.4f ± %.4f: %s\n",
		s.Epoch, s.N, s.Spearman, s.SpearmanP, s.Permutations, s.Slope, s.Gap, s.GapSE, s.Verdict())
	for _, bin := range s.Bins {
		fmt.Fprintf(&b, "  bin %2d positions %5d-%-5d n=%-5d mean %.4f std %.4f\n", bin.Bin, bin.FirstPosition, bin.LastPosition, bin.N, bin.Mean, bin.Std)
	}
	return b.String()
}

// Imbalance computes the statistics of final loss against each sample's position in the given
// epoch (0 = first epoch, the paper's analysis). Positions for epoch 0 come from the final
// losses themselves; other epochs' from the step records.
func Imbalance(final []FinalLoss, records []StepRecord, epoch int, opt StatsOptions) (ImbalanceStats, error) {
	pos, loss, err := PositionLosses(final, records, epoch)
	if err != nil {
		return ImbalanceStats{}, err
	}
	st, err := ImbalanceOf(pos, loss, opt)
	st.Epoch = epoch
	return st, err
}

// PositionLosses pairs each sample's position in epoch (0-based) with its final loss, in the
// order of final.
func PositionLosses(final []FinalLoss, records []StepRecord, epoch int) ([]int, []float64, error) {
	if len(final) == 0 {
		return nil, nil, fmt.Errorf("no final losses (training did not finish?)")
	}
	pos := make([]int, len(final))
	loss := make([]float64, len(final))
	var where map[string]int
	if epoch != 0 {
		where = make(map[string]int, len(final))
		for _, r := range records {
			if r.Epoch == epoch {
				where[r.ID] = r.Position
			}
		}
	}
	for i, f := range final {
		loss[i] = f.Loss
		if epoch == 0 {
			pos[i] = f.FirstPosition
			continue
		}
		p, ok := where[f.ID]
		if !ok {
			return nil, nil, fmt.Errorf("sample %q has no step record in epoch %d", f.ID, epoch)
		}
		pos[i] = p
	}
	return pos, loss, nil
}

// ImbalanceOf computes the imbalance statistics of losses against positions (paired by index).
func ImbalanceOf(positions []int, losses []float64, opt StatsOptions) (ImbalanceStats, error) {
	st, _, err := imbalanceOf(positions, losses, opt)
	return st, err
}

// imbalanceOf is ImbalanceOf that also returns the Spearman correlations of the permutation
// test's re-pairings (nil when none ran), from which a pooled test over variants is built.
func imbalanceOf(positions []int, losses []float64, opt StatsOptions) (ImbalanceStats, []float64, error) {
	n := len(positions)
	if n != len(losses) {
		return ImbalanceStats{}, nil, fmt.Errorf("%d positions but %d losses", n, len(losses))
	}
	if n < 3 {
		return ImbalanceStats{}, nil, fmt.Errorf("need at least 3 samples for imbalance statistics, got %d", n)
	}
	for i, l := range losses {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return ImbalanceStats{}, nil, fmt.Errorf("loss %d (position %d) is %g", i, positions[i], l)
		}
	}
	if opt.Bins == 0 {
		opt.Bins = 10
	}
	if opt.Permutations == 0 {
		opt.Permutations = 1000
	}
	bins := min(opt.Bins, n)
	if bins < 1 {
		return ImbalanceStats{}, nil, fmt.Errorf("bins must be positive, got %d", opt.Bins)
	}
	st := ImbalanceStats{N: n}
	var null []float64

	// Bins by rank of position, so any set of positions (not only 0..n-1) splits evenly.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return positions[order[a]] < positions[order[b]] })
	for k := 0; k < bins; k++ {
		lo, hi := k*n/bins, (k+1)*n/bins
		vals := make([]float64, 0, hi-lo)
		for _, i := range order[lo:hi] {
			vals = append(vals, losses[i])
		}
		mean, std := meanStd(vals)
		st.Bins = append(st.Bins, BinStat{Bin: k, FirstPosition: positions[order[lo]], LastPosition: positions[order[hi-1]], N: len(vals), Mean: mean, Std: std})
	}
	first, last := st.Bins[0], st.Bins[len(st.Bins)-1]
	st.Gap = first.Mean - last.Mean
	st.GapSE = math.Sqrt(first.Std*first.Std/float64(first.N) + last.Std*last.Std/float64(last.N))

	x := make([]float64, n)
	for i, p := range positions {
		x[i] = float64(p)
	}
	st.Slope, st.Intercept = LeastSquares(x, losses)

	rx, ry := Ranks(x), Ranks(losses)
	st.Spearman = pearson(rx, ry)
	st.SpearmanP = 1
	if math.IsNaN(st.Spearman) {
		st.SpearmanP = math.NaN()
		st.Undefined = undefinedWhy(x, losses)
	}
	if opt.Permutations > 0 && !math.IsNaN(st.Spearman) {
		rng := NewRNG(DeriveSeed(opt.Seed, streamStats))
		perm := append([]float64(nil), ry...)
		obs := math.Abs(st.Spearman) - 1e-12 // ties in |rho| count as "at least as large"
		count := 0
		null = make([]float64, opt.Permutations)
		for r := range null {
			rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			null[r] = pearson(rx, perm)
			if math.Abs(null[r]) >= obs {
				count++
			}
		}
		st.Permutations = opt.Permutations
		st.SpearmanP = float64(count+1) / float64(opt.Permutations+1)
	}
	return st, null, nil
}

func meanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), 0
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

// Ranks returns the 1-based ranks of v, ties sharing their average rank (as Spearman needs).
func Ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		i = j
	}
	return r
}

// Spearman returns the rank correlation of x and y (ties averaged); NaN when either is
// constant or the lengths differ.
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) {
		return math.NaN()
	}
	return pearson(Ranks(x), Ranks(y))
}

// comoments returns the centred sums of squares and cross products of x and y.
func comoments(x, y []float64) (mx, my, sxy, sxx, syy float64) {
	n := float64(len(x))
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	return
}

// pearson is the correlation coefficient; NaN when a side has no variance.
func pearson(x, y []float64) float64 {
	_, _, sxy, sxx, syy := comoments(x, y)
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// LeastSquares fits y = intercept + slope*x; slope is NaN when x is constant.
func LeastSquares(x, y []float64) (slope, intercept float64) {
	mx, my, sxy, sxx, _ := comoments(x, y)
	if sxx == 0 {
		return math.NaN(), my
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}

// ImbalanceSummary pools the statistics of several variants (one per order seed): claims
// about the imbalance need their spread over seeds, not a single run.
type ImbalanceSummary struct {
	Variants     int     `json:"variants"`
	MeanSpearman float64 `json:"mean_spearman"`
	StdSpearman  float64 `json:"std_spearman"`
	// SESpearman and SEGap are the standard errors of the means (std/sqrt(count)); NaN with
	// fewer than two defined variants.
	SESpearman float64 `json:"se_spearman"`
	MeanGap    float64 `json:"mean_gap"`
	StdGap     float64 `json:"std_gap"`
	SEGap      float64 `json:"se_gap"`
	MeanSlope  float64 `json:"mean_slope"`
	StdSlope   float64 `json:"std_slope"`
	// P is the two-sided permutation p-value of MeanSpearman: every variant's positions
	// re-paired independently, as many times as each variant's own test ran (Permutations).
	// NaN (null in JSON) when it was not computed (SummarizeImbalance alone cannot: it has only
	// the statistics, not the data).
	P            float64 `json:"p"`
	Permutations int     `json:"permutations"`
	// Imbalanced counts variants with a significant negative Spearman (p < 0.05); Opposite
	// those with a significant positive one.
	Imbalanced int `json:"imbalanced"`
	Opposite   int `json:"opposite"`
	// Undefined counts variants whose statistics could not be computed (ImbalanceStats.
	// Undefined); the means are over the others (NaN, null in JSON, when there are none).
	Undefined int `json:"undefined,omitempty"`
	// Why says why no variant's statistics could be computed, when none could.
	Why string `json:"why,omitempty"`
}

// SummarizeImbalance returns the mean and spread of the variants' statistics (P is NaN: the
// pooled permutation test needs the data, see AnalyzeImbalance).
func SummarizeImbalance(stats []ImbalanceStats) ImbalanceSummary {
	s := ImbalanceSummary{Variants: len(stats), P: math.NaN()}
	var rho, gap, slope []float64
	for _, st := range stats {
		if math.IsNaN(st.Spearman) || math.IsNaN(st.Slope) {
			s.Undefined++ // pooled over the variants where the statistics exist
			if s.Why == "" {
				s.Why = st.Undefined
			}
			continue
		}
		rho = append(rho, st.Spearman)
		gap = append(gap, st.Gap)
		slope = append(slope, st.Slope)
		if st.Significant(0.05) {
			if st.Spearman < 0 {
				s.Imbalanced++
			} else {
				s.Opposite++
			}
		}
	}
	if len(rho) > 0 {
		s.Why = ""
	}
	s.MeanSpearman, s.StdSpearman = meanStd(rho)
	s.MeanGap, s.StdGap = meanStd(gap)
	s.MeanSlope, s.StdSlope = meanStd(slope)
	s.SESpearman, s.SEGap = stdErr(s.StdSpearman, len(rho)), stdErr(s.StdGap, len(gap))
	if len(rho) == 0 {
		s.StdSpearman, s.StdGap, s.StdSlope = math.NaN(), math.NaN(), math.NaN()
	}
	return s
}

// stdErr is the standard error of a mean of n values with sample standard deviation std;
// NaN for n < 2, where the spread is unknown.
func stdErr(std float64, n int) float64 {
	if n < 2 {
		return math.NaN()
	}
	return std / math.Sqrt(float64(n))
}

// Defined is the number of variants whose statistics could be computed.
func (s ImbalanceSummary) Defined() int { return s.Variants - s.Undefined }

// Verdict says in words which way the pooled statistic falls, at the 5% level of the pooled
// permutation test (P); without it (P not computed), by the variants' own tests.
func (s ImbalanceSummary) Verdict() string {
	switch {
	case s.Defined() == 0:
		if s.Why != "" {
			return "undefined: " + s.Why
		}
		return "undefined: no variant"
	case !math.IsNaN(s.P) && s.Permutations > 0:
		switch {
		case s.P >= 0.05:
			return "no significant dependence of final loss on position"
		case s.MeanSpearman < 0:
			return "early samples end with higher loss (the training imbalance)"
		default:
			return "late samples end with higher loss (the opposite of the training imbalance)"
		}
	case s.Imbalanced*2 > s.Defined():
		return "early samples end with higher loss in most variants (the training imbalance)"
	case s.Opposite*2 > s.Defined():
		return "late samples end with higher loss in most variants (the opposite of the training imbalance)"
	case s.Imbalanced == 0 && s.Opposite == 0:
		return "no significant dependence of final loss on position in any variant"
	default:
		return "mixed: a significant dependence in some variants only"
	}
}

// String says the pooled result in one line.
func (s ImbalanceSummary) String() string {
	if s.Defined() == 0 {
		return fmt.Sprintf("%d variants: %s", s.Variants, s.Verdict())
	}
	line := fmt.Sprintf("%d variants: spearman %.4f ± %.4f (SE), gap early-late %.4f ± %.4f (SE)", s.Variants, s.MeanSpearman, s.SESpearman, s.MeanGap, s.SEGap)
	if !math.IsNaN(s.P) && s.Permutations > 0 {
		line += fmt.Sprintf(", pooled p=%.3g", s.P)
	}
	line += fmt.Sprintf("; %d show a significant imbalance (p<0.05), %d the opposite", s.Imbalanced, s.Opposite)
	if s.Undefined > 0 {
		line += fmt.Sprintf("; %d with undefined statistics left out", s.Undefined)
	}
	return line + ": " + s.Verdict()
}
