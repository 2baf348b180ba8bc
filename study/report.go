package study

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/viz"
)

// Report file names inside the output folder.
const (
	ResultsFile    = "results.json"
	ReportMarkdown = "report.md"
	ReportHTML     = "report.html"
	FiguresDir     = "figures"
	RecordsDir     = "records"
)

// pct formats an accuracy (0-1) as percent.
func pct(v float64) string { return fmt.Sprintf("%.1f", 100*v) }

// cell formats runs as "mean ± std" (percent), or the single value.
func cell(runs []float64) string {
	if len(runs) == 0 {
		return "–"
	}
	m, s := meanStd(runs)
	if len(runs) == 1 {
		return pct(m)
	}
	return fmt.Sprintf("%s ± %s", pct(m), pct(s))
}

// ResultRow is one row of the main table: a label and, per dataset, the runs' accuracies.
type ResultRow struct {
	Label string
	Runs  [][]float64 // per dataset
}

// Table returns the main results table in the paper's shape: base, single mean, single best,
// then one row per merge; one column per dataset. The average column is computed by
// TableAverage.
func (r *Results) Table() []ResultRow {
	n := len(r.Datasets)
	base := ResultRow{Label: "base model (before fine-tuning)", Runs: make([][]float64, n)}
	mean := ResultRow{Label: fmt.Sprintf("single model (mean ± std over %d orders)", r.Config.K), Runs: make([][]float64, n)}
	best := ResultRow{Label: "single model (best order)", Runs: make([][]float64, n)}
	rows := []ResultRow{base, mean, best}
	for _, m := range r.Config.Methods {
		label := m.Name
		if info := methodRandomised(m.Method); info && r.Config.MergeSeeds > 1 {
			label += fmt.Sprintf(" (± std over %d seeds)", r.Config.MergeSeeds)
		}
		rows = append(rows, ResultRow{Label: label, Runs: make([][]float64, n)})
	}
	for i := range r.Datasets {
		d := &r.Datasets[i]
		rows[0].Runs[i] = []float64{d.Base.Accuracy}
		rows[1].Runs[i] = d.SingleAccuracies()
		_, hi := minMax(d.SingleAccuracies())
		rows[2].Runs[i] = []float64{hi}
		for j, m := range r.Config.Methods {
			if mr, ok := d.Merge(m.Name); ok {
				rows[3+j].Runs[i] = mr.Accuracies()
			}
		}
	}
	return rows
}

// TableAverage is a row's average over datasets: per run index, the mean over datasets (a
// row whose datasets have different run counts averages the per-dataset means).
func TableAverage(row ResultRow) []float64 {
	runs := -1
	for _, r := range row.Runs {
		if runs == -1 || len(r) != runs {
			if runs != -1 {
				runs = -2
				break
			}
			runs = len(r)
		}
	}
	if runs <= 0 {
		var means []float64
		for _, r := range row.Runs {
			m, _ := meanStd(r)
			means = append(means, m)
		}
		m, _ := meanStd(means)
		return []float64{m}
	}
	out := make([]float64, runs)
	for k := 0; k < runs; k++ {
		for _, r := range row.Runs {
			out[k] += r[k] / float64(len(row.Runs))
		}
	}
	return out
}

