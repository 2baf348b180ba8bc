package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/ordermerge/ordermerge/compute"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/cluster"
	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// Files the train command writes next to a checkpoint.
const (
	trainLogFile  = "train.log"
	imbalanceFile = "imbalance.json"
	// adjustedFile (with --variants) holds every variant's per-sample losses, raw and
	// difficulty-adjusted, with both positions.
	adjustedFile = "adjusted_losses.csv"
)

// trainFlags are the command line of `ordermerge train`.
type trainFlags struct {
	data, split, format, base, init, tokenizer, template, out string
	limit, variants                                           int
	initSeed                                                  uint64
	skipBad, overwrite, quiet                                 bool
	cfg                                                       sft.Config
	compute                                                   computeFlags
}

func parseTrainFlags(args []string, stderr io.Writer) (*trainFlags, error) {
	return parseTrainFlagsOn(newFlagSet("train", stderr), args, nil)
}

// parseTrainFlagsOn defines train's flags on fs, which may hold more (submit's), parses args
// and checks them; usage, when set, replaces train's usage text.
func parseTrainFlagsOn(fs *flag.FlagSet, args []string, usage func()) (*trainFlags, error) {
	stderr := fs.Output()
	f := &trainFlags{cfg: sft.DefaultConfig()}
	c := &f.cfg
	f.compute.register(fs)
	fs.StringVar(&f.data, "data", "", "training data: embedded:NAME ("+strings.Join(data.EmbeddedNames(), ", ")+") or a dataset file")
	fs.StringVar(&f.split, "split", "train", "split of an embedded dataset: train or test (for a file, only recorded)")
	fs.StringVar(&f.format, "format", "", "format of a dataset file: "+strings.Join(data.Formats(), ", ")+" (default: detected from the first record)")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "leave malformed records of a dataset file out (counted in train.log) instead of failing")
	fs.IntVar(&f.limit, "limit", 0, "train on the first N samples only (0: all)")
	fs.StringVar(&f.base, "base", "", "base model: a Hugging Face Llama checkpoint folder, or "+studyBase+" ("+studyBaseQuick+") for the study's pre-trained base (see `ordermerge base`)")
	fs.StringVar(&f.init, "init", "", "instead of --base: a config.json (LlamaConfig keys) for a freshly initialised model")
	fs.Uint64Var(&f.initSeed, "init-seed", 0, "seed of the initialisation with --init (independent of the order seed)")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer.json file or folder (default: the base's, else the byte-level tokenizer)")
	fs.StringVar(&f.template, "template", "default", "prompt template: "+strings.Join(data.TemplateNames(), ", ")+", or "+data.ChatLayout+" (the tokenizer's own chat template; a documented fallback when it has none)")
	fs.StringVar(&f.out, "out", "", "output folder: the checkpoint, records and train.log (required)")
	fs.IntVar(&f.variants, "variants", 0, "train K variants with order seeds N..N+K-1 into OUT/variant-i (0: one model in OUT)")
	fs.BoolVar(&f.overwrite, "overwrite", false, "start over when OUT already holds a checkpoint of a run (default: resume it)")
	fs.BoolVar(&f.quiet, "quiet", false, "print no progress (train.log still gets every line)")

	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "passes over the data")
	fs.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "samples per optimizer step")
	fs.IntVar(&c.MicroBatchSize, "micro-batch", 0, "samples per forward/backward pass; gradients accumulate (0: the batch size)")
	fs.IntVar(&c.MaxSeqLen, "max-seq-len", 0, "longest sample in tokens (0: the model's max_position_embeddings+1)")
	fs.BoolVar(&c.Truncate, "truncate", false, "cut longer samples to --max-seq-len and count them, instead of refusing them")
	fs.Float64Var(&c.LR, "lr", c.LR, "peak learning rate")
	fs.Float64Var(&c.MinLR, "min-lr", c.MinLR, "learning rate at the end of the decay")
	fs.StringVar(&c.Schedule, "schedule", c.Schedule, "learning-rate shape after warmup: cosine, linear or constant")
	fs.IntVar(&c.WarmupSteps, "warmup-steps", 0, "linear warmup steps")
	fs.Float64Var(&c.WarmupRatio, "warmup-ratio", 0, "warmup as a fraction of all steps (when --warmup-steps is 0)")
	fs.Float64Var(&c.WeightDecay, "weight-decay", c.WeightDecay, "AdamW decoupled weight decay (never on norms and biases)")
	fs.Float64Var(&c.Beta1, "beta1", c.Beta1, "AdamW beta1")
	fs.Float64Var(&c.Beta2, "beta2", c.Beta2, "AdamW beta2")
	fs.Float64Var(&c.Eps, "eps", c.Eps, "AdamW epsilon")
	fs.Float64Var(&c.ClipNorm, "clip-norm", c.ClipNorm, "global gradient-norm limit (negative: no clipping)")
	fs.Uint64Var(&c.OrderSeed, "order-seed", 0, "seed of the data order (with --variants: the first variant's)")
	mode := fs.String("order-mode", string(c.OrderMode), "reshuffle (new order every epoch), fixed (same order every epoch) or batch-shuffle (fixed batches, shuffled sequence)")
	fs.IntVar(&c.LogEvery, "log-every", c.LogEvery, "report progress every N steps")
	fs.IntVar(&c.CheckpointEvery, "checkpoint-every", 0, "also checkpoint every N steps (0: by time only)")
	fs.DurationVar(&c.CheckpointInterval, "checkpoint-interval", sft.DefaultCheckpointInterval, "checkpoint after this much training time since the last checkpoint (0: only every --checkpoint-every steps, on interrupt and at the end)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ordermerge train --data embedded:NAME|FILE (--base DIR | --init CONFIG.json) --out DIR [flags]")
		fmt.Fprintln(stderr, "")
		fmt.Fprintln(stderr, "Fine-tunes a Llama-style model with a seeded data order and records every sample's loss at")
		fmt.Fprintln(stderr, "every step. OUT gets the checkpoint (Hugging Face layout + optimizer state), records.jsonl/.csv,")
		fmt.Fprintln(stderr, "final_losses.jsonl/.csv, step_losses.csv, imbalance.json and train.log; with --variants K, each variant")
		fmt.Fprintln(stderr, "in OUT/variant-i, and OUT/imbalance.json (raw and difficulty-adjusted statistics, per variant and pooled)")
		fmt.Fprintln(stderr, "with OUT/adjusted_losses.csv (every sample's loss, adjusted loss and first/last-epoch position).")
		fmt.Fprintln(stderr, "")
		fmt.Fprintln(stderr, "What is kept when a run stops: OUT is checkpointed every --checkpoint-interval of training (5m by")
		fmt.Fprintln(stderr, "default) and every --checkpoint-every steps, on Ctrl-C or SIGTERM, and at the end. Each checkpoint")
		fmt.Fprintln(stderr, "replaces the previous one atomically, so a run killed outright (SIGKILL, out of memory, power loss)")
		fmt.Fprintln(stderr, "leaves the last complete checkpoint and loses the steps since. Running the same command again")
		fmt.Fprintln(stderr, "continues from it and ends with the same bytes as a run never interrupted. OUT is locked while a")
		fmt.Fprintln(stderr, "run writes it: a second run into it is refused with the first one's PID.")
		fmt.Fprintln(stderr, "")
		fs.PrintDefaults()
	}
	if usage != nil {
		fs.Usage = usage
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if c.CheckpointInterval < 0 {
		return nil, usagef("--checkpoint-interval must not be negative, got %v", c.CheckpointInterval)
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = -1 // sft: negative is none, zero its default
	}
	c.OrderMode = sft.OrderMode(*mode)
	switch {
	case fs.NArg() > 0:
		return nil, usagef("unexpected argument %q (every input is a flag)", fs.Arg(0))
	case f.data == "":
		return nil, usagef("--data is required (embedded:NAME or a dataset file)")
	case f.out == "":
		return nil, usagef("--out is required")
	case (f.base == "") == (f.init == ""):
		return nil, usagef("give exactly one of --base DIR and --init CONFIG.json")
	case f.variants < 0:
		return nil, usagef("--variants must be >= 0, got %d", f.variants)
	case f.limit < 0:
		return nil, usagef("--limit must be >= 0, got %d", f.limit)
	}
	if _, err := sft.ParseOrderMode(*mode); err != nil {
		return nil, usagef("--order-mode: %v", err)
	}
	return f, nil
}

