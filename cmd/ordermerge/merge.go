package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/merge"
	"github.com/ordermerge/ordermerge/tensor"
)

// methodList is the built-in methods' names, wrapped for the usage text.
func methodList() string {
	var b strings.Builder
	line := len("Methods: ")
	for i, m := range merge.Methods() {
		name := m.Name
		if i > 0 {
			b.WriteString(",")
			line++
			if line+1+len(name) > 92 {
				b.WriteString("\n")
				line = 0
			} else {
				b.WriteString(" ")
				line++
			}
		}
		b.WriteString(name)
		line += len(name)
	}
	return b.String()
}

const mergeUsage = `usage:
  ordermerge merge --config merge.yaml --out DIR [flags]
  ordermerge merge --method M [--base DIR] --models A,B,C [--seed S] [--weights ..] [--density ..] --out DIR [flags]

Merges checkpoint folders (Hugging Face layout, or single .safetensors files) tensor by
tensor under a memory budget. The config is mergekit's YAML schema (merge_method, base_model,
models or slices, parameters, dtype, out_dtype, tokenizer_source or tokenizer, chat_template;
MODEL+LORA references), with mergekit 0.1.4's semantics; a file of several YAML documents is a
multi-merge (each but the final one has name:, and later ones use it as a model path).
Methods: %s
('go doc github.com/ordermerge/ordermerge/merge' has the exact rules).

flags:`

// shortFormFlags describe the merge itself; they cannot be combined with --config.
var shortFormFlags = []string{"method", "base", "models", "weights", "density", "resample", "resample-n", "granularity", "param"}