// meanBaseEqual returns, from the resampling merges' reports, the share of a variant's elements
// equal to the base (averaged over variants and datasets) and the share of elements equal to
// the base in every variant (resampling keeps the base there). NaN when none was recorded.
func meanBaseEqual(r *Results) (equal, kept float64) {
	var n int
	for _, d := range r.Datasets {
		for _, m := range d.Merges {
			if m.Method != "parameter_selection" || len(m.BaseEqual) == 0 || m.Params["resample"] != true {
				continue
			}
			var e float64
			for _, v := range m.BaseEqual {
				e += v
			}
			equal += e / float64(len(m.BaseEqual))
			kept += m.KeptBase
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	return equal / float64(n), kept / float64(n)
}

func methodRandomised(method string) bool {
	switch method {
	case "parameter_selection", "dare_linear", "dare_ties":
		return true
	}
	return false
}

// Verdicts returns the report's plain statements: whether the imbalance appears, whether
// merges beat single models, whether parameter selection beats the weighted average, and what
// resampling adds.
func (r *Results) Verdicts() []string {
	var out []string
	// The training imbalance, and whether merging flattens it.
	out = append(out, r.imbalanceVerdicts()...)
	ps, lin := "parameter selection", "weighted average"
	var vsMean, vsBest, vsLin, resamp tally
	others := map[string]*tally{}
	for i := range r.Datasets {
		d := &r.Datasets[i]
		n := d.TestSize
		singles := d.SingleAccuracies()
		_, best := minMax(singles)
		if p, ok := d.Merge(ps); ok {
			vsMean.add(compare(p.Accuracies(), singles, n))
			vsBest.add(compare(p.Accuracies(), []float64{best}, n))
			if l, ok := d.Merge(lin); ok {
				vsLin.add(compare(p.Accuracies(), l.Accuracies(), n))
			}
			for _, mr := range d.Merges {
				if mr.Method == "parameter_selection" && mr.Name != ps {
					resamp.add(compare(mr.Accuracies(), p.Accuracies(), n))
				}
			}
		}
		for _, mr := range d.Merges {
			if mr.Name == ps {
				continue
			}
			if others[mr.Name] == nil {
				others[mr.Name] = &tally{}
			}
			others[mr.Name].add(compare(mr.Accuracies(), singles, n))
		}
	}
	out = append(out,
		"Merged vs single: "+vsMean.summary("Parameter selection", "the mean single model"),
		"Merged vs the best single: "+vsBest.summary("Parameter selection", "the best of the single models (chosen on the test set, so an optimistic bar)"),
		"Parameter selection vs weighted average: "+vsLin.summary("Parameter selection", "the weighted average"))
	if resamp.n > 0 {
		line := "Resampling: " + resamp.summary("Parameter selection with resampling", "plain parameter selection")
		if eq, kept := meanBaseEqual(r); !math.IsNaN(eq) {
			line += fmt.Sprintf(" Resampling only acts where the drawn variant left an element equal to the base: %.2f%% of each variant's elements here (precision %s), and %.2f%% of all elements are equal to the base in every variant, where there is nothing to redraw.", 100*eq, r.Config.MergePrecision, 100*kept)
			if eq-kept < 0.001 {
				line += " So it cannot change the result here; in bf16 (`--precision bf16`, the paper's setting) small updates round away and it has work to do."
			}
		}
		out = append(out, line)
	}
	names := make([]string, 0, len(others))
	for n := range others {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		t := others[n]
		parts = append(parts, fmt.Sprintf("%s %+.1f points (higher on %d of %d datasets, clearly on %d; clearly lower on %d)", n, 100*t.meanDiff/float64(max(1, t.n)), t.wins, t.n, t.clearWins, t.clearLosses))
	}
	if len(parts) > 0 {
		out = append(out, "The other merges against the mean single model: "+strings.Join(parts, "; ")+".")
	}
	return out
}

func (r *Results) document(figs map[string]string, command string) document {
	c := r.Config
	doc := document{heading{1, "Training imbalance and selective parameter merging: results"}}
	var dsNames []string
	for _, d := range r.Datasets {
		dsNames = append(dsNames, d.Name)
	}
	run := fmt.Sprintf("Study of Ju et al. (EMNLP 2024, arXiv 2410.03743) on the embedded datasets %s: from one base model (%d parameters, %s), K = %d variants per dataset fine-tuned with order seeds %d..%d (order mode %s, %d epochs, batch %d, peak learning rate %g, %s schedule), merged with %d methods (randomised ones with %d seeds, precision %s), every model evaluated on the test split (%s). Run time %.0f s on %s.",
		strings.Join(dsNames, ", "), r.Base.Params, baseWhere(r.Base), c.K, c.FirstOrderSeed, c.FirstOrderSeed+uint64(c.K)-1,
		orderMode(c.Train.OrderMode), c.Train.Epochs, c.Train.BatchSize, c.Train.LR, c.Train.Schedule,
		len(c.Methods), c.MergeSeeds, c.MergePrecision, testSizes(r), r.Seconds, r.Machine)
	if command != "" {
		run += " Command: `" + command + "`."
	}
	doc = append(doc, paragraph(run), heading{2, "Verdict"}, bullets(r.Verdicts()),
		paragraph("\"Clearly\" means beyond twice the standard error of the difference from the test set's size (binomial) and beyond the spread over seeds; anything smaller is reported as a difference but not as a finding."))

	doc = append(doc, heading{2, "Results"}, paragraph("Accuracy on the test split, in percent (metric per dataset in the header)."))
	header := []string{"model"}
	for _, d := range r.Datasets {
		header = append(header, fmt.Sprintf("%s (%s)", d.Name, d.Metric))
	}
	header = append(header, "average")
	t := table{header: header}
	for _, row := range r.Table() {
		cells := []string{row.Label}
		for _, runs := range row.Runs {
			cells = append(cells, cell(runs))
		}
		cells = append(cells, cell(TableAverage(row)))
		t.rows = append(t.rows, cells)
	}
	doc = append(doc, t)
	if p, ok := figs["comparison"]; ok {
		doc = append(doc, figure{p, "Accuracy per dataset: bars at the mean, whiskers from the lowest to the highest run (single models: over order seeds; randomised merges: over merge seeds)."})
	}

	doc = append(doc, r.imbalanceSection(figs)...)
	doc = append(doc, heading{2, "Training curves"})
	for _, d := range r.Datasets {
		if p, ok := figs["curves-"+d.Name]; ok {
			doc = append(doc, figure{p, fmt.Sprintf("%s: training loss per step (moving average), one line per order variant.", d.Name)})
		}
	}
	doc = append(doc, heading{2, "Inside the merges"})
	for _, d := range r.Datasets {
		if p, ok := figs["selection-"+d.Name]; ok {
			doc = append(doc, figure{p, fmt.Sprintf("%s: where parameter selection took its elements from, per layer, and how many elements of each variant still equal the base.", d.Name)})
		}
	}
	if p, ok := figs["ablation"]; ok {
		doc = append(doc, figure{p, "Accuracy against the number of variants merged (first k order variants; mean over datasets, whiskers over seeds)."})
	}
	doc = append(doc, heading{2, "Files"}, bullets{
		"`results.json`: every number in this report, and the points of every figure.",
		"`figures/`: the figures as PNG and SVG.",
		"`records/`: per dataset and variant, every training sample's first- and last-epoch position, final loss and difficulty-adjusted loss (CSV).",
	})
	return doc
}

func baseWhere(b BaseResult) string {
	if b.Source != "" {
		return b.Source
	}
	if b.Cached {
		return "pre-trained on the task family, loaded from cache"
	}
	return fmt.Sprintf("pre-trained on %d fresh samples of the task family in %.0f s", b.Samples, b.Seconds)
}

func orderMode(m sft.OrderMode) string {
	if m == "" {
		return string(sft.OrderReshuffle)
	}
	return string(m)
}

func testSizes(r *Results) string {
	var parts []string
	for _, d := range r.Datasets {
		parts = append(parts, fmt.Sprintf("%s %d", d.Name, d.TestSize))
	}
	return strings.Join(parts, ", ") + " samples"
}

func pm(v []float64, prec int) string {
	m, s := meanStd(v)
	if math.IsNaN(m) {
		return "–"
	}
	return fmt.Sprintf("%.*f ± %.*f", prec, m, prec, s)
}

// Figures draws the report's figures from the results alone.
func (r *Results) Figures() (map[string]*viz.Figure, error) {
	figs := map[string]*viz.Figure{}
	var scores []viz.Score
	var abl []viz.AblationSeries
	for _, d := range r.Datasets {
		var imb []viz.ImbalanceSeries
		var curves []viz.CurveSeries
		for _, v := range d.Variants {
			label := fmt.Sprintf("order seed %d", v.OrderSeed)
			imb = append(imb, viz.ImbalanceSeries{Name: label, Positions: v.Positions, Losses: v.FinalLosses})
			cs := viz.CurveSeries{Name: label, Losses: v.Curve}
			for s := range v.Curve {
				cs.Steps = append(cs.Steps, s+1)
			}
			curves = append(curves, cs)
		}
		f, err := d.imbalanceFigure(imb)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
		figs["imbalance-"+d.Name] = f
		if f, err := d.flatteningFigure(); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		} else if f != nil {
			figs["flattening-"+d.Name] = f
		}
		cf, err := viz.TrainingCurves(curves, viz.CurveOptions{Title: d.Name + ": training loss", Raw: true})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
		figs["curves-"+d.Name] = cf
		scores = append(scores, viz.Score{Method: "single", Dataset: d.Name, Values: scale(d.SingleAccuracies())})
		for _, m := range d.Merges {
			scores = append(scores, viz.Score{Method: m.Name, Dataset: d.Name, Values: scale(m.Accuracies())})
			if m.Method == "parameter_selection" && len(m.Tensors) > 0 && m.Name == "parameter selection" {
				var shares []viz.TensorShare
				for _, t := range m.Tensors {
					shares = append(shares, viz.TensorShare{Name: t.Name, Numel: int(t.Elements), FromModel: t.Taken, EqualBase: t.BaseEqual})
				}
				var names []string
				for _, v := range d.Variants {
					names = append(names, fmt.Sprintf("order seed %d", v.OrderSeed))
				}
				f, err := viz.SelectionMap(shares, viz.SelectionOptions{Title: d.Name + ": parameter selection, per layer", ModelNames: names})
				if err != nil {
					return nil, fmt.Errorf("%s: %w", d.Name, err)
				}
				figs["selection-"+d.Name] = f
			}
		}
	}
	if len(scores) > 0 {
		f, err := viz.MergeComparison(scores, viz.ComparisonOptions{Title: "Single models and merges", Metric: "accuracy (%)", Average: true, Width: 10, Height: 5})
		if err != nil {
			return nil, err
		}
		figs["comparison"] = f
	}
	for _, name := range r.Config.Ablation {
		s := viz.AblationSeries{Name: name}
		for k := 1; k <= r.Config.K; k++ {
			var perDataset [][]float64
			for _, d := range r.Datasets {
				for _, p := range d.Ablation {
					if p.Name == name && p.K == k {
						perDataset = append(perDataset, p.Runs)
					}
				}
			}
			if len(perDataset) == 0 {
				continue
			}
			s.X = append(s.X, float64(k))
			s.Values = append(s.Values, scale(TableAverage(ResultRow{Runs: perDataset})))
		}
		if len(s.X) > 0 {
			abl = append(abl, s)
		}
	}
	if len(abl) > 0 {
		f, err := viz.Ablation(abl, viz.AblationOptions{Title: "Accuracy against the number of merged variants", Metric: "accuracy (%), mean over datasets"})
		if err != nil {
			return nil, err
		}
		figs["ablation"] = f
	}
	return figs, nil
}

func scale(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = 100 * x
	}
	return out
}

