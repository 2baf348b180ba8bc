package sft

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/data"
)

// Why a difficulty adjustment: a sample's final loss is mostly its difficulty (rank-correlated
// 0.8-0.9 across order variants at laptop scale), which swamps the position effect in a raw
// correlation. K variants trained on the same samples in independent orders each estimate a
// sample's difficulty without knowing variant k's order, so variant k's residual
//
//	r_k(i) = loss_k(i) - mean over j != k of loss_j(i)
//
// keeps variant k's position effect and loses the difficulty. Under the null (position has no
// effect) the residual is independent of variant k's positions, so the permutation test stays
// exact, and the K tests are independent given the losses, so a pooled test that re-pairs every
// variant independently is exact too.

// VariantLosses is one order variant's training samples, index by index: id, position in the
// first and in the last epoch (0-based; Last may be nil when unknown) and loss after training.
type VariantLosses struct {
	Name      string
	OrderSeed uint64
	IDs       []string
	First     []int
	Last      []int
	Losses    []float64
	// LastEpoch is the 0-based epoch that Last is from.
	LastEpoch int
}

// LossesOf returns a finished run's final losses with each sample's first- and last-epoch
// positions (the last from the step records; nil when the records do not cover it).
func LossesOf(r *Result) (VariantLosses, error) {
	if r == nil || len(r.Final) == 0 {
		return VariantLosses{}, fmt.Errorf("no final losses (training did not finish?)")
	}
	v := VariantLosses{Name: fmt.Sprintf("order seed %d", r.Config.OrderSeed), OrderSeed: r.Config.OrderSeed}
	for _, f := range r.Final {
		v.IDs = append(v.IDs, f.ID)
		v.First = append(v.First, f.FirstPosition)
		v.Losses = append(v.Losses, f.Loss)
	}
	v.LastEpoch = max(r.Config.Epochs-1, 0)
	if last, _, err := PositionLosses(r.Final, r.Records, v.LastEpoch); err == nil {
		v.Last = last
	}
	return v, nil
}

// VariantImbalance is one variant's (or one other model's, against one variant's positions)
// imbalance statistics: raw (final loss) and difficulty-adjusted (residual loss), each against
// the first and the last epoch's positions.
type VariantImbalance struct {
	Name      string  `json:"name"`
	OrderSeed uint64  `json:"order_seed"`
	Dir       string  `json:"dir,omitempty"`
	N         int     `json:"n"`
	MeanLoss  float64 `json:"mean_final_loss"`
	// Raw is final loss against first-epoch position (the paper's figure); Adjusted the
	// residual loss against it (undefined with fewer than two variants).
	Raw      ImbalanceStats `json:"raw"`
	Adjusted ImbalanceStats `json:"adjusted"`
	// RawLast and AdjustedLast are the same against the last epoch's positions: under a fixed
	// order they equal the first epoch's, and a dependence there is recency.
	RawLast      ImbalanceStats `json:"raw_last_epoch"`
	AdjustedLast ImbalanceStats `json:"adjusted_last_epoch"`
	// ByEpoch is the raw statistic against every epoch's positions (train's records).
	ByEpoch []ImbalanceStats `json:"by_epoch,omitempty"`
}

// ImbalanceAnalysis is the imbalance of K order variants trained on the same samples, one
// schema for one variant and for several (imbalance.json). Verdicts use Adjusted, the pooled
// difficulty-adjusted statistic against first-epoch positions; with one variant, where there is
// no adjustment, Raw.
type ImbalanceAnalysis struct {
	Variants     []VariantImbalance `json:"variants"`
	Raw          ImbalanceSummary   `json:"raw"`
	Adjusted     ImbalanceSummary   `json:"adjusted"`
	RawLast      ImbalanceSummary   `json:"raw_last_epoch"`
	AdjustedLast ImbalanceSummary   `json:"adjusted_last_epoch"`
	Verdict      string             `json:"verdict"`
	// Models are other models' losses (merges of the variants) against the variants' positions.
	Models []ModelImbalance `json:"models,omitempty"`
}

