package viz

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ordermerge/ordermerge/tensor"
)

// Series is one set of points a figure drew: X and Y, and where the figure shows a spread, its
// lower and upper ends (Lo, Hi; empty when there is none). N, when set, is how many raw values
// each point summarises.
type Series struct {
	Panel string
	Name  string
	X, Y  []float64
	Lo    []float64
	Hi    []float64
	N     []int
}

// Figure is a rendered-on-demand figure of one or more panels.
type Figure struct {
	Title string
	// Width and Height are in inches; PNG output uses DPI dots per inch.
	Width, Height float64
	DPI           int
	// Series holds every number the figure drew, panel by panel.
	Series []Series

	panels [][]*plot.Plot
}

// palette is the Okabe-Ito colour-blind-safe palette, then greys.
var palette = []color.RGBA{
	{0, 114, 178, 255}, {230, 159, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{86, 180, 233, 255}, {213, 94, 0, 255}, {240, 228, 66, 255}, {0, 0, 0, 255},
	{120, 120, 120, 255}, {180, 180, 180, 255},
}

// Color returns the i-th colour of the figures' palette (it cycles).
func Color(i int) color.Color { return palette[((i%len(palette))+len(palette))%len(palette)] }

// cleanTicks are gonum's default ticks labelled with the shortest exact form ("250", not
// "250.00").
type cleanTicks struct{}

func (cleanTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'g', 6, 64)
		}
	}
	return ts
}

// faint returns c with the given opacity (0-255).
func faint(c color.Color, alpha uint8) color.Color {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	n.A = alpha
	return n
}

// headroom raises the top of the y axis by frac of its range, so a legend in the top corner
// does not cover data.
func headroom(p *plot.Plot, frac float64) {
	p.Y.Max += frac * (p.Y.Max - p.Y.Min)
}

// newPlot returns a plot styled for notebook reading: large enough text, light grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(11)
		a.Tick.Label.Font.Size = vg.Points(9.5)
	}
	p.X.Tick.Marker = cleanTicks{}
	p.Y.Tick.Marker = cleanTicks{}
	p.Legend.TextStyle.Font.Size = vg.Points(9.5)
	p.Legend.Top = true
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	p.Add(g)
	return p
}

func (f *Figure) canvasSize() (vg.Length, vg.Length) {
	w, h := f.Width, f.Height
	if w <= 0 {
		w = 8
	}
	if h <= 0 {
		h = 4.5
	}
	return vg.Length(w) * vg.Inch, vg.Length(h) * vg.Inch
}

func (f *Figure) draw(c vg.CanvasSizer, w, h vg.Length) error {
	if len(f.panels) == 0 {
		return fmt.Errorf("figure %q has nothing to draw", f.Title)
	}
	dc := draw.New(c)
	// White background: PNGs are shown on dark notebook themes too.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	if f.Title != "" && len(f.panels)*len(f.panels[0]) > 1 {
		// A multi-panel figure gets an overall title above its panels.
		sty := plot.New().Title.TextStyle
		sty.Font.Size = vg.Points(14)
		dc.FillText(sty, vg.Point{X: w / 2, Y: h - vg.Points(4)}, f.Title)
		dc.Max.Y -= vg.Points(22)
	}
	rows, cols := len(f.panels), len(f.panels[0])
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(10), PadY: vg.Points(10), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(f.panels, tiles, dc)
	for i := range f.panels {
		for j, p := range f.panels[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	return nil
}

// PNG renders the figure as a PNG image.
func (f *Figure) PNG() (b []byte, err error) {
	defer recoverPlot(&err, f.Title)
	w, h := f.canvasSize()
	dpi := f.DPI
	if dpi <= 0 {
		dpi = 110
	}
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
	if err := f.draw(c, w, h); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("figure %q: encoding PNG: %w", f.Title, err)
	}
	return buf.Bytes(), nil
}

// SVG renders the figure as an SVG document.
func (f *Figure) SVG() (b []byte, err error) {
	defer recoverPlot(&err, f.Title)
	w, h := f.canvasSize()
	c := vgsvg.New(w, h)
	if err := f.draw(c, w, h); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("figure %q: encoding SVG: %w", f.Title, err)
	}
	return buf.Bytes(), nil
}

// recoverPlot turns a panic inside gonum/plot (it panics on some degenerate inputs) into an
// error, so no panic escapes this package.
func recoverPlot(err *error, title string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("figure %q: drawing failed: %v", title, r)
	}
}

// Save writes the figure to path atomically; the extension chooses the format (.png or .svg).
func (f *Figure) Save(path string) error {
	var b []byte
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		b, err = f.PNG()
	case ".svg":
		b, err = f.SVG()
	default:
		return fmt.Errorf("%s: unknown figure format (use .png or .svg)", path)
	}
	if err != nil {
		return err
	}
	return tensor.WriteFileAtomic(path, b)
}

// String describes the figure: its title and series.
func (f *Figure) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "figure %q:", f.Title)
	for _, s := range f.Series {
		name := s.Name
		if s.Panel != "" {
			name = s.Panel + "/" + s.Name
		}
		fmt.Fprintf(&sb, " %s (%d points);", name, len(s.X))
	}
	return strings.TrimSuffix(sb.String(), ";")
}

// xyLoHi adapts a series to gonum's XYer and YErrorer interfaces.
type xyLoHi struct{ s *Series }

func (p xyLoHi) Len() int                    { return len(p.s.X) }
func (p xyLoHi) XY(i int) (float64, float64) { return p.s.X[i], p.s.Y[i] }
func (p xyLoHi) YError(i int) (float64, float64) {
	return p.s.Y[i] - p.s.Lo[i], p.s.Hi[i] - p.s.Y[i]
}

// finite drops points whose X or Y is NaN or infinite (a diverged run must not break a figure).
func finite(xs, ys []float64) ([]float64, []float64) {
	var fx, fy []float64
	for i := range xs {
		if !math.IsNaN(xs[i]) && !math.IsInf(xs[i], 0) && !math.IsNaN(ys[i]) && !math.IsInf(ys[i], 0) {
			fx = append(fx, xs[i])
			fy = append(fy, ys[i])
		}
	}
	return fx, fy
}

// meanStd returns the mean and the sample standard deviation of vs (0 for fewer than 2).
func meanStd(vs []float64) (mean, std float64) {
	if len(vs) == 0 {
		return math.NaN(), 0
	}
	for _, v := range vs {
		mean += v
	}
	mean /= float64(len(vs))
	if len(vs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range vs {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(vs)-1))
}

func minMax(vs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		lo = math.Min(lo, v)
		hi = math.Max(hi, v)
	}
	return lo, hi
}

// MIMEBundle is what the ordermerge Jupyter kernel shows for a figure: the PNG (light enough
// to keep in a saved notebook) and a text description. Use SVG() for a vector copy.
func (f *Figure) MIMEBundle() map[string]any {
	b, err := f.PNG()
	if err != nil {
		return map[string]any{"text/plain": "figure error: " + err.Error()}
	}
	return map[string]any{"image/png": b, "text/plain": f.String()}
}