// minSamples is the fewest samples whose imbalance statistics can be computed (a rank
// correlation and a first-minus-last bin gap need three); checked before training, so that
// a run never trains only to fail its report.
const minSamples = 3

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	f, err := parseTrainFlags(args, stderr)
	if err != nil {
		return err
	}
	if f.base, err = resolveBase(ctx, f.base, stderr); err != nil {
		return err
	}
	// Everything is checked before anything big is allocated or anything is written: the
	// model's config against its tensors and against the host's memory, the tokenizer, the
	// data and the training configuration.
	tok, err := trainTokenizer(f)
	if err != nil {
		return err
	}
	mcfg, err := trainModelConfig(f, tok.VocabSize())
	if err != nil {
		return err
	}
	vocabNote, err := checkVocab(f, mcfg, tok)
	if err != nil {
		return err
	}
	cfg := f.cfg
	if cfg.MaxSeqLen == 0 {
		cfg.MaxSeqLen = mcfg.MaxPositionEmbeddings + 1
	}
	if id, ok := tok.Special(tokenizer.PAD); ok && int(id) < mcfg.VocabSize {
		cfg.PadID = id
	}
	examples, source, err := trainExamples(ctx, f, tok, cfg)
	if err != nil {
		return err
	}
	if len(examples) < minSamples {
		return fmt.Errorf("%s: %d samples; training reports imbalance statistics, which need at least %d (give more data or a larger --limit)", source, len(examples), minSamples)
	}
	longest := 0
	for _, ex := range examples {
		longest = max(longest, len(ex.Tokens))
	}
	opts, err := f.compute.options()
	if err != nil {
		return err
	}
	copies := 0
	if f.variants > 0 {
		copies = 1 // the base, kept while each variant trains a clone of it
	}
	micro := cfg.MicroBatchSize
	if micro == 0 {
		micro = cfg.BatchSize
	}
	items, err := modelMemory(opts, mcfg, true, micro, longest-1, copies)
	if err != nil {
		return err
	}
	if err := checkFits(opts.Device, "train this model", items); err != nil {
		return err
	}
	model, err := buildTrainModel(f, mcfg, opts)
	if err != nil {
		return err
	}
	// Reject a bad configuration, or a run that does not fit the device, before anything is
	// written.
	if err := sft.Check(model, examples, cfg); err != nil {
		return err
	}

	lock, err := tensor.LockFolder(f.out)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := prepareOut(f, tok, lock); err != nil {
		return err
	}
	log, err := newTrainLog(filepath.Join(f.out, trainLogFile), stderr, f.quiet)
	if err != nil {
		return err
	}
	defer log.finish()
	// progress.json in each output folder lets `ordermerge status` show a running job's step.
	log.out, log.variants = f.out, f.variants > 0
	defer func() { log.writeProgress(err) }()
	log.printf("ordermerge train %s", strings.Join(args, " "))
	for _, note := range lock.Notes() {
		log.printf("%s", note)
	}
	log.printf("data %s: %d samples; model %d parameters in %d tensors; order %s, seed %d", source, len(examples), countParams(model), len(model.Params()), cfg.OrderMode, cfg.OrderSeed)
	log.printf("device %s; precision %s", model.Device().Describe(), model.Precision())
	if vocabNote != "" {
		log.printf("%s", vocabNote)
	}
	defer func() { log.printf("%s", peakMemory(model.Device())) }()
	cfg.KeepFiles = []string{trainLogFile, tokenizer.FileName, tokenizer.ConfigFileName, cluster.ProgressFile}
	cfg.Progress = log.progress

	if f.variants > 0 {
		return trainVariants(ctx, f, model, examples, cfg, log, stdout)
	}
	cfg.CheckpointDir = f.out
	cfg.CheckpointLock = lock
	var tr *sft.Trainer
	if _, err := os.Stat(filepath.Join(f.out, sft.TrainerStateFile)); err == nil {
		if tr, err = sft.Resume(f.out, model, examples, cfg); err != nil {
			return fmt.Errorf("%w\n(to start over instead, add --overwrite or choose another --out)", err)
		}
		log.printf("resuming %s from step %d of %d", f.out, tr.Step(), tr.TotalSteps())
	} else if tr, err = sft.NewTrainer(model, examples, cfg); err != nil {
		return err
	}
	res, err := tr.Run(ctx)
	if err != nil {
		if errors.Is(err, context.Canceled) && res != nil && res.Steps > 0 {
			log.printf("interrupted: checkpoint of step %d saved in %s; run the same command to continue", res.Steps, f.out)
		}
		return err
	}
	log.printf("finished %d steps; mean final loss %.4f", res.Steps, meanFinal(res.Final))
	an, err := sft.AnalyzeResults([]*sft.Result{res})
	if err != nil {
		return err
	}
	// One schema for one run and for several: a single run's adjusted statistics are
	// undefined (they need two variants), its raw ones are there.
	if err := writeJSON(filepath.Join(f.out, imbalanceFile), an); err != nil {
		return err
	}
	st := an.Variants[0].Raw
	log.record("imbalance: " + st.String())
	fmt.Fprintf(stdout, "trained %s: %d steps, mean final loss %.4f\n%s", f.out, res.Steps, meanFinal(res.Final), st.String())
	fmt.Fprintf(stdout, "(the difficulty-adjusted statistic, which the verdicts use, needs two or more variants: --variants K)\n")
	return nil
}