// ModelImbalance is a model that saw no order of its own (a merge of the variants): its
// per-sample losses against each variant's positions, raw and adjusted by the same reference
// as that variant (the mean loss of the other variants), so its statistics compare one to one
// with the variants' own.
type ModelImbalance struct {
	Name     string  `json:"name"`
	N        int     `json:"n"`
	MeanLoss float64 `json:"mean_loss"`
	// PerVariant[k] is against variant k's positions.
	PerVariant   []VariantImbalance `json:"per_variant"`
	Raw          ImbalanceSummary   `json:"raw"`
	Adjusted     ImbalanceSummary   `json:"adjusted"`
	RawLast      ImbalanceSummary   `json:"raw_last_epoch"`
	AdjustedLast ImbalanceSummary   `json:"adjusted_last_epoch"`
	// Flattening is the slope of the model's adjusted position curve over the variants' own
	// (mean least-squares slopes, in nats per position; 1: as imbalanced as a single model, 0:
	// flat, NaN when either is undefined or the variants' is zero); FlatteningGap the same
	// ratio of early-minus-late gaps. Slopes and gaps, not correlations: a correlation also
	// moves with the noise, and a merge's noise differs from a variant's.
	Flattening    float64 `json:"flattening"`
	FlatteningGap float64 `json:"flattening_gap"`
}

// aligned holds K variants' losses and positions on one sample order (variant 0's).
type aligned struct {
	ids         []string
	first, last [][]int // per variant; last[k] nil when unknown
	loss        [][]float64
}

func align(vs []VariantLosses) (*aligned, error) {
	if len(vs) == 0 {
		return nil, fmt.Errorf("imbalance: no variants")
	}
	a := &aligned{ids: vs[0].IDs}
	where := make(map[string]int, len(a.ids))
	for i, id := range a.ids {
		if _, dup := where[id]; dup {
			return nil, fmt.Errorf("imbalance: %s: sample %q appears twice", vs[0].Name, id)
		}
		where[id] = i
	}
	for _, v := range vs {
		n := len(v.IDs)
		if len(v.First) != n || len(v.Losses) != n || (v.Last != nil && len(v.Last) != n) {
			return nil, fmt.Errorf("imbalance: %s: %d ids, %d first positions, %d last positions, %d losses", v.Name, n, len(v.First), len(v.Last), len(v.Losses))
		}
		if n != len(a.ids) {
			return nil, fmt.Errorf("imbalance: %s has %d samples, %s has %d: the variants must be trained on the same samples", v.Name, n, vs[0].Name, len(a.ids))
		}
		first, loss := make([]int, n), make([]float64, n)
		var last []int
		if v.Last != nil {
			last = make([]int, n)
		}
		for j, id := range v.IDs {
			i, ok := where[id]
			if !ok {
				return nil, fmt.Errorf("imbalance: %s has sample %q, which %s has not: the variants must be trained on the same samples", v.Name, id, vs[0].Name)
			}
			first[i], loss[i] = v.First[j], v.Losses[j]
			if last != nil {
				last[i] = v.Last[j]
			}
		}
		a.first, a.last, a.loss = append(a.first, first), append(a.last, last), append(a.loss, loss)
	}
	return a, nil
}

// model puts a model's losses (ids and losses index by index) in the aligned sample order.
func (a *aligned) model(name string, ids []string, losses []float64) ([]float64, error) {
	if len(ids) != len(losses) {
		return nil, fmt.Errorf("imbalance of %s: %d ids but %d losses", name, len(ids), len(losses))
	}
	if len(ids) != len(a.ids) {
		return nil, fmt.Errorf("imbalance of %s: %d samples, the variants have %d", name, len(ids), len(a.ids))
	}
	where := make(map[string]int, len(a.ids))
	for i, id := range a.ids {
		where[id] = i
	}
	m := make([]float64, len(a.ids))
	seen := make([]bool, len(a.ids))
	for j, id := range ids {
		i, ok := where[id]
		if !ok || seen[i] {
			return nil, fmt.Errorf("imbalance of %s: sample %q is not one of the variants' samples (or appears twice)", name, id)
		}
		m[i], seen[i] = losses[j], true
	}
	return m, nil
}

// reference returns, per sample, the mean loss of the variants other than k (nil for K < 2).
func (a *aligned) reference(k int) []float64 {
	K := len(a.loss)
	if K < 2 {
		return nil
	}
	ref := make([]float64, len(a.ids))
	for i := range ref {
		var s float64
		for j := 0; j < K; j++ {
			if j != k {
				s += a.loss[j][i]
			}
		}
		ref[i] = s / float64(K-1)
	}
	return ref
}

// undefinedStats is a statistic that could not be computed, with the reason.
func undefinedStats(n, epoch int, why string) ImbalanceStats {
	nan := math.NaN()
	return ImbalanceStats{Epoch: epoch, N: n, Spearman: nan, SpearmanP: nan, Slope: nan, Intercept: nan, Gap: nan, GapSE: nan, Undefined: why}
}

