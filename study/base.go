package study

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

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

// baseKey hashes what produces the base model: its architecture and pre-training settings,
// the corpus itself (so a change to a task generator is a new base), and a probe of the
// trainer and the model (two optimizer steps from the base's initialisation, their losses and
// the parameters they leave: a change to the trainer's or the model's arithmetic is a new base
// too). Nothing is a hand-bumped format number to forget.
func baseKey(ctx context.Context, c Config, tok tokenizer.Tokenizer, corpus *data.Dataset, examples []data.Example) (string, error) {
	probe, err := trainerProbe(ctx, c, tok, examples)
	if err != nil {
		return "", fmt.Errorf("probing the trainer: %w", err)
	}
	b, err := json.Marshal(struct {
		Model  *tensor.Config
		Base   BaseConfig
		Corpus string
		Probe  string
		Vocab  int
		// A base trained on another device or at another precision is another model.
		Device    string            `json:",omitempty"`
		Precision compute.Precision `json:",omitempty"`
	}{modelConfig(c, tok), c.Base, corpus.Fingerprint(), probe, tok.VocabSize(), deviceKind(c.Device), nonDefault(c.Precision)})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6]), nil
}

// baseTrainConfig is the base's pre-training configuration.
func baseTrainConfig(c Config, tok tokenizer.Tokenizer) sft.Config {
	pad, _ := tok.Special(tokenizer.PAD)
	return sft.Config{Epochs: c.Base.Epochs, BatchSize: c.Base.BatchSize, LR: c.Base.LR, MinLR: c.Base.LR / 10,
		WarmupRatio: 0.05, Schedule: sft.ScheduleCosine, PadID: pad, OrderSeed: uint64(c.Base.CorpusSeed), LogEvery: 20}
}

// trainerProbe trains a fresh base for two steps on the corpus's first two batches and hashes
// the step losses and the parameters after them (a few milliseconds).
func trainerProbe(ctx context.Context, c Config, tok tokenizer.Tokenizer, examples []data.Example) (string, error) {
	m, err := llama.New(modelConfig(c, tok), c.Base.InitSeed, llama.Options{Device: c.Device, Precision: c.Precision})
	if err != nil {
		return "", err
	}
	tc := baseTrainConfig(c, tok)
	tc.Epochs, tc.WarmupRatio = 1, 0
	n := min(len(examples), 2*tc.BatchSize)
	res, err := sft.Train(ctx, m, examples[:n], tc)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	var buf [8]byte
	for _, s := range res.StepLosses {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(s.Loss))
		h.Write(buf[:])
	}
	v, err := m.Values()
	if err != nil {
		return "", err
	}
	for _, x := range v {
		binary.LittleEndian.PutUint32(buf[:4], math.Float32bits(x))
		h.Write(buf[:4])
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// BaseDir returns the folder the study's base model of c is cached in (it may not exist yet:
// BaseModel builds it), so that other tools can fine-tune from the same base.
func BaseDir(ctx context.Context, c Config, tok tokenizer.Tokenizer) (string, error) {
	c, err := c.withDefaults()
	if err != nil {
		return "", err
	}
	dir, _, _, err := baseDir(ctx, c, tok)
	return dir, err
}

// baseDir draws and encodes the base's corpus and returns the cache folder its key names.
func baseDir(ctx context.Context, c Config, tok tokenizer.Tokenizer) (dir, key string, examples []data.Example, err error) {
	// The base always learns the whole task family (all five tasks), whichever datasets the
	// study fine-tunes on, so every study and notebook with the same base settings shares one
	// cached base.
	mix, err := data.EmbeddedMixture(c.Base.CorpusSeed, c.Base.CorpusPerTask)
	if err != nil {
		return "", "", nil, fmt.Errorf("base corpus: %w", err)
	}
	examples, err = mix.Encode(tok, data.EncodeOptions{MaxLen: c.Model.MaxPositionEmbeddings + 1, Overflow: data.OverflowSkip, LossOnPrompt: true})
	if err != nil {
		return "", "", nil, fmt.Errorf("base corpus: %w", err)
	}
	if key, err = baseKey(ctx, c, tok, mix, examples); err != nil {
		return "", "", nil, fmt.Errorf("base model: %w", err)
	}
	return filepath.Join(c.CacheDir, "base-"+key), key, examples, nil
}

// BaseModel returns the study's base model: loaded from the cache when an identical one was
// built before, else pre-trained on fresh draws of the study's tasks (loss on every token)
// and cached.
func BaseModel(ctx context.Context, c Config, tok tokenizer.Tokenizer) (*llama.Model, BaseResult, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, BaseResult{}, err
	}
	dir, key, examples, err := baseDir(ctx, c, tok)
	if err != nil {
		return nil, BaseResult{}, err
	}
	cfg := modelConfig(c, tok)
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
	m, err := llama.New(cfg, c.Base.InitSeed, opts)
	if err != nil {
		return nil, BaseResult{}, fmt.Errorf("base model: %w", err)
	}
	tc := baseTrainConfig(c, tok)
	tc.Progress = func(p sft.Progress) {
		if p.Phase == "train" {
			c.emit(Event{Stage: "base", Message: "pre-training the base model: " + p.String(), Done: p.Step, Total: p.TotalSteps})
		}
	}
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