func trainVariants(ctx context.Context, f *trainFlags, base *llama.Model, examples []data.Example, cfg sft.Config, log *trainLog, stdout io.Writer) error {
	seeds := sft.VariantSeeds(f.variants, cfg.OrderSeed)
	log.printf("%d variants, order seeds %d..%d, into %s", len(seeds), seeds[0], seeds[len(seeds)-1], filepath.Join(f.out, "variant-*"))
	results, err := sft.TrainVariants(ctx, base, examples, cfg, seeds, f.out)
	if err != nil && !errors.Is(err, context.Canceled) && strings.Contains(err.Error(), "resuming from") {
		return fmt.Errorf("%w\n(to start over instead, add --overwrite or choose another --out)", err)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			log.printf("interrupted after %d finished variants; their checkpoints (and the current one's) are saved; run the same command to continue", max(len(results)-1, 0))
		}
		return err
	}
	an, err := sft.AnalyzeResults(results)
	if err != nil {
		return err
	}
	for i, v := range an.Variants {
		line := fmt.Sprintf("variant-%d (order seed %d): mean final loss %.4f; adjusted spearman %s, gap %s; raw spearman %s",
			i, v.OrderSeed, v.MeanLoss, rhoCell(v.Adjusted), gapCell(v.Adjusted), rhoCell(v.Raw))
		log.record(line)
		log.variantLine(i, line)
		fmt.Fprintln(stdout, line)
	}
	for _, l := range []struct {
		what string
		s    sft.ImbalanceSummary
	}{{"adjusted, first epoch", an.Adjusted}, {"raw, first epoch", an.Raw}, {"adjusted, last epoch", an.AdjustedLast}, {"raw, last epoch", an.RawLast}} {
		log.record(l.what + ": " + l.s.String())
		fmt.Fprintf(stdout, "%s: %s\n", l.what, l.s)
	}
	log.record("verdict: " + an.Verdict)
	fmt.Fprintf(stdout, "verdict: %s\n", an.Verdict)
	if err := writeAdjustedRecords(filepath.Join(f.out, adjustedFile), results); err != nil {
		return err
	}
	return writeJSON(filepath.Join(f.out, imbalanceFile), an)
}

