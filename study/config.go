package study

import (
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"os"
	"path/filepath"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// MethodSpec is one merge in the comparison: a label for tables, a registered merge method
// and its parameters (as in a merge config file).
type MethodSpec struct {
	Name   string         `json:"name"`
	Method string         `json:"method"`
	Params map[string]any `json:"params,omitempty"`
}

// BaseConfig shapes the base model's pre-training.
type BaseConfig struct {
	// CorpusPerTask is the number of fresh samples drawn from each embedded task.
	CorpusPerTask int `json:"corpus_per_task"`
	// Epochs over that corpus, batch size, peak learning rate and the model's init seed.
	Epochs    int     `json:"epochs"`
	BatchSize int     `json:"batch_size"`
	LR        float64 `json:"lr"`
	InitSeed  uint64  `json:"init_seed"`
	// CorpusSeed draws the corpus.
	CorpusSeed int64 `json:"corpus_seed"`
}

// Config describes a study. Use DefaultConfig or QuickConfig and change what you need.
type Config struct {
	// Datasets are embedded dataset names (data.EmbeddedNames()).
	Datasets []string `json:"datasets"`
	// TrainSize and TestSize cut each split to its first N samples (0: the whole split).
	TrainSize int `json:"train_size"`
	TestSize  int `json:"test_size"`
	// UniqueResponses keeps, of each training split, only the first sample of every response,
	// so that every response is unique to its sample as in real SFT data (before TrainSize
	// cuts the split): a sample that shares its answer with others is fitted by them too,
	// which blurs what its own position did.
	UniqueResponses bool `json:"unique_responses"`
	// K is the number of order variants per dataset, with order seeds FirstOrderSeed,
	// FirstOrderSeed+1, ...
	K              int    `json:"k"`
	FirstOrderSeed uint64 `json:"first_order_seed"`
	// MergeSeeds is how many seeds each randomised merge (parameter selection, DARE) is run
	// with, for its spread.
	MergeSeeds int `json:"merge_seeds"`
	// Methods are the merges compared.
	Methods []MethodSpec `json:"methods"`
	// Ablation merges the first k variants for k = 1..K with these methods (by Name), for the
	// K-ablation figure; empty: no ablation.
	Ablation []string `json:"ablation"`
	// Model is the architecture (vocab_size is set from the tokenizer).
	Model *tensor.Config `json:"model"`
	Base  BaseConfig     `json:"base"`
	// Train holds the fine-tuning hyper-parameters (order seed and mode are set per variant
	// from FirstOrderSeed and Train.OrderMode).
	Train sft.Config `json:"train"`
	// MergePrecision is the dtype the variants are merged and evaluated in: "f32" (default)
	// or "bf16", as the paper trained (small updates then round away, which is where
	// resampling acts).
	MergePrecision string `json:"merge_precision"`
	// EvalBatch is the number of prompts generated together.
	EvalBatch int `json:"eval_batch"`
	// Device runs every model of the study (nil: the CPU); Precision is the precision of
	// their matrix products while training (f32 when empty; see compute.Precision).
	Device    compute.Device    `json:"-"`
	Precision compute.Precision `json:"precision,omitempty"`
	// CacheDir holds cached base models (default: the user cache folder + /ordermerge).
	CacheDir string `json:"-"`
	// Progress, when set, receives what the study is doing.
	Progress func(Event) `json:"-"`
}

// Event reports progress: the stage ("base", "train", "eval", "merge", "report"), the dataset,
// a line for humans, and for steps the count done of the total.
type Event struct {
	Stage   string
	Dataset string
	Message string
	Done    int
	Total   int
}

// DefaultMethods are the merges of the main table: the paper's weighted average, parameter
// selection with and without resampling, and the TIES and DARE baselines.
func DefaultMethods() []MethodSpec {
	return []MethodSpec{
		{Name: "weighted average", Method: "linear", Params: map[string]any{"include_base": false}}, // the paper's average of the variants only
		{Name: "parameter selection", Method: "parameter_selection"},
		{Name: "param. selection + resampling", Method: "parameter_selection", Params: map[string]any{"resample": true}},
		{Name: "TIES", Method: "ties", Params: map[string]any{"density": 0.5}},
		{Name: "DARE", Method: "dare_linear", Params: map[string]any{"density": 0.5, "normalize": true}},
	}
}

// DefaultConfig is the full study: the five embedded datasets, K = 3, about 20 minutes on two
// cores the first time (the base model is cached afterwards).
func DefaultConfig() Config {
	// The recipe the embedded tasks were calibrated with (bench/RESULTS.md, "Data: embedded
	// task calibration"): a 1.8M-parameter model, a base of 800 steps of 16 mixture samples at
	// lr 3e-3 with loss on every token, fine-tuning 3 epochs at batch 8, lr 1e-3.
	tc := sft.DefaultConfig()
	tc.Epochs = 3
	tc.BatchSize = 8
	tc.LR = 1e-3
	tc.WarmupRatio = 0.05
	tc.Schedule = sft.ScheduleCosine
	tc.WeightDecay = 0
	tc.LogEvery = 10
	return Config{
		UniqueResponses: true,
		Datasets:        data.EmbeddedNames(),
		K:               3,
		FirstOrderSeed:  1,
		MergeSeeds:      3,
		Methods:         DefaultMethods(),
		Ablation:        []string{"weighted average", "parameter selection"},
		Model:           tensor.NewLlamaConfig(192, 512, 4, 4, 4, 0, 128),
		Base:            BaseConfig{CorpusPerTask: 2560, Epochs: 1, BatchSize: 16, LR: 3e-3, InitSeed: 1, CorpusSeed: 7},
		Train:           tc,
		MergePrecision:  "f32",
		EvalBatch:       50,
	}
}

// QuickConfig is a small version of the study for a first look and for CI: fewer samples, a
// smaller model, K = 2; under two minutes on two cores.
func QuickConfig() Config {
	c := DefaultConfig()
	c.TrainSize, c.TestSize = 300, 60
	c.K = 2
	c.MergeSeeds = 2
	c.Model = tensor.NewLlamaConfig(128, 352, 2, 4, 2, 0, 128)
	c.Base = BaseConfig{CorpusPerTask: 1000, Epochs: 1, BatchSize: 16, LR: 3e-3, InitSeed: 1, CorpusSeed: 7}
	c.Train.Epochs = 2
	return c
}

// withDefaults fills what a partly written Config leaves out and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if len(c.Datasets) == 0 {
		c.Datasets = d.Datasets
	}
	known := map[string]bool{}
	for _, n := range data.EmbeddedNames() {
		known[n] = true
	}
	for _, n := range c.Datasets {
		if !known[n] {
			return c, fmt.Errorf("study: unknown dataset %q (embedded datasets: %v)", n, data.EmbeddedNames())
		}
	}
	if c.K == 0 {
		c.K = d.K
	}
	if c.K < 1 {
		return c, fmt.Errorf("study: K must be at least 1, got %d", c.K)
	}
	if c.MergeSeeds <= 0 {
		c.MergeSeeds = 1
	}
	if c.Methods == nil {
		c.Methods = d.Methods
	}
	if c.Model == nil {
		c.Model = d.Model
	}
	if c.Base.Epochs == 0 && c.Base.CorpusPerTask == 0 {
		c.Base = d.Base
	}
	if c.Base.BatchSize <= 0 {
		c.Base.BatchSize = 32
	}
	if c.Base.LR <= 0 {
		c.Base.LR = 3e-3
	}
	if c.Train.Epochs == 0 && c.Train.LR == 0 {
		c.Train = d.Train
	}
	switch c.MergePrecision {
	case "":
		c.MergePrecision = "f32"
	case "f32", "bf16":
	default:
		return c, fmt.Errorf("study: merge precision %q is not f32 or bf16", c.MergePrecision)
	}
	if c.EvalBatch <= 0 {
		c.EvalBatch = d.EvalBatch
	}
	if c.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		c.CacheDir = filepath.Join(dir, "ordermerge")
	}
	names := map[string]bool{}
	for _, m := range c.Methods {
		if names[m.Name] {
			return c, fmt.Errorf("study: two merges are named %q", m.Name)
		}
		names[m.Name] = true
	}
	for _, a := range c.Ablation {
		if !names[a] {
			return c, fmt.Errorf("study: ablation names merge %q, which is not in Methods", a)
		}
	}
	return c, nil
}

func (c Config) emit(e Event) {
	if c.Progress != nil {
		c.Progress(e)
	}
}
