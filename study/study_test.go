package study

import (
	"context"
	"encoding/csv"
	"errors"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
	"github.com/ordermerge/ordermerge/viz"
)

// tinyConfig is a study small enough for a unit test (seconds).
func tinyConfig(t *testing.T) Config {
	c := QuickConfig()
	c.Datasets = []string{"arith", "code"}
	c.TrainSize, c.TestSize = 24, 6
	c.K, c.MergeSeeds = 2, 2
	c.Model = tensor.NewLlamaConfig(32, 64, 1, 2, 1, 0, 160)
	c.Base = BaseConfig{CorpusPerTask: 40, Epochs: 1, BatchSize: 16, LR: 3e-3, InitSeed: 1, CorpusSeed: 7}
	c.Train.Epochs = 1
	c.Train.BatchSize = 8
	c.CacheDir = t.TempDir()
	return c
}

func TestStudyEndToEnd(t *testing.T) {
	c := tinyConfig(t)
	var stages []string
	c.Progress = func(e Event) { stages = append(stages, e.Stage) }
	res, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Datasets) != 2 || len(res.Datasets[0].Variants) != 2 || len(res.Datasets[0].Merges) != len(DefaultMethods()) {
		t.Fatalf("results shape: %d datasets", len(res.Datasets))
	}
	joined := strings.Join(stages, ",")
	for _, s := range []string{"base", "train", "eval", "merge"} {
		if !strings.Contains(joined, s) {
			t.Errorf("no %s progress", s)
		}
	}
	d := res.Datasets[0]
	for _, m := range d.Merges {
		want := 1
		if methodRandomised(m.Method) {
			want = 2
		}
		if len(m.Runs) != want || m.Runs[0].N != 6 {
			t.Errorf("merge %s: %d runs of %d samples", m.Name, len(m.Runs), m.Runs[0].N)
		}
	}
	ps, _ := d.Merge("parameter selection")
	if len(ps.Taken) != 2 || math.Abs(ps.Taken[0]+ps.Taken[1]-1) > 1e-9 || len(ps.Tensors) == 0 {
		t.Errorf("selection shares %v over %d tensors", ps.Taken, len(ps.Tensors))
	}
	if len(d.Ablation) != 2*c.K {
		t.Errorf("ablation points: %d", len(d.Ablation))
	}

	dir := t.TempDir()
	if err := WriteReport(dir, res, "ordermerge repro --test"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ReportMarkdown, ReportHTML, ResultsFile, "figures/comparison.png", "figures/imbalance-arith.png", "figures/curves-code.svg", "figures/selection-arith.png", "figures/ablation.png", "records/code-variant-2-final-losses.csv"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	back, err := ReadResults(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportMarkdown))
	html, _ := os.ReadFile(filepath.Join(dir, ReportHTML))
	// Every cell of the results table, recomputed from results.json, appears in both reports.
	for _, row := range back.Table() {
		cells := []string{row.Label}
		for _, runs := range row.Runs {
			cells = append(cells, cell(runs))
		}
		cells = append(cells, cell(TableAverage(row)))
		line := "| " + strings.Join(cells, " | ") + " |"
		if !strings.Contains(string(md), line) {
			t.Errorf("report.md lacks the row %q", line)
		}
		if !strings.Contains(string(html), ">"+cells[len(cells)-1]+"<") {
			t.Errorf("report.html lacks %q", cells[len(cells)-1])
		}
	}
	for _, v := range back.Verdicts() {
		if !strings.Contains(string(md), v) {
			t.Errorf("report.md lacks the verdict %q", v)
		}
	}
	// The imbalance: adjusted and raw, per dataset, in results.json (no NaN), the report and
	// figures, and every merge's against the variants' positions; recomputed from results.json
	// alone it is the same.
	raw, _ := os.ReadFile(filepath.Join(dir, ResultsFile))
	if strings.Contains(string(raw), "NaN") {
		t.Error("results.json holds NaN")
	}
	for _, d := range back.Datasets {
		an := d.Imbalance
		if an == nil || len(an.Variants) != 2 || an.Adjusted.Defined() != 2 || len(an.Models) != len(DefaultMethods()) || math.IsNaN(an.Adjusted.P) {
			t.Fatalf("%s: imbalance %+v", d.Name, an)
		}
		if len(d.Variants[0].LastPositions) != len(d.Variants[0].IDs) || len(d.Merges[0].TrainLosses) != len(d.Variants[0].IDs) {
			t.Errorf("%s: last positions %d, merge training losses %d, samples %d", d.Name, len(d.Variants[0].LastPositions), len(d.Merges[0].TrainLosses), len(d.Variants[0].IDs))
		}
		again := d
		again.Imbalance = nil
		if err := again.AnalyzeImbalance(); err != nil || again.Imbalance.Adjusted.P != an.Adjusted.P || again.Imbalance.Models[1].Flattening != an.Models[1].Flattening {
			t.Errorf("%s: recomputed from results.json: %v", d.Name, err)
		}
		if !strings.Contains(string(md), "| "+d.Name+" | "+pooledCell(an.Adjusted)+" | ") {
			t.Errorf("report.md lacks %s's adjusted statistic %s", d.Name, pooledCell(an.Adjusted))
		}
	}
	for _, want := range []string{"## Does merging mitigate the imbalance?", "difficulty-adjusted", "figures/flattening-arith.png", "Setting: 1 epochs, order mode reshuffle"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if !strings.Contains(back.Verdicts()[0], "arith ") || !strings.Contains(back.Verdicts()[1], "Does merging mitigate the imbalance?") {
		t.Errorf("verdicts %q", back.Verdicts()[:2])
	}
	// The imbalance figure's points are the recorded final losses (records CSV).
	f, err := back.Figures()
	if err != nil {
		t.Fatal(err)
	}
	pos, losses := readRecords(t, filepath.Join(dir, "records/arith-variant-1-final-losses.csv"))
	want, err := viz.Imbalance([]viz.ImbalanceSeries{{Name: "x", Positions: pos, Losses: losses}}, viz.ImbalanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := f["imbalance-arith"].Series[0]
	for i := range want.Series[0].Y {
		if math.Abs(got.Y[i]-want.Series[0].Y[i]) > 1e-9 || got.N[i] != want.Series[0].N[i] {
			t.Fatalf("imbalance bin %d: figure %g (n=%d), records %g (n=%d)", i, got.Y[i], got.N[i], want.Series[0].Y[i], want.Series[0].N[i])
		}
	}
}

func readRecords(t *testing.T, path string) ([]int, []float64) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var pos []int
	var losses []float64
	for _, r := range rows[1:] {
		p, _ := strconv.Atoi(r[1])
		l, _ := strconv.ParseFloat(r[2], 64)
		pos = append(pos, p)
		losses = append(losses, l)
	}
	return pos, losses
}