// writeAdjustedRecords writes one row per variant and sample (long format, for pandas):
// variant, order seed, id, first- and last-epoch position, final loss and the
// difficulty-adjusted loss (final loss minus the other variants' mean).
func writeAdjustedRecords(path string, results []*sft.Result) error {
	var vs []sft.VariantLosses
	for _, r := range results {
		v, err := sft.LossesOf(r)
		if err != nil {
			return err
		}
		vs = append(vs, v)
	}
	_, adj, err := sft.AdjustedLosses(vs)
	if err != nil {
		return err
	}
	aligned := map[string]int{}
	for i, id := range vs[0].IDs {
		aligned[id] = i
	}
	var b strings.Builder
	b.WriteString("variant,order_seed,id,first_position,last_position,final_loss,adjusted_loss\n")
	for k, v := range vs {
		for j, id := range v.IDs {
			last, a := "", ""
			if v.Last != nil {
				last = fmt.Sprint(v.Last[j])
			}
			if adj != nil {
				a = strconv.FormatFloat(adj[k][aligned[id]], 'g', -1, 64)
			}
			fmt.Fprintf(&b, "%d,%d,%s,%d,%s,%s,%s\n", k, v.OrderSeed, csvField(id), v.First[j], last, strconv.FormatFloat(v.Losses[j], 'g', -1, 32), a)
		}
	}
	return tensor.WriteFileAtomic(path, []byte(b.String()))
}