// pooler collects the variants' statistics of one kind and their permutation nulls.
type pooler struct {
	residual bool // the losses are residuals (for the wording of undefined statistics)
	stats    []ImbalanceStats
	nulls    [][]float64
}

// add computes the statistics of losses against positions (either nil: undefined, with why)
// and keeps them for the pooled summary.
func (p *pooler) add(pos []int, losses []float64, epoch int, why string, opt StatsOptions) ImbalanceStats {
	if pos == nil || losses == nil {
		st := undefinedStats(max(len(pos), len(losses)), epoch, why)
		p.stats, p.nulls = append(p.stats, st), append(p.nulls, nil)
		return st
	}
	st, null, err := imbalanceOf(pos, losses, opt)
	if err != nil {
		st, null = undefinedStats(len(losses), epoch, err.Error()), nil
	}
	if p.residual {
		st.Undefined = strings.Replace(st.Undefined, "all final losses are equal", "all residual losses are equal (the variants' losses do not differ)", 1)
	}
	st.Epoch = epoch
	p.stats, p.nulls = append(p.stats, st), append(p.nulls, null)
	return st
}

// summary pools the statistics and runs the pooled permutation test: the mean Spearman of
// every re-pairing (each variant's r-th) against the observed mean.
func (p *pooler) summary() ImbalanceSummary {
	s := SummarizeImbalance(p.stats)
	perms := -1
	var obs float64
	var use [][]float64
	for i, st := range p.stats {
		if math.IsNaN(st.Spearman) || math.IsNaN(st.Slope) {
			continue
		}
		if p.nulls[i] == nil || (perms >= 0 && len(p.nulls[i]) != perms) {
			return s // a variant without a test (or with another count): no pooled test
		}
		perms = len(p.nulls[i])
		obs += st.Spearman
		use = append(use, p.nulls[i])
	}
	if len(use) == 0 || perms <= 0 {
		return s
	}
	obs = math.Abs(obs/float64(len(use))) - 1e-12
	count := 0
	for r := 0; r < perms; r++ {
		var m float64
		for _, null := range use {
			m += null[r]
		}
		if math.Abs(m/float64(len(use))) >= obs {
			count++
		}
	}
	s.P, s.Permutations = float64(count+1)/float64(perms+1), perms
	return s
}

// statsSeed is the permutation seed of variant k's statistic of one kind: every test draws
// its own re-pairings, so the pooled test combines independent ones.
func statsSeed(opt StatsOptions, k, kind int) StatsOptions {
	opt.Seed = DeriveSeed(opt.Seed, uint64(k), uint64(kind))
	return opt
}

// residual returns loss - ref (nil when ref is nil).
func residual(loss, ref []float64) []float64 {
	if ref == nil {
		return nil
	}
	out := make([]float64, len(loss))
	for i := range loss {
		out[i] = loss[i] - ref[i]
	}
	return out
}

const (
	whyOneVariant = "the difficulty adjustment needs at least 2 variants trained on the same samples"
	whyNoLast     = "the last epoch's positions are not known (no step records)"
)

// AnalyzeImbalance computes the raw and difficulty-adjusted imbalance statistics of K order
// variants trained on the same samples, per variant and pooled, against the first and the
// last epoch's positions. opt.Seed seeds the permutation tests. One variant is allowed: its
// adjusted statistics are undefined (said in Undefined), the raw ones are computed.
func AnalyzeImbalance(vs []VariantLosses, opt StatsOptions) (*ImbalanceAnalysis, error) {
	a, err := align(vs)
	if err != nil {
		return nil, err
	}
	out := &ImbalanceAnalysis{}
	var raw, rawL pooler
	adj, adjL := pooler{residual: true}, pooler{residual: true}
	for k, v := range vs {
		ref := a.reference(k)
		vi := VariantImbalance{Name: v.Name, OrderSeed: v.OrderSeed, N: len(a.ids), MeanLoss: mean(a.loss[k])}
		vi.Raw = raw.add(a.first[k], a.loss[k], 0, "", statsSeed(opt, k, 0))
		vi.Adjusted = adj.add(a.first[k], residual(a.loss[k], ref), 0, whyOneVariant, statsSeed(opt, k, 1))
		whyLast := whyNoLast
		if a.last[k] != nil {
			whyLast = whyOneVariant
		}
		vi.RawLast = rawL.add(a.last[k], a.loss[k], v.LastEpoch, whyNoLast, statsSeed(opt, k, 2))
		vi.AdjustedLast = adjL.add(a.last[k], residual(a.loss[k], ref), v.LastEpoch, whyLast, statsSeed(opt, k, 3))
		out.Variants = append(out.Variants, vi)
	}
	out.Raw, out.Adjusted, out.RawLast, out.AdjustedLast = raw.summary(), adj.summary(), rawL.summary(), adjL.summary()
	out.Verdict = out.verdict()
	return out, nil
}

