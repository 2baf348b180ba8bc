package sft

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"math"
	"reflect"
	"time"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/tensor"
)

// Progress is what the trainer reports while it runs (Config.Progress).
type Progress struct {
	// Variant and Variants place the run among TrainVariants' runs (0 of 1 for Train).
	Variant, Variants int
	// Phase is "train" during the steps and "final" while final losses are measured.
	Phase string
	// Step is the number of steps done (1-based: the step just finished), of TotalSteps. In
	// the "final" phase they count samples measured instead.
	Step, TotalSteps int
	// Epoch is the 0-based epoch of that step, of Epochs.
	Epoch, Epochs int
	// Loss is the mean step loss since the previous report; LR the last step's learning rate.
	Loss, LR float64
	// TokensPerSec counts non-padding input tokens of this call to Run per second of wall time.
	TokensPerSec float64
	Elapsed, ETA time.Duration
	// Records are the step records so far (the "train" phase; shared with the trainer: read,
	// do not keep or modify), for live views of the per-sample losses (LatestLosses).
	Records []StepRecord
}

// String formats p as one status line (what the CLI prints).
func (p Progress) String() string {
	head := ""
	if p.Variants > 1 {
		head = fmt.Sprintf("variant-%d (%d/%d) ", p.Variant, p.Variant+1, p.Variants)
	}
	if p.Phase == "final" {
		return fmt.Sprintf("%sfinal losses %d/%d samples", head, p.Step, p.TotalSteps)
	}
	eta := "?"
	if p.ETA > 0 || p.Step == p.TotalSteps {
		eta = p.ETA.Round(time.Second).String()
	}
	return fmt.Sprintf("%sepoch %d/%d step %d/%d loss %.4f lr %.3g %.0f tok/s elapsed %s ETA %s",
		head, p.Epoch+1, p.Epochs, p.Step, p.TotalSteps, p.Loss, p.LR, p.TokensPerSec, p.Elapsed.Round(time.Second), eta)
}

// Result is a training run's outcome: the model and the records, as plain slices for plots
// and notebooks.
type Result struct {
	// Model is the trained model (the same value that was passed in, trained in place).
	Model compute.Model
	// Config is the configuration with every default filled in (callbacks removed).
	Config Config
	// Steps is the number of optimizer steps done, of TotalSteps.
	Steps, TotalSteps int
	// Completed is set when every step ran and the final losses were measured.
	Completed bool
	// Records holds every sample's loss at every step, in step order.
	Records []StepRecord
	// StepLosses is the training curve: one entry per step.
	StepLosses []StepLoss
	// Final holds every sample's loss after training, in id order (nil until Completed).
	Final []FinalLoss
	// Truncated is the number of samples shortened to MaxSeqLen (Config.Truncate).
	Truncated int
	// Dir is the checkpoint folder last written for this run, if any.
	Dir string
}

// Imbalance returns the imbalance statistics against first-epoch positions (default options,
// permutation test seeded by the order seed).
func (r *Result) Imbalance() (ImbalanceStats, error) { return r.ImbalanceAt(0) }

// ImbalanceAt returns the statistics of final loss against the positions of the given epoch.
func (r *Result) ImbalanceAt(epoch int) (ImbalanceStats, error) {
	return Imbalance(r.Final, r.Records, epoch, StatsOptions{Seed: r.Config.OrderSeed})
}