// csvField quotes a field that needs it.
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// rhoCell is a Spearman with its p-value, or "undefined".
func rhoCell(s sft.ImbalanceStats) string {
	if s.Undefined != "" {
		return "undefined (" + s.Undefined + ")"
	}
	return fmt.Sprintf("%.4f (p=%.3g)", s.Spearman, s.SpearmanP)
}

// gapCell is an early-minus-late gap with its standard error.
func gapCell(s sft.ImbalanceStats) string {
	if s.Undefined != "" {
		return "undefined"
	}
	return fmt.Sprintf("%.4f ± %.4f", s.Gap, s.GapSE)
}

// trainModelConfig reads and checks the config of the model to train, allocating nothing;
// a --init config without vocab_size gets vocab, the tokenizer's.
func trainModelConfig(f *trainFlags, vocab int) (*tensor.Config, error) {
	if f.base != "" {
		return checkpointConfig(f.base)
	}
	return initConfig(f.init, vocab)
}

// buildTrainModel loads (--base) or initialises (--init) the model of a checked config.
func buildTrainModel(f *trainFlags, cfg *tensor.Config, opts llama.Options) (*llama.Model, error) {
	if f.base != "" {
		return llama.Load(f.base, opts)
	}
	m, err := llama.New(cfg, f.initSeed, opts)
	if err != nil {
		return nil, fmt.Errorf("--init %s: %w", f.init, err)
	}
	return m, nil
}

// checkVocab compares the model's vocabulary with the tokenizer's: fewer rows than tokens is
// an error; more is allowed (checkpoints often pad it) but said, in a note for train.log.
func checkVocab(f *trainFlags, cfg *tensor.Config, tok tokenizer.Tokenizer) (string, error) {
	v, n := cfg.VocabSize, tok.VocabSize()
	switch {
	case n > v:
		return "", fmt.Errorf("the tokenizer has %d tokens but the model's vocab_size is %d", n, v)
	case v > n && f.init != "":
		return fmt.Sprintf("note: --init %s sets vocab_size %d but the tokenizer has %d tokens: %d embedding rows will never be used (leave vocab_size out to take the tokenizer's)", f.init, v, n, v-n), nil
	case v > n:
		return fmt.Sprintf("note: the model's vocab_size %d is larger than the tokenizer's %d tokens (padded vocabularies are common; the extra rows are not used)", v, n), nil
	}
	return "", nil
}

// trainTokenizer picks the tokenizer: --tokenizer, else the base's, else the byte-level one.
func trainTokenizer(f *trainFlags) (tokenizer.Tokenizer, error) {
	var tok tokenizer.Tokenizer
	var err error
	switch {
	case f.tokenizer != "":
		if err := checkTokenizerPath(f.tokenizer); err != nil {
			return nil, err
		}
		tok, err = tokenizer.Load(f.tokenizer)
	case f.base != "":
		if _, statErr := os.Stat(filepath.Join(f.base, tokenizer.FileName)); statErr == nil {
			if err := checkTokenizerPath(f.base); err != nil {
				return nil, err
			}
			tok, err = tokenizer.Load(f.base)
		} else {
			tok = tokenizer.ByteLevel()
		}
	default:
		tok = tokenizer.ByteLevel()
	}
	if err != nil {
		return nil, err
	}
	return tok, nil
}