func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", stderr)
	configPath := fs.String("config", "", "mergekit-style YAML config `file`")
	out := fs.String("out", "", "output `folder` (must not exist unless --force)")
	method := fs.String("method", "", "merge `method` (short form)")
	base := fs.String("base", "", "base model `folder` (short form)")
	models := fs.String("models", "", "comma-separated model `folders` (short form)")
	seed := fs.Uint64("seed", 0, "`seed` of the randomised methods (parameter_selection, dare_*); overrides the config's")
	weights := fs.String("weights", "", "comma-separated weight per model (selection: relative probabilities)")
	density := fs.String("density", "", "density for every model, or one per model, comma-separated")
	resample := fs.Bool("resample", false, "parameter_selection: redraw elements equal to the base's (needs --base)")
	resampleN := fs.Int("resample-n", 0, "parameter_selection: 0 = redraw once among models differing from the base; n = up to n redraws")
	granularity := fs.String("granularity", "", "parameter_selection: element (default), row or tensor")
	var params paramFlags
	fs.Var(&params, "param", "other method parameter as `name=value` (repeatable), e.g. t=0.5, lambda=0.8, normalize=false; a comma list is a layer gradient")
	outDType := fs.String("out-dtype", "", "`dtype` of the merged tensors: bf16, f16 or f32 (default: as the base/first model)")
	dtype := fs.String("dtype", "", "mergekit's dtype, the compute `dtype` (bf16: linear and the task-vector methods round every operation as mergekit does); also the output dtype when --out-dtype is not given")
	maxMemory := fs.String("max-memory", "256MiB", "memory `budget` of the merge: tensor buffers and the methods' per-tensor state, besides the program itself (e.g. 512MiB, 2GiB)")
	shardSize := fs.String("out-shard-size", "5GB", "largest output shard `size` (0: one model.safetensors)")
	workers := fs.Int("workers", 0, "tensors merged at once (default: the number of CPUs, fewer if the budget is small)")
	force := fs.Bool("force", false, "replace an existing --out folder (once the new one is complete)")
	allowMissing := fs.Bool("allow-missing", false, "merge tensors that only some models have (else they are an error)")
	checkFinite := fs.Bool("check-finite", false, "fail on NaN or Inf in any input or in the result")
	jsonPath := fs.String("json", "", "also write the merge report as JSON to this `file`")
	intermediate := fs.String("intermediate-dir", "", "multi-merge files: `folder` for the named merges, kept and reused (default: a temporary folder)")
	quiet := fs.Bool("quiet", false, "no progress bar and no report table: only the line saying what was written (--json still gets the whole report)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, mergeUsage+"\n", methodList())
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (flags only)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *out == "" {
		return usagef("--out is required")
	}
	var cfg *merge.Config
	var cfgs []*merge.Config
	var err error
	switch {
	case *configPath != "":
		for _, name := range shortFormFlags {
			if set[name] {
				return usagef("--%s cannot be combined with --config: put it in the config file", name)
			}
		}
		if cfgs, err = merge.LoadConfigs(*configPath); err != nil {
			return err
		}
		cfg = cfgs[len(cfgs)-1]
	case *method != "":
		cfg, err = shortFormConfig(*method, *base, *models, *weights, *density, params, set, *resample, *resampleN, *granularity)
		if err != nil {
			return err
		}
	default:
		return usagef("give --config FILE, or --method with --models")
	}
	if cfgs == nil {
		cfgs = []*merge.Config{cfg}
	}
	for _, cfg := range cfgs {
		info, ok := merge.LookupMethod(cfg.Method)
		if set["seed"] {
			if ok && !info.Randomised {
				fmt.Fprintf(stderr, "note: %s is not randomised; --seed has no effect\n", cfg.Method)
			} else {
				cfg.Seed = *seed
			}
		}
		if *dtype != "" {
			cfg.DType = *dtype
		}
		if *outDType != "" {
			cfg.OutDType = *outDType
		}
	}
	opt := merge.RunOptions{Out: *out, Force: *force, Workers: *workers, AllowMissing: *allowMissing, CheckFinite: *checkFinite}
	if opt.MaxMemory, err = parseSize(*maxMemory); err != nil {
		return usagef("--max-memory: %v", err)
	}
	if opt.MaxMemory < 0 {
		return usagef("--max-memory must not be negative")
	}
	// The budget bounds what the merge allocates (buffers and the methods' state); the Go
	// runtime holds the program's own memory besides. A soft limit at their sum keeps the
	// garbage collector from letting the heap grow past them: the methods' state is
	// allocated per tensor, and without the limit the heap could reach twice what is live.
	budget := opt.MaxMemory
	if budget == 0 {
		budget = merge.DefaultMaxMemory
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(budget + goMemoryBytes()))
	if opt.OutShardSize, err = parseSize(*shardSize); err != nil {
		return usagef("--out-shard-size: %v", err)
	}
	if *workers < 0 {
		return usagef("--workers must not be negative")
	}
	var bar *progressBar
	if !*quiet {
		bar = newProgressBar(stderr)
		opt.Progress = bar.update
	}
	reps, err := merge.RunAll(ctx, cfgs, merge.MultiOptions{RunOptions: opt, IntermediateDir: *intermediate})
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return err
	}
	for _, r := range reps[:len(reps)-1] {
		fmt.Fprint(stdout, r)
		fmt.Fprintf(stdout, "wrote %s\n", r.Output)
	}
	rep := reps[len(reps)-1]
	if *jsonPath != "" {
		if err := rep.WriteJSON(*jsonPath); err != nil {
			return err
		}
	}
	if !*quiet {
		fmt.Fprint(stdout, rep) // the table; --quiet keeps only the line saying what was written
	}
	fmt.Fprintf(stdout, "wrote %s in %.1fs (%s/s)\n", rep.Output, rep.Elapsed.Seconds(), tensor.FormatBytes(int64(float64(rep.Bytes)/math.Max(rep.Elapsed.Seconds(), 1e-9))))
	return nil
}

