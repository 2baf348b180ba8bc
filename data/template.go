package data

import (
	"fmt"
	"strings"
)

// Template lays a sample out as tokens: which markers surround each turn, and what ends the
// response. Each field is text in which {{NAME}} stands for the tokenizer's special token NAME
// (a role name such as "bos" or "user", or a token's content such as "<|eot_id|>"), so one
// template can be written for any tokenizer. Text between special tokens is encoded in one
// piece, as Hugging Face chat templates are.
//
// A sample becomes
//
//	Begin [System system TurnEnd] {User content TurnEnd | Assistant content ResponseEnd}...
//	User prompt TurnEnd Assistant   | response ResponseEnd
//
// where everything before the bar is the prompt (no loss) and the rest the response.
type Template struct {
	Name        string
	Begin       string
	System      string
	User        string
	Assistant   string
	TurnEnd     string
	ResponseEnd string
}

// DefaultTemplate is the template of the embedded study: BOS, the byte-level tokenizer's role
// markers, EOS after the response. A sample costs 4 tokens beyond its text.
func DefaultTemplate() Template {
	return Template{
		Name:        "default",
		Begin:       "{{bos}}",
		System:      "{{system}}",
		User:        "{{user}}",
		Assistant:   "{{assistant}}",
		ResponseEnd: "{{eos}}",
	}
}

// TemplateNames lists the templates TemplateByName knows.
func TemplateNames() []string { return []string{"default", "alpaca", "llama3"} }

// TemplateByName returns a built-in template: "default" (role-marker tokens), "alpaca"
// (the "### Instruction:" / "### Response:" text layout, for tokenizers without role
// tokens) or "llama3" (Llama 3 Instruct's header tokens).
func TemplateByName(name string) (Template, error) {
	switch name {
	case "", "default":
		return DefaultTemplate(), nil
	case "alpaca":
		return Template{
			Name:        "alpaca",
			Begin:       "{{bos}}",
			User:        "### Instruction:\n",
			TurnEnd:     "\n\n",
			Assistant:   "### Response:\n",
			ResponseEnd: "{{eos}}",
		}, nil
	case "llama3":
		header := func(role string) string {
			return "{{<|start_header_id|>}}" + role + "{{<|end_header_id|>}}\n\n"
		}
		return Template{
			Name:        "llama3",
			Begin:       "{{<|begin_of_text|>}}",
			System:      header("system"),
			User:        header("user"),
			Assistant:   header("assistant"),
			TurnEnd:     "{{<|eot_id|>}}",
			ResponseEnd: "{{<|eot_id|>}}",
		}, nil
	}
	return Template{}, fmt.Errorf("unknown template %q (have %s)", name, strings.Join(TemplateNames(), ", "))
}

// Encoder is what laying samples out needs from a tokenizer; every tokenizer.Tokenizer has it.
type Encoder interface {
	Encode(text string) []int32
	Special(name string) (int32, bool)
}

// A Formatter lays samples out as tokens: Template (fixed role-marker layouts) and
// *ChatTemplate (a model's own Jinja chat template) are the two kinds.
type Formatter interface {
	// Encode returns the Example of s: prompt tokens without loss, the reply with loss.
	Encode(tok Encoder, s Sample) (Example, error)
	// EncodePrompt returns the tokens a model is given to generate the reply to s.
	EncodePrompt(tok Encoder, s Sample) ([]int32, error)
	// Stop returns the tokens that end a reply.
	Stop(tok Encoder) ([]int32, error)
}

// seq collects a token sequence from text and special tokens, encoding each stretch of text
// between special tokens in one call.
type seq struct {
	tok  Encoder
	tmpl string
	ids  []int32
	text strings.Builder
	err  error
}

func (q *seq) flush() {
	if q.text.Len() > 0 {
		q.ids = append(q.ids, q.tok.Encode(q.text.String())...)
		q.text.Reset()
	}
}

// marker appends a template field, resolving its {{NAME}} references.
func (q *seq) marker(field, m string) {
	rest := m
	for q.err == nil && rest != "" {
		open := strings.Index(rest, "{{")
		if open < 0 {
			q.text.WriteString(rest)
			return
		}
		q.text.WriteString(rest[:open])
		end := strings.Index(rest[open:], "}}")
		if end < 0 {
			q.err = fmt.Errorf("template %q: %s %q: {{ without }}", q.tmpl, field, m)
			return
		}
		name := rest[open+2 : open+end]
		id, ok := q.tok.Special(name)
		if !ok {
			q.err = fmt.Errorf("template %q: %s %q: the tokenizer has no special token %q", q.tmpl, field, m, name)
			return
		}
		q.flush()
		q.ids = append(q.ids, id)
		rest = rest[open+end+2:]
	}
}

