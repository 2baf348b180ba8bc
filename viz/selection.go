package viz

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// TensorShare is what a parameter-selection merge did to one tensor: the fraction of its
// elements taken from each model, and the fraction of each model's elements equal to the base
// (the elements that fine-tuning did not move, where resampling acts).
type TensorShare struct {
	Name      string
	Numel     int
	FromModel []float64
	EqualBase []float64
}

// SelectionOptions tune the selection map.
type SelectionOptions struct {
	Title string
	// ModelNames label the models (default "variant 1", "variant 2", ...).
	ModelNames    []string
	Width, Height float64
}

// LayerOf names the layer a Hugging Face Llama tensor belongs to: "embed", the layer number,
// "norm", "head", or "other".
func LayerOf(name string) string {
	switch {
	case strings.Contains(name, "embed_tokens"):
		return "embed"
	case strings.HasPrefix(name, "lm_head"):
		return "head"
	case name == "model.norm.weight":
		return "norm"
	}
	if i := strings.Index(name, "layers."); i >= 0 {
		rest := name[i+len("layers."):]
		if j := strings.IndexByte(rest, '.'); j > 0 {
			if _, err := strconv.Atoi(rest[:j]); err == nil {
				return rest[:j]
			}
		}
	}
	return "other"
}

// layerRank orders layers: embed, 0, 1, ..., norm, head, other.
func layerRank(l string) float64 {
	switch l {
	case "embed":
		return -1
	case "norm":
		return 1e6
	case "head":
		return 1e6 + 1
	case "other":
		return 1e6 + 2
	}
	n, _ := strconv.Atoi(l)
	return float64(n)
}

// SelectionMap draws, per layer (element-weighted over its tensors), the share of elements a
// merge took from each model (stacked bars; uniform selection gives equal slices) and, below,
// the share of each model's elements that equal the base model.
func SelectionMap(shares []TensorShare, opt SelectionOptions) (*Figure, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("selection map: no tensors")
	}
	k := len(shares[0].FromModel)
	if k == 0 {
		return nil, fmt.Errorf("selection map: tensor %q has no model shares", shares[0].Name)
	}
	type acc struct {
		n    float64
		from []float64
		base []float64
	}
	layers := map[string]*acc{}
	for _, s := range shares {
		if len(s.FromModel) != k || (len(s.EqualBase) != 0 && len(s.EqualBase) != k) {
			return nil, fmt.Errorf("selection map: tensor %q has %d model shares and %d base shares, want %d", s.Name, len(s.FromModel), len(s.EqualBase), k)
		}
		l := LayerOf(s.Name)
		a := layers[l]
		if a == nil {
			a = &acc{from: make([]float64, k), base: make([]float64, k)}
			layers[l] = a
		}
		w := float64(s.Numel)
		a.n += w
		for i := 0; i < k; i++ {
			a.from[i] += w * s.FromModel[i]
			if len(s.EqualBase) == k {
				a.base[i] += w * s.EqualBase[i]
			}
		}
	}
	names := make([]string, 0, len(layers))
	for l := range layers {
		names = append(names, l)
	}
	sort.Slice(names, func(i, j int) bool { return layerRank(names[i]) < layerRank(names[j]) })
	modelName := func(i int) string {
		if i < len(opt.ModelNames) {
			return opt.ModelNames[i]
		}
		return fmt.Sprintf("variant %d", i+1)
	}
	title := opt.Title
	if title == "" {
		title = "Where the merged parameters come from"
	}
	f := &Figure{Title: title, Width: opt.Width, Height: opt.Height}
	if f.Height == 0 {
		f.Height = 6
	}
	top := newPlot("share of elements taken from each model", "", "share")
	bottom := newPlot("share of each model's elements equal to the base", "layer", "share")
	w, _ := f.canvasSize()
	barWidth := (w - vg.Inch) / vg.Length(len(names)+1) * 0.8
	var below *plotter.BarChart
	for i := 0; i < k; i++ {
		from := Series{Panel: "from", Name: modelName(i)}
		base := Series{Panel: "equal_base", Name: modelName(i)}
		vals := make(plotter.Values, len(names))
		for j, l := range names {
			a := layers[l]
			vals[j] = a.from[i] / a.n
			from.X = append(from.X, float64(j))
			from.Y = append(from.Y, vals[j])
			base.X = append(base.X, float64(j))
			base.Y = append(base.Y, a.base[i]/a.n)
		}
		bar, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return nil, fmt.Errorf("selection map: %w", err)
		}
		bar.Color = Color(i)
		bar.LineStyle.Width = 0
		if below != nil {
			bar.StackOn(below)
		}
		below = bar
		top.Add(bar)
		top.Legend.Add(modelName(i), bar)
		line, pts, err := plotter.NewLinePoints(xyPairs(base.X, base.Y))
		if err != nil {
			return nil, fmt.Errorf("selection map: %w", err)
		}
		line.Color = Color(i)
		pts.Color = Color(i)
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(2.2)
		bottom.Add(line, pts)
		bottom.Legend.Add(modelName(i), line, pts)
		f.Series = append(f.Series, from, base)
	}
	top.NominalX(names...)
	bottom.NominalX(names...)
	top.Y.Min, top.Y.Max = 0, 1.0+0.09*float64(k)
	top.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.25}, {Value: 0.5, Label: "0.5"}, {Value: 0.75}, {Value: 1, Label: "1"}})
	bottom.Y.Min = 0
	headroom(bottom, 0.1*float64(k))
	f.panels = [][]*plot.Plot{{top}, {bottom}}
	return f, nil
}
