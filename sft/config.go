package sft

import (
	"fmt"
	"math"
	"time"

	"github.com/ordermerge/ordermerge/tensor"
)

// Schedules of the learning rate after warmup.
const (
	ScheduleCosine   = "cosine"
	ScheduleLinear   = "linear"
	ScheduleConstant = "constant"
)

// Config holds the trainer's hyper-parameters. A zero field takes the default named in its
// comment where zero would be invalid; fields whose zero is meaningful (weight decay, warmup,
// min LR, order seed, pad id) mean exactly zero. DefaultConfig returns every default filled in.
//
// Everything with a JSON name goes into trainer_state.json and, except LogEvery, must match
// when a run is resumed: it shapes the trajectory.
type Config struct {
	// Epochs is the number of passes over the data (default 3).
	Epochs int `json:"epochs"`
	// BatchSize is the number of samples per optimizer step (default 8). The last batch of an
	// epoch is smaller when the data do not divide evenly; it is kept, not dropped.
	BatchSize int `json:"batch_size"`
	// MicroBatchSize is the number of samples per forward/backward pass (default BatchSize);
	// gradients of the micro-batches of a step are accumulated before the update, so it
	// changes memory use, not the result (beyond float rounding).
	MicroBatchSize int `json:"micro_batch_size"`
	// MaxSeqLen is the longest sample accepted, in tokens (prompt + response). A sample of L
	// tokens fills L-1 model positions, so zero takes max_position_embeddings+1 when the model
	// reports a config (HFConfig), and no limit otherwise.
	MaxSeqLen int `json:"max_seq_len"`
	// Truncate makes samples longer than MaxSeqLen lose their last tokens (counted in
	// Result.Truncated) instead of being refused with an error (the default).
	Truncate bool `json:"truncate"`
	// PadID is the token id written into padding positions (they carry no loss).
	PadID int32 `json:"pad_id"`

	// LR is the peak learning rate (default 1e-3).
	LR float64 `json:"lr"`
	// MinLR is the learning rate the decay ends at (default 0).
	MinLR float64 `json:"min_lr"`
	// Schedule is cosine (default), linear or constant: the shape after warmup.
	Schedule string `json:"schedule"`
	// WarmupSteps is the number of steps of linear warmup; when zero, WarmupRatio of the total
	// steps (rounded up) is used; both zero: no warmup.
	WarmupSteps int `json:"warmup_steps"`
	// WarmupRatio is the fraction of total steps used for warmup when WarmupSteps is zero.
	WarmupRatio float64 `json:"warmup_ratio"`
	// WeightDecay is AdamW's decoupled weight decay (default 0). Parameters marked NoDecay
	// (norms, biases) never decay.
	WeightDecay float64 `json:"weight_decay"`
	// Beta1, Beta2 and Eps are AdamW's (defaults 0.9, 0.999, 1e-8).
	Beta1 float64 `json:"beta1"`
	Beta2 float64 `json:"beta2"`
	Eps   float64 `json:"eps"`
	// ClipNorm is the global gradient-norm limit (default 1.0; negative: no clipping).
	ClipNorm float64 `json:"clip_norm"`

	// OrderMode is reshuffle (default), fixed or batch-shuffle: see OrderMode.
	OrderMode OrderMode `json:"order_mode"`
	// OrderSeed alone (with the mode, the sample ids and the batch size) decides the order of
	// the data. It is independent of the model's init seed.
	OrderSeed uint64 `json:"order_seed"`

	// LogEvery is how often, in steps, Progress is called (default 10; the last step always
	// reports). Step losses are recorded at every step regardless.
	LogEvery int `json:"log_every"`

	// CheckpointDir, when set, receives a resumable checkpoint every CheckpointEvery steps
	// (0: none counted in steps), every CheckpointInterval of training time (0:
	// DefaultCheckpointInterval; negative: none), when the run is cancelled, and at the end.
	// Checkpoints never change the training: a run gives the same bytes however often it saves.
	CheckpointDir      string        `json:"-"`
	CheckpointEvery    int           `json:"-"`
	CheckpointInterval time.Duration `json:"-"`
	// CheckpointLock is the caller's lock of CheckpointDir (tensor.LockFolder), when it holds
	// one for longer than the run (a command that also writes its log there). Without it, Run
	// takes the lock itself for the run's duration, and a second run into the same folder is
	// refused with the holder's PID.
	CheckpointLock *tensor.FolderLock `json:"-"`
	// KeepFiles names files of an existing CheckpointDir (a training log) that each new
	// checkpoint carries over, since a checkpoint replaces its folder as a whole.
	KeepFiles []string `json:"-"`
	// Progress, when set, is called from the training goroutine with the run's progress.
	Progress func(Progress) `json:"-"`
}