func TestBaseModelIsCached(t *testing.T) {
	c := tinyConfig(t)
	tok := tokenizer.ByteLevel()
	a, ra, err := BaseModel(context.Background(), c, tok)
	if err != nil {
		t.Fatal(err)
	}
	b, rb, err := BaseModel(context.Background(), c, tok)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Cached || !rb.Cached || ra.Dir != rb.Dir {
		t.Fatalf("first %+v, second %+v", ra, rb)
	}
	for i, p := range a.Params() {
		q := b.Params()[i]
		for j := range cpu.F32(p.Value) {
			if cpu.F32(p.Value)[j] != cpu.F32(q.Value)[j] {
				t.Fatalf("%s differs after caching", p.Name)
			}
		}
	}
	c.Base.Epochs = 2 // a different base must not come from the same cache entry
	_, rc, err := BaseModel(context.Background(), c, tok)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Cached || rc.Dir == ra.Dir {
		t.Fatalf("changed base reused the cache: %+v", rc)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"dataset":   func(c *Config) { c.Datasets = []string{"nope"} },
		"k":         func(c *Config) { c.K = -1 },
		"precision": func(c *Config) { c.MergePrecision = "fp8" },
		"dup":       func(c *Config) { c.Methods = append(c.Methods, c.Methods[0]) },
		"ablation":  func(c *Config) { c.Ablation = []string{"nope"} },
	} {
		c := tinyConfig(t)
		mod(&c)
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := tinyConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, c); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}

func TestVerdictArithmetic(t *testing.T) {
	// 200 test samples: 40% vs 30% is clear; 40% vs 38% is not.
	if c := compare([]float64{0.40}, []float64{0.30}, 200); !c.clear || math.Abs(c.diff-0.1) > 1e-12 {
		t.Errorf("40 vs 30: %+v", c)
	}
	if c := compare([]float64{0.40}, []float64{0.38}, 200); c.clear {
		t.Errorf("40 vs 38 called clear: %+v", c)
	}
	// A large seed spread makes a difference unclear even on a big test set.
	if c := compare([]float64{0.2, 0.6}, []float64{0.3}, 100000); c.clear {
		t.Errorf("spread ignored: %+v", c)
	}
	var tl tally
	tl.add(comparison{diff: 0.1, clear: true})
	tl.add(comparison{diff: 0.02})
	tl.add(comparison{diff: -0.01})
	s := tl.summary("A", "B")
	if !strings.Contains(s, "higher than B on 2 of 3 datasets (clearly, beyond test-set noise and seed spread, on 1), lower on 1 (clearly on 0)") || !strings.Contains(s, "+3.7 points") || !strings.Contains(s, "It holds") {
		t.Errorf("summary: %s", s)
	}
}

