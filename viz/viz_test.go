package viz

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/cmpimg"
)

// checkGolden renders f as PNG and compares it with testdata/NAME.png, tolerantly (gonum's
// cmpimg). ORDERMERGE_UPDATE_GOLDEN=1 rewrites the golden files.
func checkGolden(t *testing.T, f *Figure, name string) {
	t.Helper()
	checkGoldenTo(t, f, name)
}

// goldenT is what checkGoldenTo needs of a *testing.T.
type goldenT interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

func checkGoldenTo(t goldenT, f *Figure, name string) {
	t.Helper()
	gotPNG, err := f.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(gotPNG))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 300 {
		t.Errorf("%s: %dx%d is too small to read in a notebook", name, b.Dx(), b.Dy())
	}
	svg, err := f.SVG()
	if err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Fatalf("%s: SVG: %v", name, err)
	}
	path := filepath.Join("testdata", name+".png")
	if os.Getenv("ORDERMERGE_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, gotPNG, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with ORDERMERGE_UPDATE_GOLDEN=1 to create it)", err)
	}
	ok, err := cmpimg.EqualApprox("png", gotPNG, want, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		// The evidence is kept where it outlives the test (t.TempDir is removed at its end).
		dir := os.Getenv("ORDERMERGE_GOLDEN_DIFF_DIR")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "ordermerge-golden-diff")
		}
		got := filepath.Join(dir, name+".png")
		if err := os.MkdirAll(dir, 0o755); err == nil {
			err = os.WriteFile(got, gotPNG, 0o644)
		}
		t.Errorf("%s: rendering differs from %s; this rendering is in %s (ORDERMERGE_GOLDEN_DIFF_DIR sets where; ORDERMERGE_UPDATE_GOLDEN=1 accepts it)", name, path, got)
	}
}

// recordingT notes a failure instead of failing the test that uses it.
type recordingT struct{ failed bool }

func (r *recordingT) Helper()                      {}
func (r *recordingT) Fatal(args ...any)            { panic(fmt.Sprint(args...)) }
func (r *recordingT) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }
func (r *recordingT) Errorf(string, ...any)        { r.failed = true }

// A golden mismatch leaves the rendering in a folder that outlives the test.
func TestGoldenMismatchEvidenceOutlivesTheTest(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ORDERMERGE_GOLDEN_DIFF_DIR", dir)
	f, err := Imbalance(imbalanceData(40), ImbalanceOptions{Title: "not the golden one"})
	if err != nil {
		t.Fatal(err)
	}
	ft := &recordingT{}
	checkGoldenTo(ft, f, "imbalance")
	if !ft.failed {
		t.Fatal("a different figure matched the golden image")
	}
	if st, err := os.Stat(filepath.Join(dir, "imbalance.png")); err != nil || st.Size() == 0 {
		t.Errorf("no evidence written: %v", err)
	}
}

// imbalanceData builds an epoch of n samples whose loss falls with position, per variant.
func imbalanceData(n int) []ImbalanceSeries {
	var out []ImbalanceSeries
	for v := 0; v < 3; v++ {
		s := ImbalanceSeries{Name: "order seed " + string(rune('1'+v))}
		for i := 0; i < n; i++ {
			pos := (i*7 + v*13) % n
			noise := 0.1 * math.Sin(float64(i*(v+3)))
			s.Positions = append(s.Positions, pos)
			s.Losses = append(s.Losses, 1.0-0.4*float64(pos)/float64(n)+noise)
		}
		out = append(out, s)
	}
	return out
}

