package study

import (
	"fmt"
	"math"
	"strings"

	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/viz"
)

// variantLosses returns the variants' per-sample records in the statistics' form.
func (d *DatasetResult) variantLosses() []sft.VariantLosses {
	var vs []sft.VariantLosses
	for _, v := range d.Variants {
		vs = append(vs, sft.VariantLosses{Name: fmt.Sprintf("order seed %d", v.OrderSeed), OrderSeed: v.OrderSeed,
			IDs: v.IDs, First: v.Positions, Last: v.LastPositions, LastEpoch: v.LastEpoch, Losses: v.FinalLosses})
	}
	return vs
}

// AnalyzeImbalance computes d.Imbalance from the variants' per-sample records and the merges'
// training losses: raw and difficulty-adjusted statistics against first- and last-epoch
// positions, per variant and pooled, and every merge's against the variants' positions. The
// permutation tests are seeded by the first variant's order seed, so the numbers are
// reproducible from results.json alone.
func (d *DatasetResult) AnalyzeImbalance() error {
	if len(d.Variants) == 0 {
		return fmt.Errorf("%s: no variants to measure", d.Name)
	}
	vs := d.variantLosses()
	opt := sft.StatsOptions{Seed: d.Variants[0].OrderSeed}
	an, err := sft.AnalyzeImbalance(vs, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Name, err)
	}
	for _, m := range d.Merges {
		if len(m.TrainLosses) == 0 {
			continue
		}
		mi, err := sft.ModelImbalanceOf(m.Name, d.Variants[0].IDs, m.TrainLosses, vs, opt)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Name, err)
		}
		an.Models = append(an.Models, mi)
	}
	d.Imbalance = an
	return nil
}

// imbalance returns d.Imbalance, computed when results.json predates it.
func (d *DatasetResult) imbalance() *sft.ImbalanceAnalysis {
	if d.Imbalance == nil && len(d.Variants) > 0 {
		if err := d.AnalyzeImbalance(); err != nil {
			return nil
		}
	}
	return d.Imbalance
}

// direction says in words which way a pooled statistic falls.
func direction(s sft.ImbalanceSummary) string {
	switch {
	case s.Defined() == 0:
		return "undefined"
	case math.IsNaN(s.P):
		return "not tested"
	case s.P >= 0.05:
		if s.MeanSpearman < 0 {
			return "negative but not significant"
		}
		return "positive but not significant"
	case s.MeanSpearman < 0:
		return "**negative: early samples end worse fitted (the training imbalance)**"
	default:
		return "**positive: late samples end worse fitted (the opposite)**"
	}
}

// pooledCell is "mean ± SE (p)" of a pooled Spearman.
func pooledCell(s sft.ImbalanceSummary) string {
	if s.Defined() == 0 {
		return "–"
	}
	out := fmt.Sprintf("%+.3f", s.MeanSpearman)
	if !math.IsNaN(s.SESpearman) {
		out += fmt.Sprintf(" ± %.3f", s.SESpearman)
	}
	if !math.IsNaN(s.P) {
		out += fmt.Sprintf(" (p = %.3g)", s.P)
	}
	return out
}

// gapCell is "mean ± SE" of a pooled early-minus-late gap.
func gapCell(s sft.ImbalanceSummary) string {
	if s.Defined() == 0 {
		return "–"
	}
	if math.IsNaN(s.SEGap) {
		return fmt.Sprintf("%+.4f", s.MeanGap)
	}
	return fmt.Sprintf("%+.4f ± %.4f", s.MeanGap, s.SEGap)
}

// signCounts is "negative in a of n (b significant), positive in ..." of a pooled statistic.
func signCounts(an *sft.ImbalanceAnalysis, adjusted bool) string {
	neg, pos := 0, 0
	for _, v := range an.Variants {
		st := v.Raw
		if adjusted {
			st = v.Adjusted
		}
		if st.Undefined != "" {
			continue
		}
		if st.Spearman < 0 {
			neg++
		} else if st.Spearman > 0 {
			pos++
		}
	}
	s := an.Raw
	if adjusted {
		s = an.Adjusted
	}
	return fmt.Sprintf("negative in %d of %d (significant in %d), positive in %d (significant in %d)", neg, len(an.Variants), s.Imbalanced, pos, s.Opposite)
}

