package data

import (
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tokenizer"
)

// chatML is a ChatML template of the kind Qwen and SmolLM2 ship (shortened).
const chatML = `{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

func TestChatTemplateRenderAndMask(t *testing.T) {
	c, err := NewChatTemplate("chatml", chatML, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := Sample{ID: "s1", System: "Be brief.", History: []Message{{"user", "Hi"}, {"assistant", "Hello."}}, Prompt: "2+2?", Response: "4"}
	got, err := c.Render(s.Messages(false), true)
	want := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
	if err != nil || got != want {
		t.Fatalf("Render = %q, %v\nwant %q", got, err, want)
	}
	// One byte per token: the mask can be read off the text.
	tok := tokenizer.ByteLevel()
	ex, err := c.Encode(tok, s)
	if err != nil {
		t.Fatal(err)
	}
	full := want + "4<|im_end|>\n"
	if string(decodeBytes(ex.Tokens)) != full {
		t.Fatalf("tokens spell %q, want %q", decodeBytes(ex.Tokens), full)
	}
	var learned []string
	var run []int32
	for i, id := range ex.Tokens {
		if i >= ex.PromptLen && ex.Loss[i] {
			run = append(run, id)
		} else if len(run) > 0 {
			learned, run = append(learned, string(decodeBytes(run))), nil
		}
	}
	learned = append(learned, string(decodeBytes(run)))
	if strings.Join(learned, "|") != "Hello.<|im_end|>\n|4<|im_end|>\n" {
		t.Errorf("loss on %q; want both assistant turns with their end-of-turn, nothing else", learned)
	}
	if ex.PromptLen != strings.Index(full, "Hello.") {
		t.Errorf("PromptLen = %d, want the first assistant token %d", ex.PromptLen, strings.Index(full, "Hello."))
	}
	prompt, err := c.EncodePrompt(tok, s)
	if err != nil || string(decodeBytes(prompt)) != want {
		t.Errorf("EncodePrompt = %q, %v", decodeBytes(prompt), err)
	}
	// A single turn needs no mask: PromptLen alone says where the loss starts.
	one, err := c.Encode(tok, Sample{ID: "s2", Prompt: "a", Response: "b"})
	if err != nil || one.Loss != nil || string(decodeBytes(one.Tokens[one.PromptLen:])) != "b<|im_end|>\n" {
		t.Errorf("single turn: %+v, %v", one, err)
	}
}

func decodeBytes(ids []int32) []byte {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return b
}

func TestChatTemplateFallbackAndStop(t *testing.T) {
	tok := tokenizer.ByteLevel() // no chat template: the fallback, with <|bos|> and <|eos|>
	c, err := ChatTemplateFor(tok)
	if err != nil || c.Name != "fallback" {
		t.Fatalf("ChatTemplateFor = %v, %v", c, err)
	}
	got, err := c.Render([]Message{{"system", "S"}, {"user", "Q"}, {"assistant", "A"}}, true)
	want := "<|bos|>S\n\n### Instruction:\nQ\n\n### Response:\nA<|eos|>\n\n### Response:\n"
	if err != nil || got != want {
		t.Errorf("fallback Render = %q, %v\nwant %q", got, err, want)
	}
	stop, err := c.Stop(tok)
	if err != nil || len(stop) != 1 || stop[0] != tokenizer.ByteEOS {
		t.Errorf("Stop = %v, %v; want [EOS]", stop, err)
	}
	// Without BOS and EOS the fallback prints neither.
	bare, err := NewChatTemplate("fallback", FallbackChatTemplate, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := bare.Render([]Message{{"user", "Q"}, {"assistant", "A"}}, false); got != "### Instruction:\nQ\n\n### Response:\nA\n\n" {
		t.Errorf("bare fallback = %q", got)
	}
}

func TestChatTemplateErrors(t *testing.T) {
	if _, err := NewChatTemplate("broken", "{% for m in messages %}", nil); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("unclosed for: err = %v", err)
	}
	strict, err := NewChatTemplate("strict", `{% if messages[0].role != 'user' %}{{ raise_exception('first message must be the user') }}{% endif %}{{ messages[0].content }}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.Encode(tokenizer.ByteLevel(), Sample{ID: "x7", System: "sys", Prompt: "p", Response: "r"})
	if err == nil || !strings.Contains(err.Error(), "x7") || !strings.Contains(err.Error(), "first message must be the user") {
		t.Errorf("raise_exception: err = %v; want the sample and the template's message", err)
	}
	// A template that drops the reply leaves nothing to learn: an error, not an empty loss.
	mute, _ := NewChatTemplate("mute", `{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% endif %}{% endfor %}`, nil)
	if _, err := mute.Encode(tokenizer.ByteLevel(), Sample{ID: "m1", Prompt: "p", Response: "r"}); err == nil || !strings.Contains(err.Error(), "m1") {
		t.Errorf("mute template: err = %v", err)
	}
}

func TestDatasetEncodeWithChat(t *testing.T) {
	d, err := Load("testdata/chat.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewChatTemplate("chatml", chatML, nil)
	tok := tokenizer.ByteLevel()
	exs, err := d.Encode(tok, EncodeOptions{Chat: c})
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != len(d.Samples) {
		t.Fatalf("%d examples for %d samples", len(exs), len(d.Samples))
	}
	for i, ex := range exs {
		if got := string(decodeBytes(ex.Tokens[ex.PromptLen:])); !strings.HasPrefix(got, firstAssistant(d.Samples[i])) {
			t.Errorf("%s: loss starts at %q", ex.ID, got)
		}
	}
	// Truncation cuts the mask with the tokens.
	multi := &Dataset{Name: "multi", Samples: []Sample{d.Samples[1]}}
	cut, err := multi.Encode(tok, EncodeOptions{Chat: c, MaxLen: 80, Overflow: OverflowTruncate})
	if err != nil {
		t.Fatal(err)
	}
	if ex := cut[0]; len(ex.Tokens) != 80 || len(ex.Loss) != 80 {
		t.Errorf("%s: %d tokens and %d mask entries, want 80 of each", ex.ID, len(ex.Tokens), len(ex.Loss))
	}
}

func firstAssistant(s Sample) string {
	for _, m := range s.History {
		if m.Role == "assistant" {
			return m.Content
		}
	}
	return s.Response
}
