package sft

import (
	"bytes"
	"context"
	"errors"
	"github.com/ordermerge/ordermerge/compute"
	"github.com/ordermerge/ordermerge/compute/cpu"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tensor"
)

const testVocab = 12

func smallConfig() Config {
	return Config{Epochs: 3, BatchSize: 4, MicroBatchSize: 2, LR: 1e-2, WarmupSteps: 2, WeightDecay: 0.01, OrderSeed: 3}
}

func TestTinyModelOverfitsAHandfulOfSamples(t *testing.T) {
	exs := copyTask(6, testVocab, 1)
	m := newTiny(t, testVocab, 2)
	before, _ := m.Loss(PackBatch(exs, 0))
	cfg := Config{Epochs: 150, BatchSize: 3, LR: 2e-2, Schedule: ScheduleConstant, OrderSeed: 1}
	res, err := Train(context.Background(), m, exs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Completed || res.Steps != 300 || len(res.Final) != 6 {
		t.Fatalf("completed %v after %d steps with %d final losses", res.Completed, res.Steps, len(res.Final))
	}
	for _, f := range res.Final {
		if f.Loss > 0.02 {
			t.Errorf("sample %s: final loss %g (was about %g)", f.ID, f.Loss, before[0])
		}
	}
	if first, last := res.StepLosses[0].Loss, res.StepLosses[len(res.StepLosses)-1].Loss; !(last < first/50) {
		t.Errorf("step loss went from %g to %g", first, last)
	}
}

func TestRecordsCoverEveryEpochInOrder(t *testing.T) {
	exs := copyTask(10, testVocab, 2)
	cfg := smallConfig()
	cfg.OrderMode = OrderBatchShuffle
	res, err := Train(context.Background(), newTiny(t, testVocab, 1), exs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.TotalSteps != 9 || len(res.Records) != 30 || len(res.StepLosses) != 9 {
		t.Fatalf("%d steps, %d records, %d step losses", res.TotalSteps, len(res.Records), len(res.StepLosses))
	}
	ids := make([]string, len(exs))
	for i, ex := range exs {
		ids[i] = ex.ID
	}
	for e := 0; e < 3; e++ {
		order, _ := EpochOrder(ids, OrderBatchShuffle, cfg.OrderSeed, cfg.BatchSize, e)
		for p, i := range order {
			r := res.Records[e*10+p]
			if r.Epoch != e || r.Position != p || r.ID != ids[i] || r.Step != e*3+p/4+1 {
				t.Fatalf("record %d = %+v, want epoch %d position %d id %s", e*10+p, r, e, p, ids[i])
			}
		}
	}
	// The step loss is the mean of its samples' losses.
	var sum float64
	for _, r := range res.Records[:4] {
		sum += r.Loss
	}
	if math.Abs(res.StepLosses[0].Loss-sum/4) > 1e-12 {
		t.Errorf("step 1 loss %g, mean of its records %g", res.StepLosses[0].Loss, sum/4)
	}
	// Final losses are the model's losses after training, with first-epoch positions.
	first, _ := EpochOrder(ids, OrderBatchShuffle, cfg.OrderSeed, cfg.BatchSize, 0)
	for _, f := range res.Final {
		i := slices.Index(ids, f.ID)
		l, _ := res.Model.Loss(PackBatch(exs[i:i+1], 0))
		if float64(l[0]) != f.Loss || first[f.FirstPosition] != i || f.Tokens != responseTokens(exs[i]) {
			t.Errorf("final %+v: model loss %g, position of %s is %d", f, l[0], f.ID, slices.Index(first, i))
		}
	}
	if _, err := res.Imbalance(); err != nil {
		t.Error(err)
	}
}

// TestMicroBatchingMatchesFullBatch: accumulation over micro-batches computes the same step.
func TestMicroBatchingMatchesFullBatch(t *testing.T) {
	exs := copyTask(12, testVocab, 3)
	run := func(micro int) *Result {
		cfg := smallConfig()
		cfg.MicroBatchSize = micro
		res, err := Train(context.Background(), newTiny(t, testVocab, 1), exs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run(4), run(1)
	for i, p := range a.Model.Params() {
		q := b.Model.Params()[i]
		for j := range cpu.F32(p.Value) {
			if d := math.Abs(float64(cpu.F32(p.Value)[j] - cpu.F32(q.Value)[j])); d > 1e-4 {
				t.Fatalf("%s[%d]: %g vs %g", p.Name, j, cpu.F32(p.Value)[j], cpu.F32(q.Value)[j])
			}
		}
	}
}

func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameFiles(t *testing.T, a, b map[string][]byte) bool {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%d files vs %d", len(a), len(b))
		return false
	}
	same := true
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Logf("%s differs", name)
			same = false
		}
	}
	return same
}

func TestSameSeedsSameBytesDifferentOrderSeedDifferentModel(t *testing.T) {
	exs := copyTask(10, testVocab, 4)
	dir := t.TempDir()
	train := func(name string, orderSeed uint64) map[string][]byte {
		cfg := smallConfig()
		cfg.OrderSeed = orderSeed
		cfg.CheckpointDir = filepath.Join(dir, name)
		if _, err := Train(context.Background(), newTiny(t, testVocab, 1), exs, cfg); err != nil {
			t.Fatal(err)
		}
		return dirFiles(t, cfg.CheckpointDir)
	}
	a, b, c := train("a", 5), train("b", 5), train("c", 6)
	for _, want := range []string{tensor.SingleFile, OptimizerFile, TrainerStateFile, RecordsFile, RecordsCSVFile, FinalLossesFile, FinalLossesCSVFile, StepLossesCSVFile} {
		if _, ok := a[want]; !ok {
			t.Errorf("checkpoint lacks %s", want)
		}
	}
	if !sameFiles(t, a, b) {
		t.Error("two runs with the same seeds wrote different checkpoints")
	}
	if bytes.Equal(a[tensor.SingleFile], c[tensor.SingleFile]) {
		t.Error("different order seeds gave the same model")
	}
	// merge/ reads the model by parameter name.
	ck, err := tensor.OpenCheckpoint(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	m := newTiny(t, testVocab, 1)
	if got, want := ck.Names(), []string{"embed.weight", "hidden.weight", "hidden.bias", "out.weight", "out.bias"}; !slices.Equal(got, want) {
		t.Errorf("tensors %v, want %v", got, want)
	}
	if err := LoadParams(filepath.Join(dir, "a"), m); err != nil {
		t.Fatal(err)
	}
	fin, err := ReadFinalLosses(filepath.Join(dir, "a", FinalLossesFile))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := m.Loss(PackBatch(exs[:1], 0))
	if fin[0].ID != exs[0].ID || fin[0].Loss != float64(l[0]) {
		t.Errorf("reloaded model's loss %g, recorded %+v", l[0], fin[0])
	}
}

// TestCancelStopsWithinAStepAndResumes cancels in the middle of step 4 (between its
// micro-batches): the run returns with 3 steps done, and continuing it (in memory, and from
// the checkpoint written on cancellation) ends with the same bytes as an uninterrupted run.
func TestCancelStopsWithinAStepAndResumes(t *testing.T) {
	exs := copyTask(10, testVocab, 5)
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.CheckpointDir = filepath.Join(dir, "full")
	full, err := Train(context.Background(), newTiny(t, testVocab, 1), exs, cfg)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	// 10 samples in batches of 4, 4, 2 and micro-batches of 2: steps 1-3 make 5 calls, and
	// call 6 is the first half of step 4. Cancel right after it.
	hm := &hookModel{Model: newTiny(t, testVocab, 1), after: func(call int, _ []float32) {
		if call == 6 {
			cancel()
		}
	}}
	cfg.CheckpointDir = filepath.Join(dir, "cut")
	tr, err := NewTrainer(hm, exs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	part, err := tr.Run(ctx)
	if !errors.Is(err, context.Canceled) || part == nil {
		t.Fatalf("cancelled run: err = %v", err)
	}
	if part.Steps != 3 || len(part.Records) != 10 || part.Completed || hm.calls != 6 {
		t.Fatalf("stopped after %d steps (%d records, %d calls), want 3 steps", part.Steps, len(part.Records), hm.calls)
	}
	for _, p := range hm.Params() {
		for _, g := range cpu.F32(p.Grad) {
			if g != 0 {
				t.Fatalf("%s: gradients of the abandoned step were left", p.Name)
			}
		}
	}
	fromDisk := newTiny(t, testVocab, 99) // different init: resume must load the parameters
	cfg2 := cfg
	cfg2.CheckpointDir = filepath.Join(dir, "resumed")
	rt, err := Resume(filepath.Join(dir, "cut"), fromDisk, exs, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Step() != 3 {
		t.Fatalf("resumed at step %d", rt.Step())
	}
	if _, err := rt.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background()); err != nil { // the in-memory trainer continues too
		t.Fatal(err)
	}
	if !paramsEqual(full.Model, fromDisk) || !paramsEqual(full.Model, hm) {
		t.Fatal("resumed runs differ from the uninterrupted one")
	}
	if !sameFiles(t, dirFiles(t, filepath.Join(dir, "full")), dirFiles(t, filepath.Join(dir, "resumed"))) {
		t.Error("resumed checkpoint differs from the uninterrupted one")
	}

	// Resume refuses a changed setting or different data, naming what differs.
	bad := cfg
	bad.LR = 0.5
	if _, err := Resume(filepath.Join(dir, "cut"), newTiny(t, testVocab, 1), exs, bad); err == nil || !strings.Contains(err.Error(), "lr") {
		t.Errorf("changed lr: err = %v", err)
	}
	if _, err := Resume(filepath.Join(dir, "cut"), newTiny(t, testVocab, 1), exs[1:], cfg); err == nil || !strings.Contains(err.Error(), "data differ") {
		t.Errorf("changed data: err = %v", err)
	}
}

func TestNaNLossNamesStepAndSampleAndWritesNothing(t *testing.T) {
	exs := copyTask(8, testVocab, 6)
	hm := &hookModel{Model: newTiny(t, testVocab, 1), after: func(call int, l []float32) {
		if call == 5 {
			l[1] = float32(math.NaN())
		}
	}}
	dir := filepath.Join(t.TempDir(), "ck")
	cfg := smallConfig()
	cfg.CheckpointDir = dir
	cfg.CheckpointEvery = 100
	tr, err := NewTrainer(hm, exs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Run(context.Background())
	if err == nil {
		t.Fatal("NaN loss accepted")
	}
	// Call 5 is step 3's first micro-batch; its second sample is position 1 of epoch 1.
	ids := make([]string, len(exs))
	for i, ex := range exs {
		ids[i] = ex.ID
	}
	order, _ := EpochOrder(ids, cfg.OrderMode, cfg.OrderSeed, cfg.BatchSize, 1)
	wantID := ids[order[1]]
	if !strings.Contains(err.Error(), "step 3") || !strings.Contains(err.Error(), `"`+wantID+`"`) || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("error %q does not name step 3 and sample %s", err, wantID)
	}
	if res.Steps != 2 {
		t.Errorf("result after NaN has %d steps, want 2", res.Steps)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a checkpoint was written after a NaN loss (stat: %v)", err)
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	m := newTiny(t, testVocab, 1)
	if _, err := Train(context.Background(), m, nil, smallConfig()); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty dataset: %v", err)
	}
	exs := copyTask(4, testVocab, 7)
	cfg := smallConfig()
	cfg.MaxSeqLen = 8
	if _, err := Train(context.Background(), m, exs, cfg); err == nil || !strings.Contains(err.Error(), "maximum sequence length") {
		t.Errorf("too-long sample: %v", err)
	}
	cfg.Truncate = true
	res, err := Train(context.Background(), m, exs, cfg)
	if err != nil {
		t.Fatalf("truncation: %v", err)
	}
	long := 0
	for _, ex := range exs {
		if len(ex.Tokens) > 8 {
			long++
		}
	}
	if res.Truncated != long || long == 0 {
		t.Errorf("truncation: %d truncated, want %d", res.Truncated, long)
	}
	for name, c := range map[string]Config{
		"lr":        {LR: -1},
		"micro":     {BatchSize: 2, MicroBatchSize: 3},
		"schedule":  {Schedule: "step"},
		"order":     {OrderMode: "random"},
		"min_lr":    {LR: 1e-3, MinLR: 1},
		"beta2":     {Beta2: 1},
		"warmup":    {WarmupRatio: 2},
		"negative":  {Epochs: -1},
		"pad":       {PadID: -3},
		"decay NaN": {WeightDecay: math.NaN()},
	} {
		if _, err := NewTrainer(m, exs, c); err == nil {
			t.Errorf("%s: config %+v accepted", name, c)
		}
	}
	// A folder that is not a training checkpoint is never replaced.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	cfg = smallConfig()
	cfg.CheckpointDir = dir
	if _, err := Train(context.Background(), newTiny(t, testVocab, 1), exs, cfg); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("foreign folder: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
		t.Error("foreign folder was modified")
	}
}

func TestProgressReports(t *testing.T) {
	var got []Progress
	cfg := smallConfig()
	cfg.LogEvery = 2
	cfg.Progress = func(p Progress) { got = append(got, p) }
	if _, err := Train(context.Background(), newTiny(t, testVocab, 1), copyTask(10, testVocab, 8), cfg); err != nil {
		t.Fatal(err)
	}
	var steps []int
	finals := 0
	for _, p := range got {
		if p.Phase == "final" {
			finals++
			continue
		}
		steps = append(steps, p.Step)
		if p.TotalSteps != 9 || p.Epochs != 3 || p.Epoch != (p.Step-1)/3 || !(p.Loss > 0) || !(p.LR > 0) {
			t.Errorf("progress %+v", p)
		}
	}
	if !slices.Equal(steps, []int{2, 4, 6, 8, 9}) || finals == 0 {
		t.Errorf("progress at steps %v (%d final reports)", steps, finals)
	}
	if s := got[0].String(); !strings.Contains(s, "step 2/9") || !strings.Contains(s, "epoch 1/3") {
		t.Errorf("progress line %q", s)
	}
}

// A run whose optimizer state and activations cannot fit on its device is refused before
// anything is allocated, with the numbers.
func TestMemoryRefusedUpFront(t *testing.T) {
	m := &tinyLlamaMemory{TinyModel: newTiny(t, testVocab, 1)}
	_, err := NewTrainer(m, copyTask(16, testVocab, 1), Config{BatchSize: 4})
	if err == nil || !strings.Contains(err.Error(), "training does not fit: it needs about") || !strings.Contains(err.Error(), "activations 1.0 TiB") {
		t.Fatalf("err = %v", err)
	}
}

// tinyLlamaMemory claims activations far larger than any machine has.
type tinyLlamaMemory struct{ *TinyModel }

func (m *tinyLlamaMemory) MemoryEstimate(b, t int, training bool) (compute.ModelMemory, error) {
	return compute.ModelMemory{Activations: 1 << 40}, nil
}