func (a *ImbalanceAnalysis) verdict() string {
	if a.Adjusted.Defined() > 0 {
		return "difficulty-adjusted, pooled over " + fmt.Sprint(a.Adjusted.Defined()) + " variants: " + a.Adjusted.Verdict()
	}
	return "raw (" + whyOneVariant + "): " + a.Raw.Verdict()
}

// AnalyzeResults is AnalyzeImbalance of finished training runs (sft.TrainVariants' results),
// the permutation tests seeded by the first run's order seed.
func AnalyzeResults(results []*Result) (*ImbalanceAnalysis, error) {
	var vs []VariantLosses
	for i, r := range results {
		v, err := LossesOf(r)
		if err != nil {
			return nil, fmt.Errorf("imbalance: run %d: %w", i, err)
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("imbalance: no runs")
	}
	an, err := AnalyzeImbalance(vs, StatsOptions{Seed: results[0].Config.OrderSeed})
	if err != nil {
		return nil, err
	}
	for i, r := range results {
		an.Variants[i].Dir = r.Dir
		for e := 0; e < r.Config.Epochs; e++ {
			st, err := r.ImbalanceAt(e)
			if err != nil {
				break
			}
			an.Variants[i].ByEpoch = append(an.Variants[i].ByEpoch, st)
		}
	}
	return an, nil
}

// ModelImbalanceOf measures a model that saw no order of its own (a merge of the variants):
// its per-sample losses (ids and losses index by index, the same samples as the variants')
// against each variant's positions, raw and adjusted by that variant's reference.
func ModelImbalanceOf(name string, ids []string, losses []float64, vs []VariantLosses, opt StatsOptions) (ModelImbalance, error) {
	a, err := align(vs)
	if err != nil {
		return ModelImbalance{}, err
	}
	m, err := a.model(name, ids, losses)
	if err != nil {
		return ModelImbalance{}, err
	}
	out := ModelImbalance{Name: name, N: len(m), MeanLoss: mean(m)}
	var raw, rawL pooler
	adj, adjL := pooler{residual: true}, pooler{residual: true}
	for k, v := range vs {
		ref := a.reference(k)
		vi := VariantImbalance{Name: v.Name, OrderSeed: v.OrderSeed, N: len(m), MeanLoss: out.MeanLoss}
		// Seeds of their own kinds (4-7), so a model's tests are not the variants' re-pairings.
		vi.Raw = raw.add(a.first[k], m, 0, "", statsSeed(opt, k, 4))
		vi.Adjusted = adj.add(a.first[k], residual(m, ref), 0, whyOneVariant, statsSeed(opt, k, 5))
		whyLast := whyNoLast
		if a.last[k] != nil {
			whyLast = whyOneVariant
		}
		vi.RawLast = rawL.add(a.last[k], m, v.LastEpoch, whyNoLast, statsSeed(opt, k, 6))
		vi.AdjustedLast = adjL.add(a.last[k], residual(m, ref), v.LastEpoch, whyLast, statsSeed(opt, k, 7))
		out.PerVariant = append(out.PerVariant, vi)
	}
	out.Raw, out.Adjusted, out.RawLast, out.AdjustedLast = raw.summary(), adj.summary(), rawL.summary(), adjL.summary()
	own := pooler{residual: true}
	for k := range vs {
		own.add(a.first[k], residual(a.loss[k], a.reference(k)), 0, whyOneVariant, StatsOptions{Permutations: -1})
	}
	vsum := own.summary()
	out.Flattening = ratio(out.Adjusted.MeanSlope, vsum.MeanSlope)
	out.FlatteningGap = ratio(out.Adjusted.MeanGap, vsum.MeanGap)
	return out, nil
}

func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

func mean(v []float64) float64 {
	m, _ := meanStd(v)
	return m
}

// String reports the analysis: the verdict, the pooled lines, then one line per variant.
func (a *ImbalanceAnalysis) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "imbalance of %d variants: %s\n", len(a.Variants), a.Verdict)
	fmt.Fprintf(&b, "  adjusted, first epoch: %s\n", a.Adjusted)
	fmt.Fprintf(&b, "  raw, first epoch:      %s\n", a.Raw)
	fmt.Fprintf(&b, "  adjusted, last epoch:  %s\n", a.AdjustedLast)
	fmt.Fprintf(&b, "  raw, last epoch:       %s\n", a.RawLast)
	for _, v := range a.Variants {
		fmt.Fprintf(&b, "  %s\n", v.line())
	}
	for _, m := range a.Models {
		fmt.Fprintf(&b, "  %s\n", m.line())
	}
	return b.String()
}

