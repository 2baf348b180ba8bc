package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadPublishedLayouts(t *testing.T) {
	cases := []struct {
		file, format, metric string
		n                    int
		first                Sample
	}{
		{"alpaca.json", FormatAlpaca, MetricExactMatch, 3, Sample{ID: "alpaca.json:2",
			Prompt:   "Give three tips for keeping a houseplant alive.",
			Response: "1. Water it when the top of the soil is dry.\n2. Put it where it gets bright, indirect light.\n3. Repot it when the roots fill the pot."}},
		{"alpaca.jsonl", FormatAlpaca, MetricExactMatch, 3, Sample{ID: "alpaca.jsonl:1",
			Prompt: "Name the largest planet in the solar system.", Response: "Jupiter"}},
		{"gsm8k.jsonl", FormatGSM8K, MetricFinalAnswer, 3, Sample{ID: "gsm8k.jsonl:1",
			Prompt:   "Mia picked 36 apples. She gave a third of them to her neighbour and then picked 9 more. How many apples does Mia have now?",
			Response: "Mia gave away 36 / 3 = <<36/3=12>>12 apples.\nShe had 36 - 12 = <<36-12=24>>24 apples left.\nAfter picking more she has 24 + 9 = <<24+9=33>>33 apples.\n#### 33"}},
		{"chat.jsonl", FormatChat, MetricExactMatch, 3, Sample{ID: "chat.jsonl:1",
			System: "You are a terse assistant.", Prompt: "What is the capital of Italy?", Response: "Rome."}},
		{"prompt_completion.jsonl", FormatPromptCompletion, MetricExactMatch, 3, Sample{ID: "prompt_completion.jsonl:1",
			Prompt: "The opposite of hot is", Response: " cold"}},
	}
	for _, c := range cases {
		d, err := Load(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if d.Format != c.format || d.Metric != c.metric || d.Len() != c.n {
			t.Errorf("%s: format %q metric %q len %d; want %q %q %d", c.file, d.Format, d.Metric, d.Len(), c.format, c.metric, c.n)
		}
		if !reflect.DeepEqual(d.Samples[0], c.first) {
			t.Errorf("%s: first sample\n got %+v\nwant %+v", c.file, d.Samples[0], c.first)
		}
	}
}

func TestLoadDetails(t *testing.T) {
	// Alpaca input joins the instruction after a blank line; array IDs give the line the
	// element starts on.
	d, err := Load("testdata/alpaca.json")
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Samples[1]; s.ID != "alpaca.json:7" || s.Prompt != "Translate the sentence into French.\n\nThe cat is asleep on the chair." {
		t.Errorf("second alpaca sample = %+v", s)
	}
	// Blank lines in JSONL are skipped but still counted for IDs.
	d, err = Load("testdata/alpaca.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Samples[2].ID; got != "alpaca.jsonl:4" {
		t.Errorf("third JSONL ID = %s, want alpaca.jsonl:4", got)
	}
	// A chat with earlier turns keeps them as History.
	d, err = Load("testdata/chat.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{ID: "chat.jsonl:2", History: []Message{{"user", "Pick a colour."}, {"assistant", "Blue."}}, Prompt: "Another one?", Response: "Green."}
	if !reflect.DeepEqual(d.Samples[1], want) {
		t.Errorf("multi-turn chat = %+v, want %+v", d.Samples[1], want)
	}
	// GSM8K final answers with thousands separators compare as numbers.
	d, err = Load("testdata/gsm8k.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if sc, _ := ScoreSample(d.Metric, d.Samples[2], "so 5000 in all\n#### 5000"); !sc.Correct {
		t.Errorf("5000 vs '#### 5,000' not equal: %+v", sc)
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadRejectsBrokenRecords(t *testing.T) {
	good := `{"question": "1+1?", "answer": "1+1=2\n#### 2"}` + "\n"
	cases := []struct {
		name, content, errHas string
	}{
		{"bad-json", good + "{\"question\": \"x\", \n", `bad-json.jsonl:2: not a JSON object`},
		{"missing", good + good + `{"question": "2+2?"}` + "\n", `missing.jsonl:3: missing field answer`},
		{"no-final", good + `{"question": "2+2?", "answer": "four"}` + "\n", `no-final.jsonl:2: field answer has no '#### N'`},
		{"wrong-type", good + `{"question": 5, "answer": "#### 5"}` + "\n", `wrong-type.jsonl:2: field question: want a string, got 5`},
		{"unknown", `{"text": "hello"}` + "\n", `unknown.jsonl:1: cannot tell the format from fields [text]`},
		{"chat-end", `{"messages": [{"role": "user", "content": "hi"}]}` + "\n", `chat-end.jsonl:1: messages: must end with a user message`},
		{"chat-role", `{"messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}`, `chat-role.jsonl:1: messages[0]: role "tool"`},
		{"empty", "\n\n", "no samples"},
	}
	for _, c := range cases {
		_, err := Load(writeTemp(t, c.name+".jsonl", c.content))
		if err == nil || !strings.Contains(err.Error(), c.errHas) {
			t.Errorf("%s: err = %v; want it to contain %q", c.name, err, c.errHas)
		}
	}
	// A syntax error inside a JSON array names the line it is on.
	arr := "[\n  {\"prompt\": \"a\", \"completion\": \"b\"},\n  {\"prompt\": \"c\" \"completion\": \"d\"}\n]\n"
	_, err := Load(writeTemp(t, "arr.json", arr))
	if err == nil || !strings.Contains(err.Error(), "arr.json:3:") {
		t.Errorf("array syntax error: %v; want arr.json:3", err)
	}
}

func TestLoadSkipBad(t *testing.T) {
	content := strings.Join([]string{
		`{"prompt": "a", "completion": "b"}`,
		`{"prompt": "c"}`,
		`not json`,
		`{"prompt": "e", "completion": "f"}`,
	}, "\n")
	p := writeTemp(t, "mixed.jsonl", content)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "mixed.jsonl:2") {
		t.Fatalf("without SkipBad: err = %v, want mixed.jsonl:2", err)
	}
	d, err := LoadWith(p, LoadOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 2 || d.Skipped != 2 || d.Samples[1].ID != "mixed.jsonl:4" || len(d.Problems) != 2 || !strings.Contains(d.Problems[1], "mixed.jsonl:3") {
		t.Errorf("SkipBad: len %d skipped %d problems %q ids %s", d.Len(), d.Skipped, d.Problems, d.Samples[len(d.Samples)-1].ID)
	}
	// An explicit format is enforced on every record, the first included.
	if _, err := LoadWith("testdata/gsm8k.jsonl", LoadOptions{Format: FormatAlpaca}); err == nil || !strings.Contains(err.Error(), "gsm8k.jsonl:1: missing field instruction") {
		t.Errorf("explicit format: err = %v", err)
	}
	if _, err := LoadWith("testdata/gsm8k.jsonl", LoadOptions{Format: "csv"}); err == nil {
		t.Error("unknown format accepted")
	}
	d, err = LoadWith("testdata/alpaca.jsonl", LoadOptions{Metric: MetricFinalAnswer, Split: "test"})
	if err != nil || d.Metric != MetricFinalAnswer || d.Split != "test" {
		t.Errorf("metric override: %v %+v", err, d)
	}
}

func TestOpen(t *testing.T) {
	d, err := Open("embedded:arith", "test")
	if err != nil || d.Split != "test" || d.Source != "embedded:arith" {
		t.Fatalf("Open embedded: %v %+v", err, d)
	}
	if _, err := Open("embedded:nope", ""); err == nil || !strings.Contains(err.Error(), "have strings, table") {
		t.Errorf("unknown embedded name: %v", err)
	}
	if _, err := Open("embedded:arith", "dev"); err == nil {
		t.Error("unknown split accepted")
	}
	if d, err := Open("testdata/chat.jsonl", "train"); err != nil || d.Format != FormatChat {
		t.Errorf("Open file: %v", err)
	}
}

// FuzzLoad feeds arbitrary file contents to the loader: it must return samples or an error
// naming the file, never panic.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"alpaca.json", "alpaca.jsonl", "gsm8k.jsonl", "chat.jsonl", "prompt_completion.jsonl"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, false)
	}
	f.Add([]byte("[{\"messages\": [{\"role\": \"user\"}]}, 3]"), true)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte, skipBad bool) {
		p := filepath.Join(dir, "in.jsonl")
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := LoadWith(p, LoadOptions{SkipBad: skipBad})
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, s := range d.Samples {
			if !strings.HasPrefix(s.ID, "in.jsonl:") {
				t.Fatalf("bad ID %q", s.ID)
			}
		}
	})
}
