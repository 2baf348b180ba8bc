package viz

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Score is a metric of one method (a merge method, or "single" for the unmerged variants) on
// one dataset; Values holds one number per run (per seed, or per single model), so the figure
// can show their spread.
type Score struct {
	Method  string
	Dataset string
	Values  []float64
}

// ComparisonOptions tune the merge-comparison figure.
type ComparisonOptions struct {
	Title  string
	Metric string // the y-axis label, e.g. "exact match (%)"
	// Methods and Datasets fix the order of bars and groups (default: first appearance).
	Methods  []string
	Datasets []string
	// Average adds a group with each method's mean over the datasets.
	Average       bool
	Width, Height float64
}

// MergeComparison draws a grouped bar chart: one group per dataset, one bar per method, the bar
// at the mean of the method's values and a whisker from their minimum to their maximum.
func MergeComparison(scores []Score, opt ComparisonOptions) (*Figure, error) {
	if len(scores) == 0 {
		return nil, fmt.Errorf("merge comparison: no scores")
	}
	methods, datasets := opt.Methods, opt.Datasets
	if methods == nil {
		methods = firstAppearance(scores, func(s Score) string { return s.Method })
	}
	if datasets == nil {
		datasets = firstAppearance(scores, func(s Score) string { return s.Dataset })
	}
	cell := map[[2]string][]float64{}
	for _, s := range scores {
		cell[[2]string{s.Method, s.Dataset}] = append(cell[[2]string{s.Method, s.Dataset}], s.Values...)
	}
	if opt.Average {
		// The average group: per run index, the mean over datasets (runs must align by index).
		for _, m := range methods {
			var runs []float64
			for r := 0; ; r++ {
				sum, n := 0.0, 0
				for _, d := range datasets {
					if v := cell[[2]string{m, d}]; r < len(v) {
						sum += v[r]
						n++
					}
				}
				if n < len(datasets) {
					break
				}
				runs = append(runs, sum/float64(n))
			}
			cell[[2]string{m, "average"}] = runs
		}
		datasets = append(append([]string(nil), datasets...), "average")
	}
	title := opt.Title
	if title == "" {
		title = "Single models and merges"
	}
	metric := opt.Metric
	if metric == "" {
		metric = "score"
	}
	p := newPlot(title, "", metric)
	f := &Figure{Title: title, Width: opt.Width, Height: opt.Height}
	stride := float64(len(methods) + 1)
	w, _ := f.canvasSize()
	barWidth := (w - vg.Inch) / vg.Length(stride*float64(len(datasets))) * 0.9
	for mi, m := range methods {
		s := Series{Name: m}
		for di, d := range datasets {
			vals := cell[[2]string{m, d}]
			if len(vals) == 0 {
				continue
			}
			mean, _ := meanStd(vals)
			lo, hi := minMax(vals)
			x := float64(di)*stride + float64(mi)
			s.Panel = ""
			s.X = append(s.X, x)
			s.Y = append(s.Y, mean)
			s.Lo = append(s.Lo, lo)
			s.Hi = append(s.Hi, hi)
			s.N = append(s.N, len(vals))
			bar, err := plotter.NewBarChart(plotter.Values{mean}, barWidth)
			if err != nil {
				return nil, fmt.Errorf("merge comparison: %w", err)
			}
			bar.XMin = x
			bar.Color = Color(mi)
			bar.LineStyle.Width = 0
			p.Add(bar)
			if di == 0 || len(s.X) == 1 {
				p.Legend.Add(m, bar)
			}
		}
		if len(s.X) == 0 {
			continue
		}
		eb, err := plotter.NewYErrorBars(xyLoHi{&s})
		if err != nil {
			return nil, fmt.Errorf("merge comparison: %w", err)
		}
		eb.Width = vg.Points(1)
		eb.CapWidth = barWidth * 0.5
		p.Add(eb)
		f.Series = append(f.Series, s)
	}
	// Dataset names under the middle of each group.
	var ticks []plot.Tick
	for di, d := range datasets {
		ticks = append(ticks, plot.Tick{Value: float64(di)*stride + float64(len(methods)-1)/2, Label: d})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -1, float64(len(datasets))*stride-1
	p.Y.Min = 0
	headroom(p, 0.08*float64(len(methods)))
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.ThumbnailWidth = vg.Points(10)
	f.panels = [][]*plot.Plot{{p}}
	return f, nil
}

func firstAppearance(scores []Score, key func(Score) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range scores {
		k := key(s)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