// imbalanceVerdicts are the report's statements on the imbalance, one per dataset, from the
// adjusted pooled statistic, then one on whether merging flattens it.
func (r *Results) imbalanceVerdicts() []string {
	var parts []string
	shown, opposite, measured := 0, 0, 0
	for i := range r.Datasets {
		d := &r.Datasets[i]
		an := d.imbalance()
		if an == nil {
			continue
		}
		a := an.Adjusted
		if a.Defined() == 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", d.Name, a.Verdict()))
			continue
		}
		measured++
		if a.P < 0.05 {
			if a.MeanSpearman < 0 {
				shown++
			} else {
				opposite++
			}
		}
		parts = append(parts, fmt.Sprintf("%s %s, %s (raw %s)", d.Name, pooledCell(a), signCounts(an, true), pooledCell(an.Raw)))
	}
	line := "Training imbalance (samples seen early in the first epoch end with higher loss), measured by the difficulty-adjusted Spearman correlation of first-epoch position with residual loss (a sample's final loss minus its mean over the other variants), pooled over the variants (mean ± standard error, pooled permutation p): " + strings.Join(parts, "; ") + "."
	switch {
	case measured == 0:
		line += " **Not measured: the adjusted statistic needs K ≥ 2 variants.**"
	case shown == measured:
		line += fmt.Sprintf(" **The imbalance appears on every dataset (%d of %d).**", shown, measured)
	case shown*2 > measured && opposite == 0:
		line += fmt.Sprintf(" **The imbalance appears on most datasets (%d of %d).**", shown, measured)
	case shown == 0 && opposite == 0:
		line += " **The imbalance does not appear on this data at this scale.**"
	case opposite > 0 && shown == 0:
		line += fmt.Sprintf(" **The opposite appears (late samples worse) on %d of %d datasets.**", opposite, measured)
	default:
		line += fmt.Sprintf(" **Mixed: the imbalance appears on %d of %d datasets, the opposite on %d.**", shown, measured, opposite)
	}
	out := []string{line}
	if m := r.mergeFlattening(); m != "" {
		out = append(out, m)
	}
	return out
}

// mergeFlattening answers "does merging mitigate the imbalance?" with numbers: on the
// datasets where the single models show the imbalance (adjusted, pooled, p < 0.05, negative),
// each merge's adjusted statistic and the slope of its position curve as a fraction of the
// single models'. Datasets without the imbalance have nothing to flatten: a ratio of two
// slopes near zero is noise, so they are left out of the answer (the section's table has them).
func (r *Results) mergeFlattening() string {
	var parts []string
	var ratios []float64
	still, models, measured := 0, 0, 0
	for i := range r.Datasets {
		if an := r.Datasets[i].imbalance(); an != nil && len(an.Models) > 0 {
			measured++
		}
	}
	if measured == 0 {
		return ""
	}
	for i := range r.Datasets {
		d := &r.Datasets[i]
		an := d.imbalance()
		if an == nil || len(an.Models) == 0 || !shows(an.Adjusted) {
			continue
		}
		var ms []string
		for _, m := range an.Models {
			models++
			if shows(m.Adjusted) {
				still++
			}
			if !math.IsNaN(m.Flattening) {
				ratios = append(ratios, m.Flattening)
			}
			ms = append(ms, fmt.Sprintf("%s %s, slope %s of the single models'", m.Name, pooledCell(m.Adjusted), ratioCell(m.Flattening)))
		}
		parts = append(parts, fmt.Sprintf("%s (single models %s): %s", d.Name, pooledCell(an.Adjusted), strings.Join(ms, "; ")))
	}
	line := "Does merging mitigate the imbalance? Each merged model's difficulty-adjusted loss against the variants' first-epoch positions, on the datasets where the single models show the imbalance"
	if len(parts) == 0 {
		return line + ": **none does here, so there is nothing for merging to flatten** (the per-dataset table below has the numbers anyway)."
	}
	line += ": " + strings.Join(parts, ". ") + "."
	m, s := meanStd(ratios)
	switch {
	case math.IsNaN(m):
		line += " **Not measurable: no slope ratio is defined.**"
	case m < 0.67:
		line += fmt.Sprintf(" **Yes: merged models keep %.2f ± %.2f of a single model's slope (mean ± std over %d merges), and the imbalance stays significant in %d of them.**", m, s, len(ratios), still)
	case m < 0.9:
		line += fmt.Sprintf(" **Partly: merged models keep %.2f ± %.2f of a single model's slope (%d merges); the imbalance stays significant in %d.**", m, s, len(ratios), still)
	default:
		line += fmt.Sprintf(" **No: merged models keep %.2f ± %.2f of a single model's slope (%d merges); the imbalance stays significant in %d of %d.**", m, s, len(ratios), still, models)
	}
	return line
}