// DefaultConfig returns the defaults (the values a zero Config takes).
func DefaultConfig() Config {
	var c Config
	c.fillDefaults()
	return c
}

func (c *Config) fillDefaults() {
	if c.Epochs == 0 {
		c.Epochs = 3
	}
	if c.BatchSize == 0 {
		c.BatchSize = 8
	}
	if c.MicroBatchSize == 0 {
		c.MicroBatchSize = c.BatchSize
	}
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.Schedule == "" {
		c.Schedule = ScheduleCosine
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.ClipNorm == 0 {
		c.ClipNorm = 1
	}
	if c.OrderMode == "" {
		c.OrderMode = OrderReshuffle
	}
	if c.LogEvery == 0 {
		c.LogEvery = 10
	}
}

// validate checks a config whose defaults are filled in; errors name the field.
func (c *Config) validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Epochs < 0:
		return fmt.Errorf("config: epochs must be positive, got %d", c.Epochs)
	case c.BatchSize < 0:
		return fmt.Errorf("config: batch_size must be positive, got %d", c.BatchSize)
	case c.MicroBatchSize < 0 || c.MicroBatchSize > c.BatchSize:
		return fmt.Errorf("config: micro_batch_size must be between 1 and batch_size %d, got %d", c.BatchSize, c.MicroBatchSize)
	case c.MaxSeqLen < 0:
		return fmt.Errorf("config: max_seq_len must be >= 0, got %d", c.MaxSeqLen)
	case c.PadID < 0:
		return fmt.Errorf("config: pad_id must be >= 0, got %d", c.PadID)
	case !(c.LR > 0) || !finite(c.LR):
		return fmt.Errorf("config: lr must be positive, got %g", c.LR)
	case c.MinLR < 0 || c.MinLR > c.LR || !finite(c.MinLR):
		return fmt.Errorf("config: min_lr must be between 0 and lr %g, got %g", c.LR, c.MinLR)
	case c.Schedule != ScheduleCosine && c.Schedule != ScheduleLinear && c.Schedule != ScheduleConstant:
		return fmt.Errorf("config: schedule %q is not cosine, linear or constant", c.Schedule)
	case c.WarmupSteps < 0:
		return fmt.Errorf("config: warmup_steps must be >= 0, got %d", c.WarmupSteps)
	case c.WarmupRatio < 0 || c.WarmupRatio > 1 || !finite(c.WarmupRatio):
		return fmt.Errorf("config: warmup_ratio must be in [0, 1], got %g", c.WarmupRatio)
	case c.WeightDecay < 0 || !finite(c.WeightDecay):
		return fmt.Errorf("config: weight_decay must be >= 0, got %g", c.WeightDecay)
	case c.Beta1 < 0 || c.Beta1 >= 1:
		return fmt.Errorf("config: beta1 must be in [0, 1), got %g", c.Beta1)
	case c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("config: beta2 must be in [0, 1), got %g", c.Beta2)
	case !(c.Eps > 0) || !finite(c.Eps):
		return fmt.Errorf("config: eps must be positive, got %g", c.Eps)
	case math.IsNaN(c.ClipNorm):
		return fmt.Errorf("config: clip_norm is NaN")
	case c.LogEvery < 0:
		return fmt.Errorf("config: log_every must be >= 0, got %d", c.LogEvery)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("config: checkpoint every must be >= 0 steps, got %d", c.CheckpointEvery)
	}
	if _, err := ParseOrderMode(string(c.OrderMode)); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// warmupSteps is the number of warmup steps for a run of total steps.
func (c *Config) warmupSteps(total int) int {
	if c.WarmupSteps > 0 {
		return min(c.WarmupSteps, total)
	}
	return min(int(math.Ceil(c.WarmupRatio*float64(total))), total)
}

// LearningRate returns the learning rate of step (1-based) in a run of total steps: linear
// warmup from LR/warmup to LR, then the schedule from LR down to MinLR, reaching MinLR only
// after the last step (so the last step still learns).
func (c Config) LearningRate(step, total int) float64 {
	c.fillDefaults()
	w := c.warmupSteps(total)
	if step <= w {
		return c.LR * float64(step) / float64(w)
	}
	if c.Schedule == ScheduleConstant || total <= w {
		return c.LR
	}
	// Progress through the decay: step w+1 -> 0, step total -> (total-w-1)/(total-w).
	p := float64(step-w-1) / float64(total-w)
	switch c.Schedule {
	case ScheduleLinear:
		return c.LR - (c.LR-c.MinLR)*p
	default:
		return c.MinLR + (c.LR-c.MinLR)*0.5*(1+math.Cos(math.Pi*p))
	}
}