// shortFormConfig builds the config of the short form, recording which flag set what so that
// errors name the flag.
func shortFormConfig(method, base, models, weights, density string, params paramFlags, set map[string]bool, resample bool, resampleN int, granularity string) (*merge.Config, error) {
	if models == "" {
		return nil, usagef("--models is required with --method")
	}
	cfg := &merge.Config{Method: method, Base: base, Params: map[string]any{}}
	cfg.SetOrigin("merge_method", "--method")
	for _, p := range strings.Split(models, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Models = append(cfg.Models, merge.Input{Path: p, Params: map[string]any{}})
		}
	}
	k := len(cfg.Models)
	perModel := func(flagName, param, list string, broadcast bool) error {
		if list == "" {
			return nil
		}
		vals := strings.Split(list, ",")
		if len(vals) == 1 && broadcast {
			v, err := strconv.ParseFloat(strings.TrimSpace(vals[0]), 64)
			if err != nil {
				return usagef("--%s: %q is not a number", flagName, vals[0])
			}
			cfg.Params[param] = v
			cfg.SetOrigin("parameters."+param, "--"+flagName)
			return nil
		}
		if len(vals) != k {
			return usagef("--%s has %d values for %d models", flagName, len(vals), k)
		}
		for i, s := range vals {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return usagef("--%s: %q is not a number", flagName, s)
			}
			cfg.Models[i].Params[param] = v
			cfg.SetOrigin(fmt.Sprintf("models[%d].parameters.%s", i, param), "--"+flagName)
		}
		return nil
	}
	if err := perModel("weights", "weight", weights, false); err != nil {
		return nil, err
	}
	if err := perModel("density", "density", density, true); err != nil {
		return nil, err
	}
	if (resample || set["resample-n"]) && base == "" {
		// Checked here, where the flag is known: the method would otherwise report it as a
		// missing base of the first tensor it merges.
		return nil, usagef("--resample redraws the elements of a model equal to the base's, so it needs --base DIR")
	}
	if set["resample"] {
		cfg.Params["resample"] = resample
		cfg.SetOrigin("parameters.resample", "--resample")
	}
	if set["resample-n"] {
		cfg.Params["resample_n"] = resampleN
		cfg.SetOrigin("parameters.resample_n", "--resample-n")
	}
	if set["granularity"] {
		cfg.Params["granularity"] = granularity
		cfg.SetOrigin("parameters.granularity", "--granularity")
	}
	for _, p := range params {
		cfg.Params[p.name] = p.value
		cfg.SetOrigin("parameters."+p.name, "--param "+p.name)
	}
	return cfg, nil
}

type paramFlag struct {
	name  string
	value any
}

// paramFlags collects --param name=value; values are bools, numbers, comma-separated number
// lists (layer gradients) or strings.
type paramFlags []paramFlag

func (p *paramFlags) String() string { return "" }

func (p *paramFlags) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	val = strings.TrimSpace(val)
	var v any = val
	if b, err := strconv.ParseBool(val); err == nil {
		v = b
	} else if f, err := strconv.ParseFloat(val, 64); err == nil {
		v = f
	} else if strings.Contains(val, ",") {
		var list []float64
		for _, part := range strings.Split(val, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", name, part)
			}
			list = append(list, f)
		}
		v = list
	}
	*p = append(*p, paramFlag{name, v})
	return nil
}

// parseSize reads a byte count: a plain number, or with a unit K/M/G/T (powers of 1000, also
// KB/MB/GB/TB) or KiB/MiB/GiB/TiB (powers of 1024).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') && s[i-1] != '.' {
		i--
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 512MiB, 2GiB, 5GB)", s)
	}
	mult := map[string]float64{"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q (use KB/MB/GB or KiB/MiB/GiB)", s, unit)
	}
	v := f * mult
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(v), nil
}

// progressBar draws a bar redrawn in place on a terminal, or prints a line every 10% when the
// output is a file or a pipe (logs of batch jobs).
type progressBar struct {
	status   *statusLine
	last     time.Time
	lastStep int
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{status: newStatusLine(w), lastStep: -1}
}

func (b *progressBar) update(p merge.Progress) {
	frac := p.Fraction()
	amounts := fmt.Sprintf("%s / %s  %s/s", tensor.FormatBytes(p.Done), tensor.FormatBytes(p.Total), tensor.FormatBytes(int64(p.Rate())))
	if !b.status.tty {
		step := int(frac * 10)
		if step == b.lastStep {
			return
		}
		b.lastStep = step
		b.status.println(fmt.Sprintf("merge: %3.0f%%  %s  tensors %d/%d", 100*frac, amounts, p.Tensors, p.TensorsTotal))
		return
	}
	if time.Since(b.last) < 100*time.Millisecond && p.Done < p.Total {
		return
	}
	b.last = time.Now()
	eta := ""
	if r := p.Rate(); r > 0 && p.Done < p.Total && p.Elapsed > time.Second {
		eta = fmt.Sprintf("  eta %s", time.Duration(float64(p.Total-p.Done)/r*float64(time.Second)).Round(time.Second))
	}
	b.status.redraw(fmt.Sprintf("%s %5.1f%%  %s%s", bar(frac, 30, "="), 100*frac, amounts, eta))
}

// finish ends the bar's line so that what follows starts on a fresh one.
func (b *progressBar) finish() { b.status.finish() }

// goMemoryBytes is the memory the Go runtime holds now (runtime/metrics' total less what it
// has returned to the system): the program's own share of the limit.
func goMemoryBytes() int64 {
	m := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindUint64 || m[1].Value.Kind() != metrics.KindUint64 {
		return 64 << 20
	}
	return int64(m[0].Value.Uint64() - m[1].Value.Uint64())
}