// trainExamples loads the dataset and tokenizes it with the template.
func trainExamples(ctx context.Context, f *trainFlags, tok tokenizer.Tokenizer, cfg sft.Config) ([]data.Example, string, error) {
	var ds *data.Dataset
	var err error
	if strings.HasPrefix(f.data, "embedded:") {
		if f.format != "" || f.skipBad {
			return nil, "", usagef("--format and --skip-bad apply to dataset files, not to %s", f.data)
		}
		if ds, err = data.Open(f.data, f.split); err != nil {
			return nil, "", usagef("--data: %v", err)
		}
	} else {
		ds, err = data.LoadContext(ctx, f.data, data.LoadOptions{Format: f.format, SkipBad: f.skipBad, Split: f.split})
		if err != nil {
			return nil, "", err
		}
	}
	if f.limit > 0 {
		ds = ds.Head(f.limit)
	}
	layout, err := data.LayoutByName(f.template, tok)
	if err != nil {
		return nil, "", usagef("--template: %v", err)
	}
	layout.MaxLen, layout.Overflow = cfg.MaxSeqLen, data.OverflowError
	if cfg.Truncate {
		layout.Overflow = data.OverflowTruncate
	}
	exs, err := ds.Encode(tok, layout)
	if err != nil {
		return nil, "", err
	}
	desc := fmt.Sprintf("%s (%s split, sha256 %.12s)", ds.Source, f.split, ds.Fingerprint())
	if ds.Skipped > 0 {
		desc += fmt.Sprintf(", %d malformed records skipped (%s)", ds.Skipped, strings.Join(ds.Problems, "; "))
	}
	return exs, desc, nil
}

// prepareOut makes sure OUT, whose lock the caller holds, can receive this run and puts the
// tokenizer there (each variant's folder too), so every checkpoint is a complete model folder
// for eval and merge. With --overwrite, a previous run's checkpoint is discarded in one step.
func prepareOut(f *trainFlags, tok tokenizer.Tokenizer, lock *tensor.FolderLock) error {
	ours := map[string]bool{trainLogFile: true, tokenizer.FileName: true, tokenizer.ConfigFileName: true, imbalanceFile: true, adjustedFile: true,
		cluster.ProgressFile: true, cluster.ProgressPartialFile: true}
	dirs := []string{f.out}
	if f.variants > 0 {
		dirs = dirs[:0]
		for i := 0; i < f.variants; i++ {
			dirs = append(dirs, sft.VariantDir(f.out, i))
		}
	}
	entries, err := os.ReadDir(f.out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if tensor.IsTemporary(e.Name()) {
			continue // locks of the variants' folders, files being written
		}
		if f.variants > 0 && strings.HasPrefix(e.Name(), "variant-") {
			continue
		}
		if f.variants == 0 && isTrainingFile(e.Name()) {
			continue
		}
		if !ours[e.Name()] {
			return fmt.Errorf("%s exists and holds %s, which this command did not write; choose another --out", f.out, e.Name())
		}
	}
	for _, d := range dirs {
		if err := prepareRunDir(d, f.overwrite, tok, lock); err != nil {
			return err
		}
	}
	if f.overwrite {
		os.Remove(filepath.Join(f.out, trainLogFile))
		os.Remove(filepath.Join(f.out, imbalanceFile))
		os.Remove(filepath.Join(f.out, adjustedFile))
	}
	return nil
}

