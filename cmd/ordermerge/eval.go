package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/eval"
	"github.com/ordermerge/ordermerge/model/llama"
	"github.com/ordermerge/ordermerge/tensor"
	"github.com/ordermerge/ordermerge/tokenizer"
)

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	model := fs.String("model", "", "model: a Llama checkpoint folder (required)")
	dataSpec := fs.String("data", "", "dataset(s), comma-separated: an embedded name ("+strings.Join(data.EmbeddedNames(), ", ")+"), embedded:NAME, or a dataset file; \"all\" = every embedded dataset")
	split := fs.String("split", "test", "split of an embedded dataset: test or train")
	tokPath := fs.String("tokenizer", "", "tokenizer.json file or folder (default: the model's, else the byte-level tokenizer)")
	tmplName := fs.String("template", "default", "prompt template the model was trained with: "+strings.Join(data.TemplateNames(), ", ")+", or "+data.ChatLayout+" (the tokenizer's chat template)")
	limit := fs.Int("limit", 0, "evaluate the first N samples of each dataset only (0: all)")
	batch := fs.Int("batch-size", 32, "prompts generated together")
	maxNew := fs.Int("max-new-tokens", 0, "longest answer generated (0: twice the longest reference, plus 8)")
	losses := fs.Bool("losses", true, "also compute each sample's loss on its reference answer")
	asJSON := fs.Bool("json", false, "print the scores as JSON instead of a table")
	var cf computeFlags
	cf.register(fs)
	positions := fs.String("positions", "", "join every sample's loss to the first- and last-epoch positions of the variants that trained on it: a `train --variants` folder or comma-separated run folders (evaluate their training data: the same --data, --split train, --limit); writes --losses-out and prints the imbalance against them")
	lossesOut := fs.String("losses-out", "", "with --positions: the per-sample CSV (id, loss, per variant first/last position and adjusted loss; default eval-DATASET-SPLIT-positions.csv), with the statistics in a .json beside it")
	results := fs.String("results", "", "write every sample's verdict as JSONL here (default: eval-DATASET-SPLIT.jsonl in the current folder; \"-\" for none)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ordermerge eval --model DIR --data NAME|PATH[,...] [--split test] [--json]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	splitSet := false
	fs.Visit(func(f *flag.Flag) { splitSet = splitSet || f.Name == "split" })
	if *model == "" || *dataSpec == "" {
		return usagef("--model and --data are required")
	}
	if *positions != "" && (strings.Contains(*dataSpec, ",") || *dataSpec == "all") {
		return usagef("--positions joins one dataset's losses to the variants trained on it; give one --data")
	}
	if *positions != "" && !*losses {
		return usagef("--positions needs the per-sample losses (--losses)")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if _, err := data.TemplateByName(*tmplName); err != nil && *tmplName != data.ChatLayout {
		return usagef("--template: %v", err)
	}
	opts, err := cf.options()
	if err != nil {
		return err
	}
	// The config is checked against the tensors and the memory before the model is
	// allocated; a model with NaN or infinite weights is refused before it is scored.
	mcfg, err := checkpointConfig(*model)
	if err != nil {
		return err
	}
	items, err := modelMemory(opts, mcfg, false, 1, 1, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", *model, err)
	}
	if err := checkFits(opts.Device, "evaluate this model", items); err != nil {
		return err
	}
	m, err := llama.Load(*model, opts)
	if err != nil {
		return err
	}
	if err := checkFinite(*model, m); err != nil {
		return err
	}
	tok, err := evalTokenizer(*tokPath, *model)
	if err != nil {
		return err
	}
	layout, err := data.LayoutByName(*tmplName, tok)
	if err != nil {
		return usagef("--template: %v", err)
	}
	specs := strings.Split(*dataSpec, ",")
	if *dataSpec == "all" {
		specs = data.EmbeddedNames()
	}
	var all []*eval.Result
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		ds, err := openEvalData(ctx, spec, *split)
		if err != nil {
			return err
		}
		// The progress line is redrawn on a terminal; a log gets one line when done.
		status := newStatusLine(stderr)
		res, err := eval.Evaluate(ctx, m, tok, ds, eval.Options{Template: layout.Template, Chat: layout.Chat, Limit: *limit, BatchSize: *batch, MaxNewTokens: *maxNew, Losses: *losses,
			Progress: func(done, total int) {
				if *asJSON {
					return
				}
				line := fmt.Sprintf("%s: %d/%d", ds.Name, done, total)
				if status.tty {
					status.redraw(line)
					if done == total {
						status.finish()
					}
				} else if done == total {
					status.println(line)
				}
			}})
		if err != nil {
			return err
		}
		if !isEmbedded(spec) && !splitSet {
			// A file is whatever split it is: "test" would be a guess (and wrong for the
			// training file a merged model is measured on).
			res.Split = "file"
		}
		if math.IsNaN(res.MeanLoss) || math.IsInf(res.MeanLoss, 0) {
			return fmt.Errorf("%s on %s: the mean loss is %v: the model's outputs are not finite", *model, ds.Name, res.MeanLoss)
		}
		if res.Split == "" {
			res.Split = *split
		}
		if *results != "-" {
			path := *results
			if path == "" {
				path = fmt.Sprintf("eval-%s-%s.jsonl", ds.Name, res.Split)
			} else if len(specs) > 1 {
				ext := filepath.Ext(path)
				path = strings.TrimSuffix(path, ext) + "-" + ds.Name + ext
			}
			if err := writeEvalResults(path, res); err != nil {
				return err
			}
		}
		if *positions != "" {
			out := *lossesOut
			if out == "" {
				out = fmt.Sprintf("eval-%s-%s-positions.csv", ds.Name, res.Split)
			}
			mi, err := positionsReport(*model, res, *positions, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "per-sample losses joined to %d variants' positions: %s (statistics: %s)\n", len(mi.PerVariant), out, strings.TrimSuffix(out, filepath.Ext(out))+".json")
			fmt.Fprintf(stderr, "%s against the variants' first-epoch positions: adjusted %s; raw %s; slope %s of the variants' own\n", *model, mi.Adjusted, mi.Raw, ratioText(mi.Flattening))
		}
		all = append(all, res)
	}
	if *asJSON {
		type row struct {
			Dataset  string  `json:"dataset"`
			Split    string  `json:"split"`
			Metric   string  `json:"metric"`
			N        int     `json:"n"`
			Correct  int     `json:"correct"`
			Accuracy float64 `json:"accuracy"`
			MeanLoss float64 `json:"mean_loss"`
			Seconds  float64 `json:"seconds"`
		}
		var rows []row
		for _, r := range all {
			rows = append(rows, row{r.Dataset, r.Split, r.Metric, r.N, r.Correct, r.Accuracy, r.MeanLoss, r.Elapsed.Seconds()})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tSPLIT\tMETRIC\tSCORE\tCORRECT\tMEAN LOSS\tTIME")
	for _, r := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f%%\t%d/%d\t%.4f\t%.1fs\n", r.Dataset, r.Split, r.Metric, 100*r.Accuracy, r.Correct, r.N, r.MeanLoss, r.Elapsed.Seconds())
	}
	return tw.Flush()
}

// openEvalData accepts a bare embedded name as well as embedded:NAME and file paths.
func openEvalData(ctx context.Context, spec, split string) (*data.Dataset, error) {
	if !strings.HasPrefix(spec, "embedded:") {
		if _, err := os.Stat(spec); err != nil {
			for _, n := range data.EmbeddedNames() {
				if n == spec {
					return data.Open("embedded:"+n, split)
				}
			}
			return nil, fmt.Errorf("--data %s: no such file, and not an embedded dataset (%s)", spec, strings.Join(data.EmbeddedNames(), ", "))
		}
	}
	return data.OpenContext(ctx, spec, split)
}

func evalTokenizer(path, model string) (tokenizer.Tokenizer, error) {
	if path != "" {
		if err := checkTokenizerPath(path); err != nil {
			return nil, err
		}
		return tokenizer.Load(path)
	}
	if _, err := os.Stat(filepath.Join(model, tokenizer.FileName)); err == nil {
		if err := checkTokenizerPath(model); err != nil {
			return nil, err
		}
		return tokenizer.Load(model)
	}
	return tokenizer.ByteLevel(), nil
}

// writeEvalResults writes one JSON object per sample, atomically.
func writeEvalResults(path string, res *eval.Result) error {
	f, err := tensor.CreateAtomic(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, s := range res.Samples {
		if err := enc.Encode(s); err != nil {
			f.Abort()
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Abort()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}

// isEmbedded reports whether a --data entry names an embedded dataset, not a file.
func isEmbedded(spec string) bool {
	if strings.HasPrefix(spec, "embedded:") {
		return true
	}
	if _, err := os.Stat(spec); err == nil {
		return false
	}
	for _, n := range data.EmbeddedNames() {
		if n == spec {
			return true
		}
	}
	return false
}

func ratioText(v float64) string {
	if math.IsNaN(v) {
		return "undefined"
	}
	return fmt.Sprintf("%.2f", v)
}
