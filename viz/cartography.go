package viz

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// CartographyPoint is one training sample on the training-dynamics map: its mean confidence
// and variability over its visits (Dataset Cartography, Swayamdipta et al. 2020) and its
// position in the first epoch's order.
type CartographyPoint struct {
	Confidence, Variability float64
	Position                int
}

// CartographyOptions tune the map. The zero value is a good default.
type CartographyOptions struct {
	Title string
	// Groups is the number of first-epoch position groups, each its own colour from early
	// (dark) to late (light) (default 5).
	Groups int
	// Width and Height in inches (default 8 x 4.5).
	Width, Height float64
}

// positionShade is the i-th of n colours of a dark-blue to yellow ramp (viridis-like ends).
func positionShade(i, n int) color.Color {
	a, b := [3]float64{68, 1, 84}, [3]float64{253, 231, 37}
	t := 0.0
	if n > 1 {
		t = float64(i) / float64(n-1)
	}
	var c [3]uint8
	for k := range c {
		c[k] = uint8(math.Round(a[k] + t*(b[k]-a[k])))
	}
	return color.RGBA{c[0], c[1], c[2], 255}
}

// Cartography draws the training-dynamics map: variability on x, mean confidence on y, one
// dot per sample coloured by its first-epoch position group. If early samples end worse
// fitted, their colour sits lower (less confident).
func Cartography(points []CartographyPoint, opt CartographyOptions) (*Figure, error) {
	if len(points) == 0 {
		return nil, fmt.Errorf("cartography: no points")
	}
	groups := opt.Groups
	if groups <= 0 {
		groups = 5
	}
	n := 0
	for _, p := range points {
		if p.Position < 0 || math.IsNaN(p.Confidence) || math.IsNaN(p.Variability) {
			return nil, fmt.Errorf("cartography: point %+v has a negative position or a NaN", p)
		}
		n = max(n, p.Position+1)
	}
	groups = min(groups, n)
	title := opt.Title
	if title == "" {
		title = "Training dynamics by first-epoch position"
	}
	p := newPlot(title, "variability (std of exp(-loss) over visits)", "confidence (mean exp(-loss))")
	f := &Figure{Title: title, Width: opt.Width, Height: opt.Height}
	byGroup := make([]plotter.XYs, groups)
	for _, pt := range points {
		g := pt.Position * groups / n
		byGroup[g] = append(byGroup[g], plotter.XY{X: pt.Variability, Y: pt.Confidence})
	}
	for g, xys := range byGroup {
		if len(xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("cartography: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: faint(positionShade(g, groups), 200), Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		lo, hi := g*n/groups, (g+1)*n/groups-1
		name := fmt.Sprintf("positions %d-%d", lo, hi)
		p.Legend.Add(name, sc)
		s := Series{Name: name}
		for _, xy := range xys {
			s.X = append(s.X, xy.X)
			s.Y = append(s.Y, xy.Y)
		}
		f.Series = append(f.Series, s)
	}
	headroom(p, 0.15)
	f.panels = [][]*plot.Plot{{p}}
	return f, nil
}