// prepareRunDir readies the folder of one run: OUT, whose lock outLock is, or a variant's
// folder, locked here (which also puts back a checkpoint that a killed replacement had set
// aside, before the folder is looked at). With overwrite a previous run there is discarded as
// one step, so a kill leaves it whole or gone, never half deleted.
func prepareRunDir(dir string, overwrite bool, tok tokenizer.Tokenizer, outLock *tensor.FolderLock) error {
	lock := outLock
	if filepath.Clean(dir) != outLock.Dir() {
		l, err := tensor.LockFolder(dir)
		if err != nil {
			return err
		}
		defer l.Unlock()
		lock = l
	}
	if overwrite {
		if _, err := os.Stat(filepath.Join(dir, sft.TrainerStateFile)); err == nil {
			if err := lock.Discard(); err != nil {
				return err
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return tokenizer.Save(dir, tok)
}

// isTrainingFile reports whether name is one of the files a training checkpoint holds.
func isTrainingFile(name string) bool {
	switch name {
	case tensor.ConfigFile, tensor.SingleFile, tensor.IndexFile, sft.OptimizerFile, sft.TrainerStateFile,
		sft.RecordsFile, sft.RecordsCSVFile, sft.FinalLossesFile, sft.FinalLossesCSVFile, sft.StepLossesCSVFile:
		return true
	}
	return strings.HasPrefix(name, "model-") && strings.HasSuffix(name, ".safetensors")
}

func countParams(m compute.Model) int {
	n := 0
	for _, p := range m.Params() {
		n += p.Value.Len()
	}
	return n
}

func meanFinal(final []sft.FinalLoss) float64 {
	if len(final) == 0 {
		return 0
	}
	var s float64
	for _, f := range final {
		s += f.Loss
	}
	return s / float64(len(final))
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return tensor.WriteFileAtomic(path, append(b, '\n'))
}

// trainLog writes progress to the terminal (one updating line when stderr is a terminal,
// plain lines otherwise) and every line, time-stamped, to train.log. The log file is opened
// for each line: checkpoints replace the output folder, carrying train.log over, so a handle
// kept open would point at the replaced file.
type trainLog struct {
	path   string
	quiet  bool
	status *statusLine
	// out and variants place progress.json: in out, or in each variant's folder.
	out      string
	variants bool
	last     map[int]cluster.Progress
	started  map[int]bool // variants whose own train.log got its first line
}

func newTrainLog(path string, stderr io.Writer, quiet bool) (*trainLog, error) {
	l := &trainLog{path: path, quiet: quiet, status: newStatusLine(stderr)}
	// Check now that the log can be written, rather than at the first step.
	if err := l.appendLine(""); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *trainLog) appendLine(line string) error {
	fh, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("training log: %w", err)
	}
	if line != "" {
		_, err = fmt.Fprintf(fh, "%s %s\n", time.Now().Format(time.RFC3339), line)
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// record writes a line to the log only (what the terminal gets in another form).
func (l *trainLog) record(line string) { l.appendLine(strings.TrimRight(line, "\n")) }

// variantLine appends a line to variant i's own train.log (with --variants).
func (l *trainLog) variantLine(i int, line string) {
	if !l.variants || l.out == "" {
		return
	}
	vl := trainLog{path: filepath.Join(sft.VariantDir(l.out, i), trainLogFile)}
	vl.appendLine(line)
}

// printf writes a message line to the terminal and the log.
func (l *trainLog) printf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.appendLine(strings.TrimRight(line, "\n"))
	if l.quiet {
		return
	}
	l.status.println(line)
}

// progress is the trainer's callback.
func (l *trainLog) progress(p sft.Progress) {
	line := p.String()
	if p.Phase == "train" {
		l.appendLine(line)
		if l.variants {
			if l.started == nil {
				l.started = map[int]bool{}
			}
			if !l.started[p.Variant] {
				l.started[p.Variant] = true
				l.variantLine(p.Variant, fmt.Sprintf("variant-%d of %d, trained by the run logged in %s", p.Variant, p.Variants, l.path))
			}
			l.variantLine(p.Variant, line)
		}
		if l.out != "" {
			if l.last == nil {
				l.last = map[int]cluster.Progress{}
			}
			l.last[p.Variant] = cluster.TrainingProgress(p)
			cluster.WriteProgress(l.progressDir(p.Variant), l.last[p.Variant])
		}
	}
	if l.quiet {
		return
	}
	if !l.status.tty {
		if p.Phase == "train" {
			l.status.println(line)
		}
		return
	}
	frac := 0.0
	if p.TotalSteps > 0 {
		frac = float64(p.Step) / float64(p.TotalSteps)
	}
	l.status.redraw(bar(frac, 20, "#") + " " + line)
}

func (l *trainLog) finish() { l.status.finish() }

func (l *trainLog) progressDir(variant int) string {
	if l.variants {
		return sft.VariantDir(l.out, variant)
	}
	return l.out
}

// writeProgress marks the progress files done, or the latest one failed with the run's error
// (variants train one after another: the earlier ones are done).
func (l *trainLog) writeProgress(err error) {
	latest := -1
	for v := range l.last {
		latest = max(latest, v)
	}
	for v, p := range l.last {
		p.State = cluster.ProgressDone
		if err != nil && v == latest {
			p.State, p.Error = cluster.ProgressFailed, err.Error()
		}
		cluster.WriteProgress(l.progressDir(v), p)
	}
}
