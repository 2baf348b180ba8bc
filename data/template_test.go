package data

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tokenizer"
)

func TestDefaultTemplateLayout(t *testing.T) {
	tok := tokenizer.ByteLevel()
	s := Sample{ID: "x", Prompt: "hi", Response: "yo"}
	ex, err := DefaultTemplate().Encode(tok, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{tokenizer.ByteBOS, tokenizer.ByteUser, 'h', 'i', tokenizer.ByteAssistant, 'y', 'o', tokenizer.ByteEOS}
	if !reflect.DeepEqual(ex.Tokens, want) || ex.PromptLen != 5 || ex.ID != "x" {
		t.Errorf("Encode = %+v, want tokens %v prompt 5", ex, want)
	}
	p, err := DefaultTemplate().EncodePrompt(tok, s)
	if err != nil || !reflect.DeepEqual(p, want[:5]) {
		t.Errorf("EncodePrompt = %v, %v", p, err)
	}
	stop, err := DefaultTemplate().Stop(tok)
	if err != nil || !reflect.DeepEqual(stop, []int32{tokenizer.ByteEOS}) {
		t.Errorf("Stop = %v, %v", stop, err)
	}
}

func TestTemplateChatAndText(t *testing.T) {
	tok := tokenizer.ByteLevel()
	s := Sample{ID: "c", System: "S", History: []Message{{"user", "u1"}, {"assistant", "a1"}}, Prompt: "u2", Response: "a2"}
	ex, err := DefaultTemplate().Encode(tok, s)
	if err != nil {
		t.Fatal(err)
	}
	got := tok.Decode(ex.Tokens)
	want := "<|bos|><|system|>S<|user|>u1<|assistant|>a1<|eos|><|user|>u2<|assistant|>a2<|eos|>"
	if got != want || tok.Decode(ex.Tokens[ex.PromptLen:]) != "a2<|eos|>" {
		t.Errorf("chat layout %q (response %q)", got, tok.Decode(ex.Tokens[ex.PromptLen:]))
	}
	alp, _ := TemplateByName("alpaca")
	ex, err = alp.Encode(tok, Sample{Prompt: "Do it.", Response: "Done."})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Decode(ex.Tokens); got != "<|bos|>### Instruction:\nDo it.\n\n### Response:\nDone.<|eos|>" {
		t.Errorf("alpaca layout %q", got)
	}
	// The Llama 3 template needs tokens the byte-level tokenizer lacks: a clear error.
	l3, _ := TemplateByName("llama3")
	if _, err := l3.Encode(tok, Sample{ID: "s1", Prompt: "a", Response: "b"}); err == nil || !strings.Contains(err.Error(), `no special token "<|begin_of_text|>"`) || !strings.Contains(err.Error(), "s1") {
		t.Errorf("llama3 with byte-level: err = %v", err)
	}
	if _, err := TemplateByName("chatml"); err == nil {
		t.Error("unknown template accepted")
	}
	bad := DefaultTemplate()
	bad.User = "{{user"
	if _, err := bad.Encode(tok, Sample{Prompt: "a"}); err == nil || !strings.Contains(err.Error(), "{{ without }}") {
		t.Errorf("unclosed marker: %v", err)
	}
}

func TestDatasetEncodeOverflow(t *testing.T) {
	tok := tokenizer.ByteLevel()
	d := &Dataset{Source: "mem", Samples: []Sample{
		{ID: "short", Prompt: "ab", Response: "cd"},      // 4 + 4 = 8 tokens
		{ID: "long", Prompt: "ab", Response: "cdefghij"}, // 4 + 10 = 14 tokens
	}}
	if _, err := d.Encode(tok, EncodeOptions{MaxLen: 10}); err == nil || !strings.Contains(err.Error(), "sample long is 14 tokens") {
		t.Errorf("error policy: %v", err)
	}
	exs, err := d.Encode(tok, EncodeOptions{MaxLen: 10, Overflow: OverflowSkip})
	if err != nil || len(exs) != 1 || exs[0].ID != "short" {
		t.Errorf("skip policy: %v %v", exs, err)
	}
	exs, err = d.Encode(tok, EncodeOptions{MaxLen: 10, Overflow: OverflowTruncate})
	if err != nil || len(exs) != 2 || len(exs[1].Tokens) != 10 || exs[1].PromptLen != 5 {
		t.Errorf("truncate policy: %v %v", exs, err)
	}
	if _, err := d.Encode(tok, EncodeOptions{MaxLen: 4, Overflow: OverflowTruncate}); err == nil {
		t.Error("truncate left no response token but did not fail")
	}
	exs, err = d.Encode(tok, EncodeOptions{LossOnPrompt: true})
	if err != nil || exs[0].PromptLen != 0 || len(exs[0].Tokens) != 8 {
		t.Errorf("LossOnPrompt: %v %v", exs, err)
	}
	if _, err := d.Encode(tok, EncodeOptions{Overflow: "drop"}); err == nil {
		t.Error("unknown policy accepted")
	}
}