// The base's cache key follows what produces the base: the same inputs give the same key; a
// changed corpus sample (a task generator's change) or a changed probe outcome (the trainer's
// or the model's arithmetic) gives another, with the configuration unchanged.
func TestBaseKeyFollowsWhatProducesTheBase(t *testing.T) {
	c, err := tinyConfig(t).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenizer.ByteLevel()
	mix, err := data.EmbeddedMixture(c.Base.CorpusSeed, c.Base.CorpusPerTask)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(d *data.Dataset) []data.Example {
		ex, err := d.Encode(tok, data.EncodeOptions{MaxLen: c.Model.MaxPositionEmbeddings + 1, Overflow: data.OverflowSkip, LossOnPrompt: true})
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	key := func(d *data.Dataset, ex []data.Example) string {
		k, err := baseKey(context.Background(), c, tok, d, ex)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ex := enc(mix)
	k1, k2 := key(mix, ex), key(mix, ex)
	if k1 != k2 {
		t.Fatalf("same inputs, keys %s and %s", k1, k2)
	}
	changed := *mix
	changed.Samples = append([]data.Sample(nil), mix.Samples...)
	changed.Samples[len(changed.Samples)-1].Response += "!"
	if k := key(&changed, ex); k == k1 {
		t.Error("a changed corpus sample kept the key")
	}
	probed := append([]data.Example(nil), ex...)
	probed[0].Tokens = append([]int32(nil), ex[0].Tokens...)
	probed[0].Tokens[1] = (probed[0].Tokens[1] + 1) % int32(tok.VocabSize())
	if k := key(mix, probed); k == k1 {
		t.Error("a different probe outcome kept the key")
	}
}

// The merging verdict answers on the datasets that show the imbalance, with the merges'
// numbers, and says when none does.
func TestMergeFlatteningVerdict(t *testing.T) {
	summary := func(rho, p float64) sft.ImbalanceSummary {
		return sft.ImbalanceSummary{Variants: 3, MeanSpearman: rho, SESpearman: 0.01, P: p, Permutations: 999}
	}
	shown := DatasetResult{Name: "shown", Variants: []VariantResult{{}}, Imbalance: &sft.ImbalanceAnalysis{Adjusted: summary(-0.1, 0.001),
		Models: []sft.ModelImbalance{{Name: "avg", Adjusted: summary(-0.03, 0.2), Flattening: 0.3}, {Name: "sel", Adjusted: summary(-0.04, 0.04), Flattening: 0.4}}}}
	flat := DatasetResult{Name: "flat", Variants: []VariantResult{{}}, Imbalance: &sft.ImbalanceAnalysis{Adjusted: summary(-0.01, 0.6),
		Models: []sft.ModelImbalance{{Name: "avg", Adjusted: summary(0.01, 0.7), Flattening: -3}}}}
	r := &Results{Datasets: []DatasetResult{shown, flat}}
	got := r.mergeFlattening()
	for _, want := range []string{"shown (single models -0.100 ± 0.010 (p = 0.001))", "avg -0.030 ± 0.010 (p = 0.2), slope 0.30", "**Yes: merged models keep 0.35 ± 0.07", "significant in 1 of them"} {
		if !strings.Contains(got, want) {
			t.Errorf("verdict lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "flat (") || strings.Contains(got, "-3") {
		t.Errorf("a dataset without the imbalance is in the answer:\n%s", got)
	}
	r.Datasets = []DatasetResult{flat}
	if got := r.mergeFlattening(); !strings.Contains(got, "none does here") {
		t.Errorf("no dataset shows it: %s", got)
	}
	r.Datasets = []DatasetResult{{Name: "one", Variants: []VariantResult{{}}, Imbalance: &sft.ImbalanceAnalysis{Adjusted: sft.ImbalanceSummary{Variants: 1, Undefined: 1}}}}
	if got := r.mergeFlattening(); got != "" {
		t.Errorf("no merges measured: %q", got)
	}
}
