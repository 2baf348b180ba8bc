package data_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ordermerge/ordermerge/data"
	"github.com/ordermerge/ordermerge/tokenizer"
)

func ExampleLoad() {
	d, err := data.Load("testdata/gsm8k.jsonl")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Format, d.Metric, d.Len(), d.Samples[0].ID)
	// Output: gsm8k final-answer 3 gsm8k.jsonl:1
}

func ExampleLoadWith() {
	d, err := data.LoadWith("testdata/alpaca.json", data.LoadOptions{Format: data.FormatAlpaca, SkipBad: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %q -> %q\n", d.Samples[2].ID, d.Samples[2].Prompt, d.Samples[2].Response)
	// Output: alpaca.json:12 "Classify the number as even or odd.\n\n17" -> "Odd"
}

func ExampleEmbeddedList() {
	for _, t := range data.EmbeddedList() {
		fmt.Println(t.Name, t.Kind, t.Metric, t.TrainSize, t.TestSize)
	}
	// Output:
	// strings instruction exact-match 800 200
	// table instruction exact-match 800 200
	// wordmath math final-answer 800 200
	// arith math final-answer 800 200
	// code code pass@1 800 200
}

func ExampleEmbedded() {
	task, err := data.Embedded("arith")
	if err != nil {
		fmt.Println(err)
		return
	}
	s := task.Test.Samples[0]
	fmt.Println(task.Metric, task.Train.Len(), task.Test.Len(), s.ID)
	sc, _ := data.ScoreSample(task.Metric, s, s.Response)
	fmt.Println(sc.Correct)
	// Output:
	// final-answer 800 200 arith/test/0000
	// true
}

func ExampleDataset_Encode() {
	d := &data.Dataset{Source: "example", Samples: []data.Sample{{ID: "a", Prompt: "Uppercase kobu.", Response: "KOBU"}}}
	tok := tokenizer.ByteLevel()
	exs, err := d.Encode(tok, data.EncodeOptions{MaxLen: 129})
	if err != nil {
		fmt.Println(err)
		return
	}
	ex := exs[0]
	fmt.Printf("%d tokens, loss on %q\n", len(ex.Tokens), tok.Decode(ex.Tokens[ex.PromptLen:]))
	// Output: 23 tokens, loss on "KOBU<|eos|>"
}

func ExampleScoreSample() {
	s := data.Sample{ID: "c", Response: "map x*2 | sum", Tests: []data.Case{{Input: "[1 2 3]", Output: "12"}, {Input: "[5]", Output: "10"}}}
	// A different program that computes the same thing passes.
	sc, _ := data.ScoreSample(data.MetricPassAt1, s, "map x+x | sum")
	fmt.Println(sc.Correct, sc.Passed, sc.Total)
	sc, _ = data.ScoreSample(data.MetricFinalAnswer, data.Sample{Response: "2+2=4\n#### 4"}, "I think\n#### 4.0")
	fmt.Println(sc.Correct, sc.Got)
	// Output:
	// true 2 2
	// true 4.0
}

func ExampleOpen() {
	// The command line's way of naming data: an embedded dataset and split, or a file.
	test, err := data.Open("embedded:code", "test")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(test.Source, test.Split, test.Metric, len(test.Samples[0].Tests), "hidden tests")
	chat, err := data.Open("testdata/chat.jsonl", "")
	fmt.Println(chat.Format, chat.Len(), err)
	// Output:
	// embedded:code test pass@1 4 hidden tests
	// chat 3 <nil>
}

func ExampleTemplateByName() {
	tmpl, _ := data.TemplateByName("alpaca")
	tok := tokenizer.ByteLevel()
	ids, err := tmpl.EncodePrompt(tok, data.Sample{Prompt: "Name a prime."})
	fmt.Printf("%q %v\n", tok.Decode(ids), err)
	// Output: "<|bos|>### Instruction:\nName a prime.\n\n### Response:\n" <nil>
}

func ExampleEmbeddedMixture() {
	// Pre-training material for a base: fresh samples of all five tasks, loss on every token.
	mix, err := data.EmbeddedMixture(7, 100)
	if err != nil {
		fmt.Println(err)
		return
	}
	exs, err := mix.Encode(tokenizer.ByteLevel(), data.EncodeOptions{MaxLen: 129, LossOnPrompt: true})
	fmt.Println(mix.Len(), len(exs), exs[0].PromptLen, err)
	// Output: 500 500 0 <nil>
}

func ExampleNewChatTemplate() {
	// A model's tokenizer_config.json holds its chat template; data.ChatTemplateFor(tok) reads
	// it from a loaded tokenizer. Here a short ChatML template stands in.
	tmpl, err := data.NewChatTemplate("chatml",
		`{% for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}{% endfor %}`+
			`{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := data.Sample{ID: "q1", Prompt: "2+2?", Response: "4"}
	text, _ := tmpl.Render(s.Messages(true), false)
	fmt.Printf("%q\n", text)
	ex, _ := tmpl.Encode(tokenizer.ByteLevel(), s)
	fmt.Printf("loss on %q\n", tokenizer.ByteLevel().Decode(ex.Tokens[ex.PromptLen:]))
	// Output:
	// "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
	// loss on "4<|im_end|>\n"
}

// LoadContext reads a dataset as a stream and gives up when ctx is cancelled: a notebook
// interrupt, or a named pipe whose writer never comes.
func ExampleLoadContext() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := data.LoadContext(ctx, "testdata/chat.jsonl", data.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Format, d.Len(), d.Samples[1].ID)
	// Output: chat 3 chat.jsonl:2
}