// isNilModel reports a missing model, also a typed nil pointer inside the interface (a
// notebook's `var m *llama.Model` passed before it was set).
func isNilModel(m compute.Model) bool {
	if m == nil {
		return true
	}
	v := reflect.ValueOf(m)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// Trainer trains one model on one dataset under one configuration. Run may be called again
// after a cancellation to continue; Save writes a checkpoint that Resume continues exactly.
type Trainer struct {
	cfg    Config
	model  compute.Model
	params []*compute.Param

	examples    []data.Example // prepared, in canonical (id) order
	truncated   int
	fingerprint string

	stepsPerEpoch, totalSteps int
	orders                    map[int][]int // epoch -> canonical indices in visiting order

	opt     *adamW
	step    int
	records []StepRecord
	losses  []StepLoss
	final   []FinalLoss
	bt      batcher
	dir     string
	ck      checkpointing

	variant, variants int
}

// hfConfigured is implemented by models that have a Hugging Face config.json (the Llama
// model); their checkpoints get it written.
type hfConfigured interface {
	HFConfig() *tensor.Config
}

// Train trains model in place on examples and returns the records. It is NewTrainer + Run.
// On cancellation it returns the partial result (a model at a step boundary, the records so
// far) together with an error wrapping ctx.Err().
func Train(ctx context.Context, model compute.Model, examples []data.Example, cfg Config) (*Result, error) {
	t, err := NewTrainer(model, examples, cfg)
	if err != nil {
		return nil, err
	}
	return t.Run(ctx)
}

// NewTrainer checks the configuration and the data, plans the run and allocates the
// optimizer state on the model's device; nothing is trained yet.
func NewTrainer(model compute.Model, examples []data.Example, cfg Config) (*Trainer, error) {
	t, err := plan(model, examples, cfg)
	if err != nil {
		return nil, err
	}
	if t.opt, err = newAdamW(model.Device(), t.params); err != nil {
		return nil, err
	}
	return t, nil
}

// Check runs NewTrainer's checks (configuration, data, device memory) without allocating
// anything on the device: what a command does before it writes its first file.
func Check(model compute.Model, examples []data.Example, cfg Config) error {
	_, err := plan(model, examples, cfg)
	return err
}

// plan is NewTrainer up to the optimizer state.
func plan(model compute.Model, examples []data.Example, cfg Config) (*Trainer, error) {
	if isNilModel(model) {
		return nil, fmt.Errorf("no model to train")
	}
	cfg.fillDefaults()
	if cfg.MaxSeqLen == 0 {
		if hc, ok := model.(hfConfigured); ok && hc.HFConfig() != nil {
			cfg.MaxSeqLen = hc.HFConfig().MaxPositionEmbeddings + 1
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	prepared, truncated, err := PrepareExamples(examples, cfg.MaxSeqLen, cfg.Truncate)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(prepared))
	for i, ex := range prepared {
		ids[i] = ex.ID
	}
	canon, err := canonicalOrder(ids)
	if err != nil {
		return nil, err
	}
	sorted := make([]data.Example, len(prepared))
	for i, c := range canon {
		sorted[i] = prepared[c]
	}
	params := model.Params()
	if len(params) == 0 {
		return nil, fmt.Errorf("the model has no parameters")
	}
	seen := map[string]bool{}
	for i, p := range params {
		n, err := tensor.Numel(p.Shape)
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("model parameter #%d has no name", i)
		case seen[p.Name]:
			return nil, fmt.Errorf("model parameter %q appears twice", p.Name)
		case err != nil:
			return nil, fmt.Errorf("model parameter %q: %w", p.Name, err)
		case n != p.Value.Len() || n != p.Grad.Len():
			return nil, fmt.Errorf("model parameter %q: shape %v needs %d values, has %d (grad %d)", p.Name, p.Shape, n, p.Value.Len(), p.Grad.Len())
		}
		seen[p.Name] = true
	}
	dev := model.Device()
	if dev == nil {
		return nil, fmt.Errorf("the model has no device")
	}
	if err := checkMemory(estimateMemory(model, params, sorted, cfg.MicroBatchSize)); err != nil {
		return nil, err
	}
	t := &Trainer{
		cfg: cfg, model: model, params: params,
		examples: sorted, truncated: truncated, fingerprint: fingerprint(sorted),
		orders: map[int][]int{},
		bt:     batcher{padID: cfg.PadID}, variants: 1,
	}
	t.stepsPerEpoch = (len(sorted) + cfg.BatchSize - 1) / cfg.BatchSize
	t.totalSteps = t.stepsPerEpoch * cfg.Epochs
	return t, nil
}

// fingerprint hashes the prepared data (ids, prompt lengths, tokens) in canonical order, so a
// resume can tell that it trains on the same samples.
func fingerprint(exs []data.Example) string {
	h := sha256.New()
	var buf [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	for _, ex := range exs {
		put(uint64(len(ex.ID)))
		h.Write([]byte(ex.ID))
		put(uint64(ex.PromptLen))
		put(uint64(len(ex.Tokens)))
		for _, tok := range ex.Tokens {
			binary.LittleEndian.PutUint32(buf[:4], uint32(tok))
			h.Write(buf[:4])
		}
		if ex.Loss != nil { // only masked examples hash their mask: older fingerprints stay valid
			for _, l := range ex.Loss {
				if l {
					h.Write([]byte{1})
				} else {
					h.Write([]byte{0})
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Config returns the configuration with defaults filled in.
func (t *Trainer) Config() Config { return t.cfg }

// Step is the number of optimizer steps done; TotalSteps the number planned.
func (t *Trainer) Step() int       { return t.step }
func (t *Trainer) TotalSteps() int { return t.totalSteps }

// Model is the model being trained.
func (t *Trainer) Model() compute.Model { return t.model }

// order returns epoch's visiting order of canonical indices (cached: an epoch's order is
// needed by all its steps).
func (t *Trainer) order(epoch int) []int {
	o, ok := t.orders[epoch]
	if !ok {
		o = epochOrder(len(t.examples), t.cfg.BatchSize, t.cfg.OrderMode, t.cfg.OrderSeed, epoch)
		t.orders[epoch] = o
	}
	return o
}

// Result returns the run's state as a Result (slices shared, not to be modified).
func (t *Trainer) Result() *Result {
	cfg := t.cfg
	cfg.Progress, cfg.CheckpointDir, cfg.KeepFiles, cfg.CheckpointLock = nil, "", nil, nil
	return &Result{
		Model: t.model, Config: cfg, Steps: t.step, TotalSteps: t.totalSteps,
		Completed: t.final != nil, Records: t.records[:len(t.records):len(t.records)],
		StepLosses: t.losses[:len(t.losses):len(t.losses)], Final: t.final,
		Truncated: t.truncated, Dir: t.dir,
	}
}

// errStopped wraps a cancellation with where training stopped.
func (t *Trainer) errStopped(err error) error {
	return fmt.Errorf("training stopped after step %d of %d: %w", t.step, t.totalSteps, err)
}

// Run trains until every step is done and the final losses are measured, or until ctx is
// cancelled: then it returns at the last step boundary (a step in progress is abandoned, its
// gradients discarded), with the partial Result and an error wrapping ctx.Err(). With
// Config.CheckpointDir set, a checkpoint is written periodically (CheckpointEvery steps, and
// CheckpointInterval of time), on cancellation and at the end, under the folder's lock. A NaN
// or infinite loss stops the run with an error naming the step and the sample; the model keeps
// the parameters of the last good step and no checkpoint is written.
func (t *Trainer) Run(ctx context.Context) (*Result, error) {
	release, err := t.lockCheckpoints()
	if err != nil {
		return t.Result(), err
	}
	defer release()
	start := time.Now()
	startStep := t.step
	wasComplete := t.final != nil
	tokens := 0
	sinceLoss, sinceN := 0.0, 0
	for t.step < t.totalSteps {
		if err := ctx.Err(); err != nil {
			return t.stop(err)
		}
		sl, err := t.trainStep(ctx)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return t.stop(ctxErr)
			}
			return t.Result(), err
		}
		tokens += sl.Tokens
		sinceLoss += sl.Loss
		sinceN++
		if t.cfg.Progress != nil && (t.step%t.cfg.LogEvery == 0 || t.step == t.totalSteps) {
			el := time.Since(start)
			p := Progress{
				Variant: t.variant, Variants: t.variants, Phase: "train",
				Step: t.step, TotalSteps: t.totalSteps, Epoch: sl.Epoch, Epochs: t.cfg.Epochs,
				Loss: sinceLoss / float64(sinceN), LR: sl.LR, Elapsed: el,
				Records: t.records[:len(t.records):len(t.records)],
			}
			if s := el.Seconds(); s > 0 {
				p.TokensPerSec = float64(tokens) / s
				p.ETA = time.Duration(float64(el) / float64(t.step-startStep) * float64(t.totalSteps-t.step))
			}
			t.cfg.Progress(p)
			sinceLoss, sinceN = 0, 0
		}
		if t.checkpointDue() {
			if err := t.Save(t.cfg.CheckpointDir); err != nil {
				return t.Result(), fmt.Errorf("step %d: %w", t.step, err)
			}
		}
	}
	if t.final == nil {
		final, err := t.finalLosses(ctx)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return t.stop(ctxErr)
			}
			return t.Result(), err
		}
		t.final = final
	}
	if t.cfg.CheckpointDir != "" && !wasComplete {
		if err := t.Save(t.cfg.CheckpointDir); err != nil {
			return t.Result(), err
		}
	}
	return t.Result(), nil
}

// stop ends a cancelled run: the model is at a step boundary, so it is checkpointed (when a
// checkpoint folder is configured) and can be resumed.
func (t *Trainer) stop(ctxErr error) (*Result, error) {
	if t.cfg.CheckpointDir != "" && t.step > 0 {
		if err := t.Save(t.cfg.CheckpointDir); err != nil {
			return t.Result(), fmt.Errorf("%w (and saving the checkpoint failed: %v)", t.errStopped(ctxErr), err)
		}
	}
	return t.Result(), t.errStopped(ctxErr)
}

// trainStep runs step t.step+1: forward/backward over its micro-batches, clipping, update.
func (t *Trainer) trainStep(ctx context.Context) (StepLoss, error) {
	s := t.step + 1
	epoch := (s - 1) / t.stepsPerEpoch
	k := (s - 1) % t.stepsPerEpoch
	order := t.order(epoch)
	lo, hi := k*t.cfg.BatchSize, min((k+1)*t.cfg.BatchSize, len(order))
	idx := order[lo:hi]
	n := len(idx)

	// Every sample weighs 1/n: the step's loss is the mean over its samples of each sample's
	// mean response-token loss, whatever the micro-batching.
	weights := make([]float32, min(t.cfg.MicroBatchSize, n))
	for i := range weights {
		weights[i] = float32(1 / float64(n))
	}
	losses := make([]float32, 0, n)
	exs := make([]data.Example, 0, t.cfg.MicroBatchSize)
	tokens := 0
	zeroGrads(t.params)
	fail := func(err error) (StepLoss, error) {
		zeroGrads(t.params)
		return StepLoss{}, err
	}
	for mb := 0; mb < n; mb += t.cfg.MicroBatchSize {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		exs = exs[:0]
		for _, c := range idx[mb:min(mb+t.cfg.MicroBatchSize, n)] {
			exs = append(exs, t.examples[c])
			tokens += len(t.examples[c].Tokens) - 1
		}
		batch := t.bt.pack(exs)
		l, err := t.model.ForwardBackward(batch, weights[:len(exs)])
		if err != nil {
			return fail(fmt.Errorf("step %d (epoch %d, samples %q...): %w", s, epoch, exs[0].ID, err))
		}
		if len(l) != len(exs) {
			return fail(fmt.Errorf("step %d: the model returned %d losses for a batch of %d", s, len(l), len(exs)))
		}
		for i, v := range l {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fail(fmt.Errorf("step %d (epoch %d, position %d): loss of sample %q is %v", s, epoch, lo+mb+i, exs[i].ID, v))
			}
		}
		losses = append(losses, l...)
	}
	norm, err := t.opt.gradNorm()
	if err != nil {
		return fail(fmt.Errorf("step %d (epoch %d): %w", s, epoch, err))
	}
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return fail(fmt.Errorf("step %d (epoch %d): gradient norm is %g (samples %s)", s, epoch, norm, t.idList(idx)))
	}
	scale := 1.0
	if t.cfg.ClipNorm > 0 && norm > t.cfg.ClipNorm {
		scale = t.cfg.ClipNorm / (norm + 1e-6)
	}
	lr := t.cfg.LearningRate(s, t.totalSteps)
	t.opt.step(&t.cfg, lr, scale)
	zeroGrads(t.params)

	var sum float64
	for i, v := range losses {
		sum += float64(v)
		t.records = append(t.records, StepRecord{Step: s, Epoch: epoch, Position: lo + i, ID: t.examples[idx[i]].ID, Loss: float64(v)})
	}
	sl := StepLoss{Step: s, Epoch: epoch, Loss: sum / float64(n), LR: lr, GradNorm: norm, Samples: n, Tokens: tokens}
	t.losses = append(t.losses, sl)
	t.step = s
	return sl, nil
}

func (t *Trainer) idList(idx []int) string {
	out := ""
	for i, c := range idx {
		if i == 8 {
			return out + ", ..."
		}
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", t.examples[c].ID)
	}
	return out
}

// finalLosses measures every sample's loss with the trained model (no update), in id order.
func (t *Trainer) finalLosses(ctx context.Context) ([]FinalLoss, error) {
	first := t.order(0)
	pos := make([]int, len(first))
	for p, c := range first {
		pos[c] = p
	}
	out := make([]FinalLoss, 0, len(t.examples))
	mbs := t.cfg.MicroBatchSize
	for lo := 0; lo < len(t.examples); lo += mbs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+mbs, len(t.examples))
		batch := t.bt.pack(t.examples[lo:hi])
		l, err := t.model.Loss(batch)
		if err != nil {
			return nil, fmt.Errorf("final losses (samples %q...): %w", t.examples[lo].ID, err)
		}
		if len(l) != hi-lo {
			return nil, fmt.Errorf("final losses: the model returned %d losses for a batch of %d", len(l), hi-lo)
		}
		for i, v := range l {
			ex := t.examples[lo+i]
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("final losses: loss of sample %q is %v", ex.ID, v)
			}
			out = append(out, FinalLoss{ID: ex.ID, Loss: float64(v), FirstPosition: pos[lo+i], Tokens: responseTokens(ex)})
		}
		if t.cfg.Progress != nil && (hi == len(t.examples) || (lo/mbs+1)%t.cfg.LogEvery == 0) {
			t.cfg.Progress(Progress{Variant: t.variant, Variants: t.variants, Phase: "final", Step: hi, TotalSteps: len(t.examples), Epoch: t.cfg.Epochs - 1, Epochs: t.cfg.Epochs})
		}
	}
	return out, nil
}