func TestImbalanceBinsAreTheRecords(t *testing.T) {
	data := imbalanceData(200)
	f, err := Imbalance(data, ImbalanceOptions{Bins: 10, Points: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Series) != 3 {
		t.Fatalf("%d series", len(f.Series))
	}
	// Each bin's mean must equal the mean of the losses of the samples in that decile.
	for v, s := range f.Series {
		if len(s.X) != 10 {
			t.Fatalf("series %d: %d bins", v, len(s.X))
		}
		for b := 0; b < 10; b++ {
			var sum float64
			var n int
			for i, pos := range data[v].Positions {
				if pos/20 == b {
					sum += data[v].Losses[i]
					n++
				}
			}
			if n != s.N[b] || math.Abs(sum/float64(n)-s.Y[b]) > 1e-12 {
				t.Errorf("series %d bin %d: mean %g over %d, figure has %g over %d", v, b, sum/float64(n), n, s.Y[b], s.N[b])
			}
			if s.X[b] != float64(b*20)+9.5 || s.Lo[b] > s.Y[b] || s.Hi[b] < s.Y[b] {
				t.Errorf("series %d bin %d: x %g, spread [%g, %g] around %g", v, b, s.X[b], s.Lo[b], s.Hi[b], s.Y[b])
			}
		}
		if s.Y[0] <= s.Y[9] {
			t.Errorf("series %d: falling data drawn as rising", v)
		}
	}
	checkGolden(t, f, "imbalance")
}

func TestImbalanceRejectsBadInput(t *testing.T) {
	cases := map[string][]ImbalanceSeries{
		"mismatch": {{Name: "a", Positions: []int{0, 1}, Losses: []float64{1}}},
		"negative": {{Name: "a", Positions: []int{-1}, Losses: []float64{1}}},
		"empty":    {{Name: "a"}},
		"none":     nil,
	}
	for name, in := range cases {
		if _, err := Imbalance(in, ImbalanceOptions{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Imbalance(imbalanceData(10), ImbalanceOptions{Spread: "iqr"}); err == nil {
		t.Error("unknown spread accepted")
	}
	// NaN losses are skipped, not drawn and not fatal.
	d := imbalanceData(50)
	d[0].Losses[3] = math.NaN()
	f, err := Imbalance(d, ImbalanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PNG(); err != nil {
		t.Fatal(err)
	}
}

func TestTrainingCurves(t *testing.T) {
	var series []CurveSeries
	for v := 0; v < 3; v++ {
		s := CurveSeries{Name: "variant " + string(rune('1'+v))}
		for step := 0; step < 300; step++ {
			s.Steps = append(s.Steps, step)
			s.Losses = append(s.Losses, 3*math.Exp(-float64(step)/80)+0.3+0.2*math.Sin(float64(step*(v+2))))
		}
		series = append(series, s)
	}
	f, err := TrainingCurves(series, CurveOptions{Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	// The smoothed curve keeps the mean of a window: check one interior point by hand.
	s := f.Series[0]
	win := 300 / 50
	var want float64
	for i := 100 - win/2; i < 100-win/2+win; i++ {
		want += series[0].Losses[i]
	}
	want /= float64(win)
	if math.Abs(s.Y[100]-want) > 1e-12 || s.X[100] != 100 {
		t.Errorf("smoothed point 100 = %g, want %g", s.Y[100], want)
	}
	checkGolden(t, f, "curves")
	if _, err := TrainingCurves([]CurveSeries{{Name: "x", Steps: []int{1}, Losses: []float64{math.NaN()}}}, CurveOptions{}); err == nil {
		t.Error("all-NaN curve accepted")
	}
}

func TestMergeComparison(t *testing.T) {
	var scores []Score
	for di, d := range []string{"arith", "table", "code"} {
		scores = append(scores,
			Score{Method: "single", Dataset: d, Values: []float64{20 + float64(di), 24 + float64(di), 22}},
			Score{Method: "linear", Dataset: d, Values: []float64{25, 26}},
			Score{Method: "parameter_selection", Dataset: d, Values: []float64{27, 29}},
		)
	}
	f, err := MergeComparison(scores, ComparisonOptions{Metric: "exact match (%)", Average: true})
	if err != nil {
		t.Fatal(err)
	}
	single := f.Series[0]
	if single.Name != "single" || len(single.X) != 4 {
		t.Fatalf("series %+v", single)
	}
	// Bars at the mean, whiskers at min and max; the average group averages per run.
	if math.Abs(single.Y[1]-68.0/3) > 1e-12 || single.Lo[1] != 21 || single.Hi[1] != 25 {
		t.Errorf("single on table: %g [%g, %g]", single.Y[1], single.Lo[1], single.Hi[1])
	}
	// Run 1: (20+21+22)/3 = 21, run 2: (24+25+26)/3 = 25, run 3: 22.
	if avg := single.Y[3]; math.Abs(avg-(21+25+22)/3.0) > 1e-12 || single.Lo[3] != 21 || single.Hi[3] != 25 {
		t.Errorf("average group = %g", avg)
	}
	checkGolden(t, f, "comparison")
}

func TestSelectionMap(t *testing.T) {
	var shares []TensorShare
	for _, name := range []string{"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.1.self_attn.q_proj.weight", "model.norm.weight", "lm_head.weight"} {
		shares = append(shares, TensorShare{Name: name, Numel: 100, FromModel: []float64{0.3, 0.3, 0.4}, EqualBase: []float64{0.1, 0.05, 0.2}})
	}
	shares[1].Numel, shares[1].FromModel = 300, []float64{0.5, 0.25, 0.25}
	f, err := SelectionMap(shares, SelectionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := f.Series[0]
	if got := strings.Join([]string{LayerOf(shares[0].Name), LayerOf(shares[1].Name), LayerOf(shares[4].Name), LayerOf(shares[5].Name)}, ","); got != "embed,0,norm,head" {
		t.Errorf("layers %s", got)
	}
	// Layer 0 mixes a 300-element tensor (0.5) and a 100-element one (0.3): weighted 0.45.
	if math.Abs(from.Y[1]-0.45) > 1e-12 || len(from.X) != 5 {
		t.Errorf("layer 0 share from model 1 = %g (%d layers)", from.Y[1], len(from.X))
	}
	checkGolden(t, f, "selection")
	if _, err := SelectionMap([]TensorShare{{Name: "a", FromModel: []float64{1}}, {Name: "b", FromModel: []float64{0.5, 0.5}}}, SelectionOptions{}); err == nil {
		t.Error("inconsistent model count accepted")
	}
}

func TestAblation(t *testing.T) {
	series := []AblationSeries{
		{Name: "parameter selection", X: []float64{1, 2, 3, 4, 5}, Values: [][]float64{{20, 22}, {24, 25}, {26, 27}, {27, 27}, {27.5, 28}}},
		{Name: "linear", X: []float64{1, 2, 3, 4, 5}, Values: [][]float64{{20, 22}, {23, 24}, {24, 24}, {24.5, 25}, {25, 25}}},
	}
	f, err := Ablation(series, AblationOptions{Metric: "exact match (%)"})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Series[0]; s.Y[0] != 21 || s.Lo[0] != 20 || s.Hi[0] != 22 {
		t.Errorf("K=1: %g [%g, %g]", s.Y[0], s.Lo[0], s.Hi[0])
	}
	checkGolden(t, f, "ablation")
}

func TestSaveByExtension(t *testing.T) {
	f, err := Imbalance(imbalanceData(30), ImbalanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"a.png", "a.svg"} {
		if err := f.Save(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Save(filepath.Join(dir, "a.gif")); err == nil {
		t.Error("gif accepted")
	}
	if !strings.Contains(f.String(), "order seed 1") {
		t.Errorf("String() = %s", f.String())
	}
}

// Raw beside adjusted: each panel's bins are its own series', named by the panel.
func TestImbalancePanelsRawBesideAdjusted(t *testing.T) {
	raw := imbalanceData(200)
	adj := imbalanceData(200)
	for _, s := range adj {
		for i := range s.Losses {
			s.Losses[i] -= 1
		}
	}
	f, err := ImbalancePanels([]ImbalancePanel{{Title: "raw", Series: raw}, {Title: "adjusted", YLabel: "residual loss", Series: adj}}, ImbalanceOptions{Title: "both", Spread: "sem"})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Series) != 6 || f.Series[0].Panel != "raw" || f.Series[3].Panel != "adjusted" || f.Width != 12 {
		t.Fatalf("series %d, panels %q %q, width %g", len(f.Series), f.Series[0].Panel, f.Series[3].Panel, f.Width)
	}
	for b := range f.Series[0].Y {
		if d := f.Series[0].Y[b] - f.Series[3].Y[b]; math.Abs(d-1) > 1e-12 {
			t.Fatalf("bin %d: raw %g, adjusted %g", b, f.Series[0].Y[b], f.Series[3].Y[b])
		}
	}
	checkGolden(t, f, "imbalance-panels")
	if _, err := ImbalancePanels(nil, ImbalanceOptions{}); err == nil {
		t.Error("no panels: no error")
	}
	if _, err := ImbalancePanels([]ImbalancePanel{{Title: "empty"}}, ImbalanceOptions{}); err == nil {
		t.Error("an empty panel: no error")
	}
}

// The map's groups split the positions evenly and hold every point once.
func TestCartographyGroupsByPosition(t *testing.T) {
	var pts []CartographyPoint
	for i := 0; i < 100; i++ {
		pts = append(pts, CartographyPoint{Position: i, Confidence: 0.3 + 0.005*float64(i), Variability: 0.05 + 0.02*math.Sin(float64(i))})
	}
	f, err := Cartography(pts, CartographyOptions{Title: "map"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range f.Series {
		total += len(s.X)
	}
	if len(f.Series) != 5 || total != 100 || f.Series[0].Name != "positions 0-19" || f.Series[4].Name != "positions 80-99" {
		t.Fatalf("%d groups, %d points, first %q", len(f.Series), total, f.Series[0].Name)
	}
	checkGolden(t, f, "cartography")
	if _, err := Cartography(nil, CartographyOptions{}); err == nil {
		t.Error("no points: no error")
	}
	if _, err := Cartography([]CartographyPoint{{Position: -1}}, CartographyOptions{}); err == nil {
		t.Error("a negative position: no error")
	}
}