// shows reports whether a pooled statistic shows the imbalance: significantly negative.
func shows(s sft.ImbalanceSummary) bool {
	return s.Defined() > 0 && s.P < 0.05 && s.MeanSpearman < 0
}

// imbalanceSection is the report's imbalance part: the regime, the statistics per dataset
// (adjusted beside raw, first epoch beside last), the figures, and the merges' flattening.
func (r *Results) imbalanceSection(figs map[string]string) document {
	doc := document{heading{2, "Training imbalance"}, paragraph(r.regime()),
		paragraph("A sample's final loss is mostly its difficulty (rank-correlated across order variants), which hides a position effect from a raw correlation. The difficulty-adjusted statistic subtracts it: each sample's final loss minus its mean over the *other* variants (valid because the variants' orders are independent), against the sample's position in the first epoch. A negative Spearman correlation and a positive early-minus-late gap (first decile minus last) mean samples seen early end worse fitted, the paper's finding. Pooled over the variants: mean ± standard error, and a permutation test that re-pairs every variant's positions independently. The same against the last epoch's positions separates recency (samples seen last are fitted best) from the first-epoch effect: with a fixed order the two are the same positions. The verdict uses the adjusted, pooled, first-epoch statistic.")}
	t := table{header: []string{"dataset", "adjusted Spearman (first epoch)", "variants", "adjusted early − late gap (nats)", "raw Spearman", "adjusted Spearman (last epoch)", "which way"}}
	for i := range r.Datasets {
		d := &r.Datasets[i]
		an := d.imbalance()
		if an == nil {
			continue
		}
		t.rows = append(t.rows, []string{d.Name, pooledCell(an.Adjusted), signCounts(an, true), gapCell(an.Adjusted), pooledCell(an.Raw), pooledCell(an.AdjustedLast), direction(an.Adjusted)})
	}
	doc = append(doc, t)
	for _, d := range r.Datasets {
		if p, ok := figs["imbalance-"+d.Name]; ok {
			doc = append(doc, figure{p, fmt.Sprintf("%s: left, final loss by first-epoch position (raw); right, the difficulty-adjusted residual loss; deciles, mean ± standard error per bin, one line per order variant.", d.Name)})
		}
	}
	doc = append(doc, heading{2, "Does merging mitigate the imbalance?"},
		paragraph("Every merged model (first merge seed) is run over the training samples; its loss, less the same difficulty reference as each variant's (the other variants' mean), is set against that variant's first-epoch positions. A merge of K variants that averages their position effects should keep about 1/K of a single model's slope. The ratio is of least-squares slopes (nats per position) and of early-minus-late gaps, pooled over the variants."))
	mt := table{header: []string{"dataset", "model", "adjusted Spearman", "adjusted gap (nats)", "slope ratio to single models", "gap ratio"}}
	for i := range r.Datasets {
		d := &r.Datasets[i]
		an := d.imbalance()
		if an == nil || len(an.Models) == 0 {
			continue
		}
		mt.rows = append(mt.rows, []string{d.Name, "single models", pooledCell(an.Adjusted), gapCell(an.Adjusted), "1", "1"})
		for _, m := range an.Models {
			mt.rows = append(mt.rows, []string{d.Name, m.Name, pooledCell(m.Adjusted), gapCell(m.Adjusted), ratioCell(m.Flattening), ratioCell(m.FlatteningGap)})
		}
	}
	if len(mt.rows) == 0 {
		doc = append(doc, paragraph("Not measured: no merged model's training losses were recorded (they need K ≥ 2 variants)."))
		return doc
	}
	doc = append(doc, mt)
	if line := r.mergeFlattening(); line != "" {
		doc = append(doc, paragraph(line))
	}
	for _, d := range r.Datasets {
		if p, ok := figs["flattening-"+d.Name]; ok {
			doc = append(doc, figure{p, fmt.Sprintf("%s: difficulty-adjusted loss by first-epoch position, pooled over the variants' positions: the single models against each merge (deciles, mean ± standard error).", d.Name)})
		}
	}
	return doc
}

