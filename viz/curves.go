package viz

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// CurveSeries is one training run's loss by global step.
type CurveSeries struct {
	Name   string
	Steps  []int
	Losses []float64
}

// CurveOptions tune the training-curve figure.
type CurveOptions struct {
	Title string
	// Smooth is the width, in points, of the centred moving average drawn over the raw curve
	// (0: about 2% of the run, at least 1; 1: no smoothing).
	Smooth int
	// Raw also draws the unsmoothed losses, faintly.
	Raw bool
	// LogY uses a logarithmic loss axis.
	LogY          bool
	Width, Height float64
}

// TrainingCurves draws loss against step, one line per run.
func TrainingCurves(series []CurveSeries, opt CurveOptions) (*Figure, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("training curves: no series")
	}
	title := opt.Title
	if title == "" {
		title = "Training loss"
	}
	ylabel := "loss"
	if opt.Smooth != 1 {
		ylabel = "loss (moving average)"
	}
	p := newPlot(title, "step", ylabel)
	if opt.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	f := &Figure{Title: title, Width: opt.Width, Height: opt.Height}
	for i, s := range series {
		if len(s.Steps) != len(s.Losses) {
			return nil, fmt.Errorf("training curves: series %q has %d steps but %d losses", s.Name, len(s.Steps), len(s.Losses))
		}
		xs := make([]float64, len(s.Steps))
		for j, st := range s.Steps {
			xs[j] = float64(st)
		}
		xs, ys := finite(xs, s.Losses)
		if opt.LogY {
			xs, ys = positive(xs, ys)
		}
		if len(xs) == 0 {
			return nil, fmt.Errorf("training curves: series %q has no finite losses", s.Name)
		}
		win := opt.Smooth
		if win <= 0 {
			win = max(1, len(xs)/50)
		}
		sm := movingAverage(ys, win)
		f.Series = append(f.Series, Series{Name: s.Name, X: xs, Y: sm})
		if opt.Raw && win > 1 {
			raw, err := plotter.NewLine(xyPairs(xs, ys))
			if err != nil {
				return nil, fmt.Errorf("training curves: %w", err)
			}
			c := faint(Color(i), 70)
			raw.Color = c
			raw.Width = vg.Points(0.7)
			p.Add(raw)
		}
		line, err := plotter.NewLine(xyPairs(xs, sm))
		if err != nil {
			return nil, fmt.Errorf("training curves: %w", err)
		}
		line.Color = Color(i)
		line.Width = vg.Points(1.6)
		p.Add(line)
		p.Legend.Add(s.Name, line)
	}
	if !opt.LogY {
		headroom(p, 0.1)
	}
	f.panels = [][]*plot.Plot{{p}}
	return f, nil
}

func xyPairs(xs, ys []float64) plotter.XYs {
	out := make(plotter.XYs, len(xs))
	for i := range xs {
		out[i] = plotter.XY{X: xs[i], Y: ys[i]}
	}
	return out
}

func positive(xs, ys []float64) ([]float64, []float64) {
	var fx, fy []float64
	for i := range xs {
		if ys[i] > 0 {
			fx = append(fx, xs[i])
			fy = append(fy, ys[i])
		}
	}
	return fx, fy
}

// movingAverage is a centred moving average of width win (shrinking at the ends).
func movingAverage(ys []float64, win int) []float64 {
	out := make([]float64, len(ys))
	if win <= 1 {
		copy(out, ys)
		return out
	}
	prefix := make([]float64, len(ys)+1)
	for i, y := range ys {
		prefix[i+1] = prefix[i] + y
	}
	half := win / 2
	for i := range ys {
		lo, hi := max(0, i-half), min(len(ys), i-half+win)
		out[i] = (prefix[hi] - prefix[lo]) / float64(hi-lo)
	}
	return out
}
