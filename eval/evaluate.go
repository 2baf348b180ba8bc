package eval

import (
	"context"
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/sft"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// Options control Evaluate. The zero value evaluates every sample greedily with the default
// template.
type Options struct {
	// Template lays out the prompts (zero value: data.DefaultTemplate); use the template the
	// model was trained with.
	Template data.Template
	// Chat, when set, lays the prompts out with a model's chat template instead (the one the
	// model was fine-tuned with; data.ChatTemplateFor gives the tokenizer's own).
	Chat *data.ChatTemplate
	// MaxNewTokens bounds each answer (0: twice the longest reference answer in tokens, plus
	// 8, capped by the context).
	MaxNewTokens int
	// BatchSize is how many prompts are generated together (0: 32).
	BatchSize int
	// Limit evaluates only the first Limit samples (0: all).
	Limit int
	// Losses also computes each sample's loss on its reference answer (teacher forcing).
	Losses bool
	// Progress, when set, is called after each batch with the samples done and the total.
	Progress func(done, total int)
}

// SampleResult is the verdict on one sample.
type SampleResult struct {
	ID        string `json:"id"`
	Prompt    string `json:"prompt"`
	Reference string `json:"reference"`
	Generated string `json:"generated"`
	Correct   bool   `json:"correct"`
	// Got and Want are what the metric compared; Reason says why an answer failed when that is
	// not a plain mismatch.
	Got    string `json:"got,omitempty"`
	Want   string `json:"want,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Passed/Total count hidden tests (pass@1 only).
	Passed int `json:"passed,omitempty"`
	Total  int `json:"total,omitempty"`
	// Loss is the mean loss over the reference answer's tokens (only with Options.Losses).
	Loss float64 `json:"loss,omitempty"`
}

// Result is a model's score on a dataset.
type Result struct {
	Dataset  string         `json:"dataset"`
	Split    string         `json:"split,omitempty"`
	Metric   string         `json:"metric"`
	N        int            `json:"n"`
	Correct  int            `json:"correct"`
	Accuracy float64        `json:"accuracy"`
	MeanLoss float64        `json:"mean_loss,omitempty"`
	Elapsed  time.Duration  `json:"elapsed_ns"`
	Samples  []SampleResult `json:"samples"`
}

// Evaluate generates an answer for every sample of ds with m (greedy decoding), scores it with
// the dataset's metric (exact match after normalisation, the final "#### N" answer, or pass@1
// by running a generated program on the hidden tests), and returns the accuracy with every
// sample's verdict. It stops between batches when ctx is cancelled, returning ctx's error.
func Evaluate(ctx context.Context, m Model, tok tokenizer.Tokenizer, ds *data.Dataset, opt Options) (*Result, error) {
	if m == nil || tok == nil || ds == nil {
		return nil, fmt.Errorf("evaluate: model, tokenizer and dataset are required")
	}
	start := time.Now()
	enc := data.EncodeOptions{Template: opt.Template, Chat: opt.Chat}
	if opt.Chat == nil && opt.Template.Name == "" && opt.Template.User == "" && opt.Template.Assistant == "" {
		enc.Template = data.DefaultTemplate()
	}
	tmpl := enc.Formatter()
	samples := ds.Samples
	if opt.Limit > 0 && opt.Limit < len(samples) {
		samples = samples[:opt.Limit]
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("evaluate %s: no samples", ds.Name)
	}
	if tok.VocabSize() > m.VocabSize() {
		return nil, fmt.Errorf("evaluate %s: tokenizer has %d tokens but the model's vocabulary is %d", ds.Name, tok.VocabSize(), m.VocabSize())
	}
	stop, err := tmpl.Stop(tok)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", ds.Name, err)
	}
	ctxLen := m.ContextLength()
	prompts := make([][]int32, len(samples))
	longest := 0
	for i, s := range samples {
		p, err := tmpl.EncodePrompt(tok, s)
		if err != nil {
			return nil, fmt.Errorf("evaluate %s: sample %s: %w", ds.Name, s.ID, err)
		}
		if len(p) >= ctxLen {
			return nil, fmt.Errorf("evaluate %s: sample %s: prompt of %d tokens leaves no room in the model's context of %d", ds.Name, s.ID, len(p), ctxLen)
		}
		prompts[i] = p
		longest = max(longest, len(tok.Encode(s.Response)))
	}
	maxNew := opt.MaxNewTokens
	if maxNew <= 0 {
		maxNew = 2*longest + 8
	}
	batch := opt.BatchSize
	if batch <= 0 {
		batch = 32
	}
	// Generating prompts of similar length together wastes the least work; results go back
	// to their sample's place, and greedy decoding does not depend on batch company.
	order := make([]int, len(samples))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(prompts[order[a]]) < len(prompts[order[b]]) })
	res := &Result{Dataset: ds.Name, Split: ds.Split, Metric: ds.Metric, N: len(samples), Samples: make([]SampleResult, len(samples))}
	for lo := 0; lo < len(order); lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := order[lo:min(lo+batch, len(order))]
		ps := make([][]int32, len(idx))
		for j, i := range idx {
			ps[j] = prompts[i]
		}
		gens, err := Generate(ctx, m, ps, GenerateOptions{MaxNewTokens: maxNew, StopTokens: stop})
		if err != nil {
			return nil, fmt.Errorf("evaluate %s: %w", ds.Name, err)
		}
		for j, i := range idx {
			s := samples[i]
			text := tok.Decode(gens[j].Tokens)
			sc, err := data.ScoreSample(ds.Metric, s, text)
			if err != nil {
				return nil, fmt.Errorf("evaluate %s: sample %s: %w", ds.Name, s.ID, err)
			}
			res.Samples[i] = SampleResult{ID: s.ID, Prompt: s.Prompt, Reference: s.Response, Generated: text,
				Correct: sc.Correct, Got: sc.Got, Want: sc.Want, Reason: sc.Reason, Passed: sc.Passed, Total: sc.Total}
			if sc.Correct {
				res.Correct++
			}
		}
		if opt.Progress != nil {
			opt.Progress(min(lo+batch, len(order)), len(order))
		}
	}
	res.Accuracy = float64(res.Correct) / float64(res.N)
	if opt.Losses {
		sub := &data.Dataset{Name: ds.Name, Samples: samples}
		losses, err := sampleLosses(ctx, m, tok, sub, enc, batch)
		if err != nil {
			return nil, err
		}
		var sum float64
		for i, l := range losses {
			res.Samples[i].Loss = l
			sum += l
		}
		res.MeanLoss = sum / float64(len(losses))
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// SampleLosses returns each sample's mean loss over its reference answer's tokens, in order,
// computed in batches of batchSize (0: 32) without touching gradients.
func SampleLosses(ctx context.Context, m Model, tok tokenizer.Tokenizer, ds *data.Dataset, tmpl data.Template, batchSize int) ([]float64, error) {
	return sampleLosses(ctx, m, tok, ds, data.EncodeOptions{Template: tmpl}, batchSize)
}

// sampleLosses is SampleLosses with the layout (Template or Chat) given in enc.
func sampleLosses(ctx context.Context, m Model, tok tokenizer.Tokenizer, ds *data.Dataset, enc data.EncodeOptions, batchSize int) ([]float64, error) {
	if batchSize <= 0 {
		batchSize = 32
	}
	pad, _ := tok.Special(tokenizer.PAD)
	enc.MaxLen, enc.Overflow = m.ContextLength()+1, data.OverflowTruncate
	exs, err := ds.Encode(tok, enc)
	if err != nil {
		return nil, fmt.Errorf("losses on %s: %w", ds.Name, err)
	}
	out := make([]float64, 0, len(exs))
	for lo := 0; lo < len(exs); lo += batchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := sft.PackBatch(exs[lo:min(lo+batchSize, len(exs))], pad)
		ls, err := m.Loss(b)
		if err != nil {
			return nil, fmt.Errorf("losses on %s: %w", ds.Name, err)
		}
		for _, l := range ls {
			out = append(out, float64(l))
		}
	}
	return out, nil
}

// String is a one-line summary: `arith (test): final-answer 41.5% (83/200)`.
func (r *Result) String() string {
	s := fmt.Sprintf("%s", r.Dataset)
	if r.Split != "" {
		s += " (" + r.Split + ")"
	}
	s += fmt.Sprintf(": %s %.1f%% (%d/%d)", r.Metric, 100*r.Accuracy, r.Correct, r.N)
	if r.MeanLoss != 0 && !math.IsNaN(r.MeanLoss) {
		s += fmt.Sprintf(", mean loss %.4f", r.MeanLoss)
	}
	return s
}

// Markdown shows the score and the first few answers, right and wrong.
func (r *Result) Markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "**%s**\n\n| id | correct | reference | generated |\n|---|---|---|---|\n", r.String())
	for _, s := range r.examples(6) {
		fmt.Fprintf(&sb, "| %s | %v | %s | %s |\n", s.ID, s.Correct, mdCell(s.Reference), mdCell(s.Generated))
	}
	return sb.String()
}

// HTML is the Markdown view as an HTML table, for notebooks.
func (r *Result) HTML() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "<p><b>%s</b></p><table><tr><th>id</th><th>correct</th><th>reference</th><th>generated</th></tr>", html.EscapeString(r.String()))
	for _, s := range r.examples(6) {
		fmt.Fprintf(&sb, "<tr><td>%s</td><td>%v</td><td><pre>%s</pre></td><td><pre>%s</pre></td></tr>",
			html.EscapeString(s.ID), s.Correct, html.EscapeString(s.Reference), html.EscapeString(s.Generated))
	}
	sb.WriteString("</table>")
	return sb.String()
}

// examples picks up to n samples, half correct and half wrong where possible.
func (r *Result) examples(n int) []SampleResult {
	var right, wrong []SampleResult
	for _, s := range r.Samples {
		if s.Correct && len(right) < n/2 {
			right = append(right, s)
		} else if !s.Correct && len(wrong) < n-n/2 {
			wrong = append(wrong, s)
		}
	}
	return append(right, wrong...)
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", "<br>")
}