func ratioCell(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// regime says which training setting the study used, and why it matters for the imbalance.
func (r *Results) regime() string {
	c := r.Config
	t := c.Train
	mode := orderMode(t.OrderMode)
	s := fmt.Sprintf("Setting: %d epochs, order mode %s, %s schedule with peak learning rate %g", t.Epochs, mode, t.Schedule, t.LR)
	if t.MinLR > 0 {
		s += fmt.Sprintf(" decaying to %g", t.MinLR)
	}
	s += fmt.Sprintf(", batch %d, K = %d variants.", t.BatchSize, c.K)
	s += " These defaults are the paper's regime, chosen because an earlier calibration of this instrument found the imbalance there and not elsewhere: a decaying schedule with a low peak learning rate (a constant rate made it vanish, a high one washed it out), a new order every epoch (with a fixed order, first-epoch position is last-epoch position and a dependence is recency), and responses unique per sample (each sample must be learnt on its own). Under a decaying schedule a dependence on last-epoch position can be positive: samples visited late in the last epoch got their last update at a near-zero learning rate."
	var sizes []string
	for _, d := range r.Datasets {
		sizes = append(sizes, fmt.Sprintf("%s %d", d.Name, d.TrainSize))
	}
	if c.UniqueResponses {
		s += " Here every training split keeps only the first sample of each response, so responses are unique per sample: " + strings.Join(sizes, ", ") + " training samples."
	} else {
		s += " Training samples: " + strings.Join(sizes, ", ") + "."
	}
	var notes []string
	if !c.UniqueResponses {
		notes = append(notes, "responses are not made unique per sample (samples sharing an answer are fitted by each other)")
	}
	if t.Schedule == "constant" {
		notes = append(notes, "this run's schedule is constant")
	}
	if t.LR > 1e-3 {
		notes = append(notes, fmt.Sprintf("this run's peak learning rate %g is above 1e-3", t.LR))
	}
	if mode != string(sft.OrderReshuffle) {
		notes = append(notes, "this run's order is not reshuffled every epoch, so read the last-epoch column")
	}
	if c.K < 2 {
		notes = append(notes, "with K = 1 there is no difficulty adjustment")
	}
	if len(notes) > 0 {
		s += " Departures: " + strings.Join(notes, "; ") + "."
	}
	return s
}

// imbalanceFigure is the raw imbalance figure beside the difficulty-adjusted one (raw alone
// with one variant).
func (d *DatasetResult) imbalanceFigure(raw []viz.ImbalanceSeries) (*viz.Figure, error) {
	opt := viz.ImbalanceOptions{Title: d.Name + ": loss by first-epoch position", Spread: "sem"}
	panels := []viz.ImbalancePanel{{Title: "raw: final loss", Series: raw}}
	pos, res, err := sft.AdjustedLosses(d.variantLosses())
	if err != nil {
		return nil, err
	}
	if res != nil {
		var adj []viz.ImbalanceSeries
		for k, v := range d.Variants {
			adj = append(adj, viz.ImbalanceSeries{Name: fmt.Sprintf("order seed %d", v.OrderSeed), Positions: pos[k], Losses: res[k]})
		}
		panels = append(panels, viz.ImbalancePanel{Title: "difficulty-adjusted: loss − other variants' mean", YLabel: "residual loss (mean per bin)", Series: adj})
	}
	return viz.ImbalancePanels(panels, opt)
}

// flatteningFigure draws the adjusted position curve of the single models (every variant's
// points together) against each merge's (its losses against every variant's positions); nil
// when no merge has training losses.
func (d *DatasetResult) flatteningFigure() (*viz.Figure, error) {
	vs := d.variantLosses()
	pos, res, err := sft.AdjustedLosses(vs)
	if err != nil || res == nil {
		return nil, err
	}
	series := []viz.ImbalanceSeries{pooledSeries("single models", pos, res)}
	for _, m := range d.Merges {
		if len(m.TrainLosses) == 0 {
			continue
		}
		mp, mres, err := sft.AdjustedModelLosses(d.Variants[0].IDs, m.TrainLosses, vs)
		if err != nil {
			return nil, err
		}
		series = append(series, pooledSeries(m.Name, mp, mres))
	}
	if len(series) == 1 {
		return nil, nil
	}
	return viz.ImbalancePanels([]viz.ImbalancePanel{{Title: d.Name + ": does merging flatten the imbalance?", YLabel: "difficulty-adjusted loss (mean per bin)",
		XLabel: "position in a variant's first epoch (bin centre)", Series: series}}, viz.ImbalanceOptions{Spread: "sem"})
}

// pooledSeries puts every variant's points in one series.
func pooledSeries(name string, pos [][]int, res [][]float64) viz.ImbalanceSeries {
	s := viz.ImbalanceSeries{Name: name}
	for k := range pos {
		s.Positions = append(s.Positions, pos[k]...)
		s.Losses = append(s.Losses, res[k]...)
	}
	return s
}