func (v VariantImbalance) line() string {
	return fmt.Sprintf("%s: mean final loss %.4f; adjusted spearman %s, gap %s; raw spearman %s, gap %s; last epoch adjusted spearman %s",
		v.Name, v.MeanLoss, rhoP(v.Adjusted), gapSE(v.Adjusted), rhoP(v.Raw), gapSE(v.Raw), rhoP(v.AdjustedLast))
}

func (m ModelImbalance) line() string {
	return fmt.Sprintf("%s: mean loss %.4f; adjusted spearman %.4f ± %.4f (SE, pooled p=%.3g) against the variants' first-epoch positions; slope %.2f of the variants' own (gap: %.2f)",
		m.Name, m.MeanLoss, m.Adjusted.MeanSpearman, m.Adjusted.SESpearman, m.Adjusted.P, m.Flattening, m.FlatteningGap)
}

func rhoP(s ImbalanceStats) string {
	if s.Undefined != "" {
		return "undefined"
	}
	return fmt.Sprintf("%.4f (p=%.3g)", s.Spearman, s.SpearmanP)
}

func gapSE(s ImbalanceStats) string {
	if s.Undefined != "" {
		return "undefined"
	}
	return fmt.Sprintf("%.4f ± %.4f", s.Gap, s.GapSE)
}

// SampleLosses returns model's loss on every example (no update), padded and truncated as a
// run with cfg would train them, in id order: the per-sample training loss of a model that was
// not trained by this package's trainer, a merge of variants above all. FirstPosition is -1.
func SampleLosses(ctx context.Context, model compute.Model, examples []data.Example, cfg Config) ([]FinalLoss, error) {
	t, err := plan(model, examples, cfg)
	if err != nil {
		return nil, err
	}
	out, err := t.finalLosses(ctx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].FirstPosition = -1
	}
	return out, nil
}

type plainModelImbalance ModelImbalance

// MarshalJSON writes the flattening ratios as null when they are undefined (NaN).
func (m ModelImbalance) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainModelImbalance
		MeanLoss      jsonFloat `json:"mean_loss"`
		Flattening    jsonFloat `json:"flattening"`
		FlatteningGap jsonFloat `json:"flattening_gap"`
	}{plainModelImbalance(m), jsonFloat(m.MeanLoss), jsonFloat(m.Flattening), jsonFloat(m.FlatteningGap)})
}

// UnmarshalJSON reads what MarshalJSON wrote, null as NaN.
func (m *ModelImbalance) UnmarshalJSON(b []byte) error {
	var j struct {
		plainModelImbalance
		MeanLoss      jsonFloat `json:"mean_loss"`
		Flattening    jsonFloat `json:"flattening"`
		FlatteningGap jsonFloat `json:"flattening_gap"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = ModelImbalance(j.plainModelImbalance)
	m.MeanLoss, m.Flattening, m.FlatteningGap = float64(j.MeanLoss), float64(j.Flattening), float64(j.FlatteningGap)
	return nil
}

// AdjustedLosses returns, per variant k, the first-epoch positions and the residual losses
// (loss minus the mean of the other variants' losses for the same sample) of every sample,
// both in variant 0's sample order: the adjusted figure's points. Nil slices for K < 2.
func AdjustedLosses(vs []VariantLosses) (positions [][]int, residuals [][]float64, err error) {
	a, err := align(vs)
	if err != nil || len(vs) < 2 {
		return nil, nil, err
	}
	for k := range vs {
		positions = append(positions, a.first[k])
		residuals = append(residuals, residual(a.loss[k], a.reference(k)))
	}
	return positions, residuals, nil
}

// AdjustedModelLosses is AdjustedLosses of a model that saw no order of its own: per variant k,
// that variant's first-epoch positions and the model's losses (ids and losses index by index)
// minus variant k's reference, in variant 0's sample order.
func AdjustedModelLosses(ids []string, losses []float64, vs []VariantLosses) (positions [][]int, residuals [][]float64, err error) {
	a, err := align(vs)
	if err != nil || len(vs) < 2 {
		return nil, nil, err
	}
	m, err := a.model("the model", ids, losses)
	if err != nil {
		return nil, nil, err
	}
	for k := range vs {
		positions = append(positions, a.first[k])
		residuals = append(residuals, residual(m, a.reference(k)))
	}
	return positions, residuals, nil
}
