package viz

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ImbalanceSeries is one order variant's samples: each sample's position in the first epoch's
// order (0 = seen first) and its loss after training, index by index.
type ImbalanceSeries struct {
	Name      string
	Positions []int
	Losses    []float64
}

// ImbalanceOptions tune the imbalance figure. The zero value is a good default.
type ImbalanceOptions struct {
	Title string
	// Bins is the number of equal-width position bins (default 10: deciles of the epoch).
	Bins int
	// Spread is what the error bars show: "std" (default: the spread of the losses in a bin) or
	// "sem" (the standard error of the bin mean).
	Spread string
	// Points also draws every sample as a faint dot.
	Points bool
	// Width and Height in inches (default 8 x 4.5).
	Width, Height float64
}

// Imbalance draws the paper's training-imbalance figure: the final loss of each sample against
// its position in the first epoch, as binned means with error bars, one series per order
// variant. If early samples end worse fitted, the curves fall from left to right.
func Imbalance(series []ImbalanceSeries, opt ImbalanceOptions) (*Figure, error) {
	title := opt.Title
	if title == "" {
		title = "Final loss by position in the first epoch"
	}
	return ImbalancePanels([]ImbalancePanel{{Title: title, Series: series}}, ImbalanceOptions{Bins: opt.Bins, Spread: opt.Spread, Points: opt.Points, Width: opt.Width, Height: opt.Height, Title: title})
}

// ImbalancePanel is one panel of ImbalancePanels: a title, the y axis label (default "final
// loss (mean per bin)") and its series.
type ImbalancePanel struct {
	Title  string
	YLabel string
	XLabel string
	Series []ImbalanceSeries
}

// ImbalancePanels draws imbalance panels side by side with the same binning: raw final losses
// beside difficulty-adjusted residuals, or single models beside merges. opt.Title names the
// figure; each panel has its own title. Series record their panel's title in Series.Panel.
func ImbalancePanels(panels []ImbalancePanel, opt ImbalanceOptions) (*Figure, error) {
	if len(panels) == 0 {
		return nil, fmt.Errorf("imbalance figure: no panels")
	}
	bins := opt.Bins
	if bins <= 0 {
		bins = 10
	}
	switch opt.Spread {
	case "", "std", "sem":
	default:
		return nil, fmt.Errorf("imbalance figure: spread %q is not std or sem", opt.Spread)
	}
	title := opt.Title
	if title == "" {
		title = panels[0].Title
	}
	f := &Figure{Title: title, Width: opt.Width, Height: opt.Height}
	if f.Width <= 0 && len(panels) > 1 {
		f.Width = 6 * float64(len(panels))
	}
	var row []*plot.Plot
	for _, pn := range panels {
		p, err := imbalancePlot(f, pn, bins, opt, len(panels) > 1)
		if err != nil {
			return nil, err
		}
		row = append(row, p)
	}
	f.panels = [][]*plot.Plot{row}
	return f, nil
}

// imbalancePlot draws one panel's series and records their points in f.
func imbalancePlot(f *Figure, pn ImbalancePanel, bins int, opt ImbalanceOptions, named bool) (*plot.Plot, error) {
	if len(pn.Series) == 0 {
		return nil, fmt.Errorf("imbalance figure: no series")
	}
	ylabel, xlabel := pn.YLabel, pn.XLabel
	if ylabel == "" {
		ylabel = "final loss (mean per bin)"
	}
	if xlabel == "" {
		xlabel = "position in the first epoch (bin centre)"
	}
	p := newPlot(pn.Title, xlabel, ylabel)
	for i, s := range pn.Series {
		if len(s.Positions) != len(s.Losses) {
			return nil, fmt.Errorf("imbalance figure: series %q has %d positions but %d losses", s.Name, len(s.Positions), len(s.Losses))
		}
		bs, err := binByPosition(s, bins, opt.Spread == "sem")
		if err != nil {
			return nil, err
		}
		if named {
			bs.Panel = pn.Title
		}
		f.Series = append(f.Series, bs)
		if opt.Points {
			raw := make(plotter.XYs, 0, len(s.Positions))
			for j, pos := range s.Positions {
				if !math.IsNaN(s.Losses[j]) && !math.IsInf(s.Losses[j], 0) {
					raw = append(raw, plotter.XY{X: float64(pos), Y: s.Losses[j]})
				}
			}
			sc, err := plotter.NewScatter(raw)
			if err != nil {
				return nil, fmt.Errorf("imbalance figure: %w", err)
			}
			c := faint(Color(i), 70)
			sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(1.2), Shape: draw.CircleGlyph{}}
			p.Add(sc)
		}
		// A small sideways shift per series keeps error bars of different variants apart.
		width := binWidth(s, bins)
		shift := (float64(i) - float64(len(pn.Series)-1)/2) * width * 0.06
		shown := bs
		shown.X = make([]float64, len(bs.X))
		for j, x := range bs.X {
			shown.X[j] = x + shift
		}
		line, pts, err := plotter.NewLinePoints(xyLoHi{&shown})
		if err != nil {
			return nil, fmt.Errorf("imbalance figure: %w", err)
		}
		line.Color = Color(i)
		line.Width = vg.Points(1.6)
		pts.Color = Color(i)
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(2.5)
		eb, err := plotter.NewYErrorBars(xyLoHi{&shown})
		if err != nil {
			return nil, fmt.Errorf("imbalance figure: %w", err)
		}
		eb.Color = Color(i)
		eb.Width = vg.Points(1)
		p.Add(line, pts, eb)
		p.Legend.Add(s.Name, line, pts)
	}
	headroom(p, 0.12)
	return p, nil
}

// binWidth is the number of positions per bin for this series' epoch size.
func binWidth(s ImbalanceSeries, bins int) float64 {
	n := 0
	for _, p := range s.Positions {
		n = max(n, p+1)
	}
	return float64(n) / float64(bins)
}

// binByPosition splits positions 0..N-1 (N = largest position + 1) into equal-width bins and
// summarises the finite losses in each.
func binByPosition(s ImbalanceSeries, bins int, sem bool) (Series, error) {
	n := 0
	for _, p := range s.Positions {
		if p < 0 {
			return Series{}, fmt.Errorf("imbalance figure: series %q has negative position %d", s.Name, p)
		}
		n = max(n, p+1)
	}
	if n == 0 {
		return Series{}, fmt.Errorf("imbalance figure: series %q has no samples", s.Name)
	}
	bins = min(bins, n)
	groups := make([][]float64, bins)
	for j, pos := range s.Positions {
		v := s.Losses[j]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		b := pos * bins / n
		groups[b] = append(groups[b], v)
	}
	out := Series{Name: s.Name}
	for b, g := range groups {
		if len(g) == 0 {
			continue
		}
		lo := float64(b*n) / float64(bins)
		hi := float64((b+1)*n) / float64(bins)
		m, sd := meanStd(g)
		if sem {
			sd /= math.Sqrt(float64(len(g)))
		}
		out.X = append(out.X, (lo+hi-1)/2)
		out.Y = append(out.Y, m)
		out.Lo = append(out.Lo, m-sd)
		out.Hi = append(out.Hi, m+sd)
		out.N = append(out.N, len(g))
	}
	return out, nil
}
