package study

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
)

// Score is a model's result on a test split.
type Score struct {
	// Accuracy is the metric's share of correct answers, 0 to 1.
	Accuracy float64 `json:"accuracy"`
	Correct  int     `json:"correct"`
	N        int     `json:"n"`
	// MeanLoss is the mean per-sample loss on the reference answers.
	MeanLoss float64 `json:"mean_loss"`
}

// VariantResult is one fine-tuned order variant.
type VariantResult struct {
	OrderSeed uint64  `json:"order_seed"`
	Test      Score   `json:"test"`
	TrainLoss float64 `json:"final_train_loss"`
	// Imbalance is the first epoch's position against final loss, in numbers.
	Imbalance sft.ImbalanceStats `json:"imbalance"`
	// IDs, Positions and FinalLosses are, per training sample (in id order), its id, its
	// position in the first epoch and its loss after training: the imbalance figure's points.
	IDs         []string  `json:"ids"`
	Positions   []int     `json:"positions"`
	FinalLosses []float64 `json:"final_losses"`
	// LastPositions are the samples' positions in the last epoch, LastEpoch (0-based; nil
	// when unknown).
	LastPositions []int `json:"last_positions,omitempty"`
	LastEpoch     int   `json:"last_epoch,omitempty"`
	// Curve is the loss of every optimizer step.
	Curve   []float64 `json:"curve"`
	Seconds float64   `json:"seconds"`
}

// TensorShare is what a selecting merge did to one tensor (first merge seed).
type TensorShare struct {
	Name      string    `json:"name"`
	Elements  int64     `json:"elements"`
	Taken     []float64 `json:"taken"`
	BaseEqual []float64 `json:"base_equal,omitempty"`
}

// MergeResult is one merge of the variants, run with one or more seeds.
type MergeResult struct {
	Name   string         `json:"name"`
	Method string         `json:"method"`
	Params map[string]any `json:"params,omitempty"`
	Seeds  []uint64       `json:"seeds"`
	Runs   []Score        `json:"runs"`
	// Taken and BaseEqual are totals over all tensors (selecting methods; first seed).
	Taken     []float64     `json:"taken,omitempty"`
	BaseEqual []float64     `json:"base_equal,omitempty"`
	KeptBase  float64       `json:"kept_base,omitempty"`
	Tensors   []TensorShare `json:"tensors,omitempty"`
	// TrainLosses is the first seed's merged model's loss on every training sample, in the
	// variants' id order (their IDs): the imbalance of a model that saw no order of its own.
	TrainLosses []float64 `json:"train_losses,omitempty"`
}

// AblationPoint is a merge of the first K variants.
type AblationPoint struct {
	Name string    `json:"name"`
	K    int       `json:"k"`
	Runs []float64 `json:"runs"`
}

// DatasetResult is everything measured on one dataset.
type DatasetResult struct {
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Metric      string          `json:"metric"`
	Description string          `json:"description"`
	TrainSize   int             `json:"train_size"`
	TestSize    int             `json:"test_size"`
	Base        Score           `json:"base"`
	Variants    []VariantResult `json:"variants"`
	Merges      []MergeResult   `json:"merges"`
	Ablation    []AblationPoint `json:"ablation,omitempty"`
	// Imbalance is the variants' imbalance, raw and difficulty-adjusted, per variant and
	// pooled, with the merges' (AnalyzeImbalance).
	Imbalance *sft.ImbalanceAnalysis `json:"imbalance,omitempty"`
	Seconds   float64                `json:"seconds"`
}

// Results is a whole study, as written to results.json.
type Results struct {
	Config   Config          `json:"config"`
	Machine  string          `json:"machine"`
	Base     BaseResult      `json:"base"`
	Datasets []DatasetResult `json:"datasets"`
	Seconds  float64         `json:"seconds"`
}

// SingleAccuracies returns the variants' accuracies (0-1).
func (d *DatasetResult) SingleAccuracies() []float64 {
	out := make([]float64, len(d.Variants))
	for i, v := range d.Variants {
		out[i] = v.Test.Accuracy
	}
	return out
}

// Accuracies returns the merge's accuracy per seed (0-1).
func (m *MergeResult) Accuracies() []float64 {
	out := make([]float64, len(m.Runs))
	for i, r := range m.Runs {
		out[i] = r.Accuracy
	}
	return out
}

// Merge returns the named merge's result.
func (d *DatasetResult) Merge(name string) (*MergeResult, bool) {
	for i := range d.Merges {
		if d.Merges[i].Name == name {
			return &d.Merges[i], true
		}
	}
	return nil, false
}

// WriteJSON writes the results to path atomically.
func (r *Results) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return tensor.WriteFileAtomic(path, append(b, '\n'))
}

// ReadResults reads a results.json.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// meanStd returns the mean and sample standard deviation (0 for one value).
func meanStd(v []float64) (float64, float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	var m float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	if len(v) == 1 {
		return m, 0
	}
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return m, math.Sqrt(ss / float64(len(v)-1))
}

func minMax(v []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}