// WriteReport writes results.json, report.md, report.html, the figures (PNG and SVG) and the
// per-variant records into dir. command, when set, is quoted in the report.
func WriteReport(dir string, r *Results, command string) error {
	if err := os.MkdirAll(filepath.Join(dir, FiguresDir), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, RecordsDir), 0o755); err != nil {
		return err
	}
	if err := r.WriteJSON(filepath.Join(dir, ResultsFile)); err != nil {
		return err
	}
	figs, err := r.Figures()
	if err != nil {
		return err
	}
	paths := map[string]string{}
	keys := make([]string, 0, len(figs))
	for k := range figs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, ext := range []string{".png", ".svg"} {
			if err := figs[k].Save(filepath.Join(dir, FiguresDir, k+ext)); err != nil {
				return err
			}
		}
		paths[k] = FiguresDir + "/" + k + ".png"
	}
	for _, d := range r.Datasets {
		// The adjusted loss is in the variants' common (id) order, as are their records.
		_, adjusted, err := sft.AdjustedLosses(d.variantLosses())
		if err != nil {
			return err
		}
		for i, v := range d.Variants {
			var sb strings.Builder
			sb.WriteString("id,first_position,final_loss,last_position,adjusted_loss\n")
			for j := range v.Positions {
				last, adj := "", ""
				if v.LastPositions != nil {
					last = fmt.Sprint(v.LastPositions[j])
				}
				if adjusted != nil {
					adj = fmt.Sprintf("%g", adjusted[i][j])
				}
				fmt.Fprintf(&sb, "%s,%d,%g,%s,%s\n", v.IDs[j], v.Positions[j], v.FinalLosses[j], last, adj)
			}
			name := fmt.Sprintf("%s-variant-%d-final-losses.csv", d.Name, i+1)
			if err := tensor.WriteFileAtomic(filepath.Join(dir, RecordsDir, name), []byte(sb.String())); err != nil {
				return err
			}
		}
	}
	doc := r.document(paths, command)
	if err := tensor.WriteFileAtomic(filepath.Join(dir, ReportMarkdown), []byte(doc.Markdown())); err != nil {
		return err
	}
	return tensor.WriteFileAtomic(filepath.Join(dir, ReportHTML), []byte(doc.HTML("ordermerge study")))
}

// summary is the part of the report a notebook shows for a Results value: verdicts and the
// main table.
func (r *Results) summary() document {
	doc := r.document(nil, "")
	var out document
	keep := false
	for _, b := range doc {
		if h, ok := b.(heading); ok && h.level == 2 {
			keep = h.text == "Verdict" || h.text == "Results"
		}
		if keep {
			if _, isFig := b.(figure); !isFig {
				out = append(out, b)
			}
		}
	}
	return out
}

// Markdown renders the verdicts and the results table (what a notebook shows for a Results).
func (r *Results) Markdown() string { return r.summary().Markdown() }

// HTML renders the same as Markdown, as an HTML fragment.
func (r *Results) HTML() string {
	var sb strings.Builder
	for _, b := range r.summary() {
		b.html(&sb)
	}
	return sb.String()
}

// String is a one-line description.
func (r *Results) String() string {
	return fmt.Sprintf("study of %d datasets, K = %d, %d merges, %.0f s", len(r.Datasets), r.Config.K, len(r.Config.Methods), r.Seconds)
}
