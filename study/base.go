package study

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"os"
	"path/filepath"
	"time"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// baseFormat changes whenever the way a base is built changes, so stale caches are not reused.
const baseFormat = 2

// BaseResult describes the base model of a study.
type BaseResult struct {
	Dir      string  `json:"dir"`
	Cached   bool    `json:"cached"`
	Params   int     `json:"params"`
	Samples  int     `json:"samples"`
	Steps    int     `json:"steps"`
	Loss     float64 `json:"final_loss"`
	Seconds  float64 `json:"seconds"`
	CacheKey string  `json:"cache_key"`
	// Source, when set, says where a base that this package did not build came from (the
	// report prints it instead of the pre-training details).
	Source string `json:"source,omitempty"`
}

// deviceKind is "" for the CPU and "cuda" for any GPU (bases are the same on every GPU of a
// kind only up to rounding, but one cache entry per kind is what users expect).
func deviceKind(d compute.Device) string {
	if d == nil || d.Name() == "cpu" {
		return ""
	}
	return "cuda"
}

func nonDefault(p compute.Precision) compute.Precision {
	if p == compute.PrecisionF32 {
		return ""
	}
	return p
}

// modelConfig returns the study's architecture with the tokenizer's vocabulary.
func modelConfig(c Config, tok tokenizer.Tokenizer) *tensor.Config {
	m := c.Model.Clone()
	m.VocabSize = tok.VocabSize()
	return m
}

// baseKey hashes everything that shapes the base model.
func baseKey(c Config, tok tokenizer.Tokenizer) (string, error) {
	b, err := json.Marshal(struct {
		Format int
		Model  *tensor.Config
		Base   BaseConfig
		Tasks  []string
		Vocab  int
		// A base trained on another device or at another precision is another model; the CPU
		// at f32 adds nothing, so its keys are what they were before devices existed.
		Device    string            `json:",omitempty"`
		Precision compute.Precision `json:",omitempty"`
	}{baseFormat, modelConfig(c, tok), c.Base, data.EmbeddedNames(), tok.VocabSize(), deviceKind(c.Device), nonDefault(c.Precision)})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6]), nil
}

// BaseModel returns the study's base model: loaded from the cache when an identical one was
// built before, else pre-trained on fresh draws of the study's tasks (loss on every token)
// and cached.
func BaseModel(ctx context.Context, c Config, tok tokenizer.Tokenizer) (*llama.Model, BaseResult, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, BaseResult{}, err
	}
	key, err := baseKey(c, tok)
	if err != nil {
		return nil, BaseResult{}, fmt.Errorf("base model: %w", err)
	}
	dir := filepath.Join(c.CacheDir, "base-"+key)
	opts := llama.Options{Device: c.Device, Precision: c.Precision}
	if m, err := llama.Load(dir, opts); err == nil {
		var res BaseResult
		if b, err := os.ReadFile(filepath.Join(dir, "base.json")); err == nil && json.Unmarshal(b, &res) == nil {
			res.Dir, res.Cached = dir, true
			c.emit(Event{Stage: "base", Message: fmt.Sprintf("base model from cache %s", dir)})
			return m, res, nil
		}
	}
	start := time.Now()
	cfg := modelConfig(c, tok)
	m, err := llama.New(cfg, c.Base.InitSeed, opts)
	if err != nil {
		return nil, BaseResult{}, fmt.Errorf("base model: %w", err)
	}
	// The base always learns the whole task family (all five tasks), whichever datasets the
	// study fine-tunes on, so every study and notebook with the same base settings shares one
	// cached base.
	mix, err := data.EmbeddedMixture(c.Base.CorpusSeed, c.Base.CorpusPerTask)
	if err != nil {
		return nil, BaseResult{}, fmt.Errorf("base corpus: %w", err)
	}
	examples, err := mix.Encode(tok, data.EncodeOptions{MaxLen: cfg.MaxPositionEmbeddings + 1, Overflow: data.OverflowSkip, LossOnPrompt: true})
	if err != nil {
		return nil, BaseResult{}, fmt.Errorf("base corpus: %w", err)
	}
	pad, _ := tok.Special(tokenizer.PAD)
	tc := sft.Config{Epochs: c.Base.Epochs, BatchSize: c.Base.BatchSize, LR: c.Base.LR, MinLR: c.Base.LR / 10,
		WarmupRatio: 0.05, Schedule: sft.ScheduleCosine, PadID: pad, OrderSeed: uint64(c.Base.CorpusSeed), LogEvery: 20,
		Progress: func(p sft.Progress) {
			if p.Phase == "train" {
				c.emit(Event{Stage: "base", Message: "pre-training the base model: " + p.String(), Done: p.Step, Total: p.TotalSteps})
			}
		}}
	c.emit(Event{Stage: "base", Message: fmt.Sprintf("pre-training a %d-parameter base model on %d corpus samples (cached in %s)", m.NumParams(), len(examples), dir)})
	res, err := sft.Train(ctx, m, examples, tc)
	if err != nil {
		return nil, BaseResult{}, fmt.Errorf("base model: %w", err)
	}
	br := BaseResult{Dir: dir, Params: m.NumParams(), Samples: len(examples), Steps: res.Steps, Seconds: time.Since(start).Seconds(), CacheKey: key}
	if n := len(res.StepLosses); n > 0 {
		// The mean of the last tenth of the steps: the base's loss at the end, smoothed.
		tail := res.StepLosses[n-max(1, n/10):]
		for _, s := range tail {
			br.Loss += s.Loss
		}
		br.Loss /= float64(len(tail))
	}
	if err := os.MkdirAll(c.CacheDir, 0o755); err != nil {
		return nil, BaseResult{}, fmt.Errorf("base model cache: %w", err)
	}
	if err := m.Save(dir, llama.SaveOptions{Overwrite: true}); err != nil {
		return nil, BaseResult{}, fmt.Errorf("caching the base model: %w", err)
	}
	b, _ := json.MarshalIndent(br, "", "  ")
	if err := tensor.WriteFileAtomic(filepath.Join(dir, "base.json"), b); err != nil {
		return nil, BaseResult{}, err
	}
	if err := tokenizer.Save(dir, tok); err != nil {
		return nil, BaseResult{}, err
	}
	return m, br, nil
}

// String says where the base came from and what it is.
func (b BaseResult) String() string {
	if b.Cached {
		return fmt.Sprintf("base model (%d parameters) loaded from the cache %s", b.Params, b.Dir)
	}
	return fmt.Sprintf("base model (%d parameters) pre-trained on %d samples in %d steps (%.0f s), final loss %.3f; cached in %s", b.Params, b.Samples, b.Steps, b.Seconds, b.Loss, b.Dir)
}
