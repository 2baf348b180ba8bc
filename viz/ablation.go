package viz

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// AblationSeries is a metric measured at several settings of one knob (the number of merged
// variants K, by default): Values[i] holds the runs (seeds) measured at X[i].
type AblationSeries struct {
	Name   string
	X      []float64
	Values [][]float64
}

// AblationOptions tune the ablation figure.
type AblationOptions struct {
	Title, Metric string
	// XLabel names the knob (default "number of variants K").
	XLabel        string
	Width, Height float64
}

// Ablation draws the metric against the knob, one line per series, at the mean of the runs
// with a whisker from their minimum to their maximum.
func Ablation(series []AblationSeries, opt AblationOptions) (*Figure, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("ablation figure: no series")
	}
	title := opt.Title
	if title == "" {
		title = "Effect of the number of merged variants"
	}
	xlabel := opt.XLabel
	if xlabel == "" {
		xlabel = "number of variants K"
	}
	metric := opt.Metric
	if metric == "" {
		metric = "score"
	}
	p := newPlot(title, xlabel, metric)
	f := &Figure{Title: title, Width: opt.Width, Height: opt.Height}
	for i, s := range series {
		if len(s.X) != len(s.Values) {
			return nil, fmt.Errorf("ablation figure: series %q has %d settings but %d value lists", s.Name, len(s.X), len(s.Values))
		}
		out := Series{Name: s.Name}
		for j, vals := range s.Values {
			vals, _ = finite(vals, vals)
			if len(vals) == 0 {
				continue
			}
			m, _ := meanStd(vals)
			lo, hi := minMax(vals)
			out.X = append(out.X, s.X[j])
			out.Y = append(out.Y, m)
			out.Lo = append(out.Lo, lo)
			out.Hi = append(out.Hi, hi)
			out.N = append(out.N, len(vals))
		}
		if len(out.X) == 0 {
			return nil, fmt.Errorf("ablation figure: series %q has no finite values", s.Name)
		}
		line, pts, err := plotter.NewLinePoints(xyLoHi{&out})
		if err != nil {
			return nil, fmt.Errorf("ablation figure: %w", err)
		}
		line.Color = Color(i)
		line.Width = vg.Points(1.6)
		pts.Color = Color(i)
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(2.8)
		eb, err := plotter.NewYErrorBars(xyLoHi{&out})
		if err != nil {
			return nil, fmt.Errorf("ablation figure: %w", err)
		}
		eb.Color = Color(i)
		p.Add(line, pts, eb)
		p.Legend.Add(s.Name, line, pts)
		f.Series = append(f.Series, out)
	}
	p.X.Tick.Marker = integerTicks{}
	headroom(p, 0.15)
	f.panels = [][]*plot.Plot{{p}}
	return f, nil
}

// integerTicks labels whole numbers only (K is a count).
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	step := 1.0
	for (hi-lo)/step > 12 {
		step *= 2
	}
	for v := float64(int(lo)); v <= hi; v += step {
		if v >= lo {
			out = append(out, plot.Tick{Value: v, Label: fmt.Sprint(int(v))})
		}
	}
	return out
}