// prompt lays out everything the model sees before it answers.
func (t Template) prompt(q *seq, s Sample) {
	q.marker("Begin", t.Begin)
	if s.System != "" {
		q.marker("System", t.System)
		q.text.WriteString(s.System)
		q.marker("TurnEnd", t.TurnEnd)
	}
	for _, m := range s.History {
		if m.Role == "assistant" {
			q.marker("Assistant", t.Assistant)
			q.text.WriteString(m.Content)
			q.marker("ResponseEnd", t.ResponseEnd)
			continue
		}
		q.marker("User", t.User)
		q.text.WriteString(m.Content)
		q.marker("TurnEnd", t.TurnEnd)
	}
	q.marker("User", t.User)
	q.text.WriteString(s.Prompt)
	q.marker("TurnEnd", t.TurnEnd)
	q.marker("Assistant", t.Assistant)
	q.flush()
}

// EncodePrompt returns the tokens a model is given to generate the response to s.
func (t Template) EncodePrompt(tok Encoder, s Sample) ([]int32, error) {
	q := &seq{tok: tok, tmpl: t.Name}
	t.prompt(q, s)
	if q.err != nil {
		return nil, fmt.Errorf("sample %s: %w", s.ID, q.err)
	}
	return q.ids, nil
}

// Encode returns the Example of s: prompt tokens (no loss) then response tokens.
func (t Template) Encode(tok Encoder, s Sample) (Example, error) {
	q := &seq{tok: tok, tmpl: t.Name}
	t.prompt(q, s)
	n := len(q.ids)
	q.text.WriteString(s.Response)
	q.marker("ResponseEnd", t.ResponseEnd)
	q.flush()
	if q.err != nil {
		return Example{}, fmt.Errorf("sample %s: %w", s.ID, q.err)
	}
	return Example{ID: s.ID, Tokens: q.ids, PromptLen: n}, nil
}

// Stop returns the tokens that end a response (ResponseEnd, usually just EOS): generation stops
// when it has produced them.
func (t Template) Stop(tok Encoder) ([]int32, error) {
	q := &seq{tok: tok, tmpl: t.Name}
	q.marker("ResponseEnd", t.ResponseEnd)
	q.flush()
	if q.err != nil {
		return nil, q.err
	}
	if len(q.ids) == 0 {
		return nil, fmt.Errorf("template %q: ResponseEnd is empty, so generation could not tell where a response ends", t.Name)
	}
	return q.ids, nil
}

// Overflow policies for EncodeOptions.
const (
	OverflowError    = "error"    // a sample longer than MaxLen is an error (the default)
	OverflowTruncate = "truncate" // cut the response to fit (its end marker may be lost)
	OverflowSkip     = "skip"     // leave the sample out
)

// EncodeOptions controls Dataset.Encode.
type EncodeOptions struct {
	// Template lays the samples out; the zero value means DefaultTemplate.
	Template Template
	// Chat, when set, lays the samples out with a model's chat template instead of Template
	// (ChatTemplateFor(tok) gives the tokenizer's own).
	Chat *ChatTemplate
	// MaxLen caps the tokens of one Example (prompt and response); 0 means no cap. A model
	// with context T trains on inputs Tokens[:len-1], so MaxLen = T+1 fills the context.
	MaxLen int
	// Overflow says what happens to longer samples: OverflowError (also ""), OverflowTruncate
	// or OverflowSkip. A sample whose prompt alone leaves no room for a response token is an
	// error under every policy but skip.
	Overflow string
	// LossOnPrompt gives every token a loss (PromptLen 0): plain language modelling, for
	// pre-training a base on the same samples. Predicting the prompt too teaches a small
	// model to read and copy from its context, which fine-tuning alone barely does.
	LossOnPrompt bool
}

// Formatter returns the layout the options name: Chat when set, else Template (DefaultTemplate
// for the zero value).
func (o EncodeOptions) Formatter() Formatter {
	if o.Chat != nil {
		return o.Chat
	}
	if o.Template == (Template{}) {
		return DefaultTemplate()
	}
	return o.Template
}

// Encode turns every sample into an Example, in order. With OverflowSkip, the examples left
// out are the samples whose IDs are missing from the result.
func (d *Dataset) Encode(tok Encoder, opts EncodeOptions) ([]Example, error) {
	f := opts.Formatter()
	switch opts.Overflow {
	case "", OverflowError, OverflowTruncate, OverflowSkip:
	default:
		return nil, fmt.Errorf("%s: unknown overflow policy %q (want error, truncate or skip)", d.Source, opts.Overflow)
	}
	out := make([]Example, 0, len(d.Samples))
	for _, s := range d.Samples {
		ex, err := f.Encode(tok, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Source, err)
		}
		if opts.MaxLen > 0 && len(ex.Tokens) > opts.MaxLen {
			switch {
			case opts.Overflow == OverflowSkip:
				continue
			case opts.Overflow == OverflowTruncate && ex.PromptLen < opts.MaxLen:
				ex.Tokens = ex.Tokens[:opts.MaxLen:opts.MaxLen]
				if ex.Loss != nil {
					ex.Loss = ex.Loss[:opts.MaxLen:opts.MaxLen]
				}
			default:
				return nil, fmt.Errorf("%s: sample %s is %d tokens (prompt %d); MaxLen is %d", d.Source, s.ID, len(ex.Tokens), ex.PromptLen, opts.MaxLen)
			}
		}
		if opts.LossOnPrompt {
			ex.PromptLen, ex.Loss = 0, nil
		}
		out = append(out, ex)
	}
	return out, nil
}
