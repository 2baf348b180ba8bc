package data

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ordermerge/ordermerge/tokenizer"
)

// pinned holds each embedded dataset's train and test fingerprints. They change only when a
// generator changes on purpose; then every study run before is on different data, so update
// them deliberately (and say so in the commit).
var pinned = map[string][2]string{
	"strings":  {"acb01706961b7a363d3aefa7648da928a108f7ad393765fae212497f43094fa5", "47b2bef5aa9b249a65223f80c190691c627d0531a29c33e5079c3b5063c2703f"},
	"table":    {"e7f0d09ba51d80ad3475268b1eff31c496d6bec1506f2fb631e75db37e342ef6", "3531c3c415573ef839d7f942213834778774de52d137d52a51812f5b244edcc2"},
	"wordmath": {"473ea7ec372622a9e9c9e9847b0ca57bfbb3cc5d8b5744fca5a95778de7a7fb9", "73625063396101a29507e84bfb96de11b21e0ac6b560488c7627b13b41b02e35"},
	"arith":    {"ea6e7b04824e841a98f288343d39f1416ba9a3c35699f72011eeb44d234749e2", "96324edeafee0587813de62622f547516a218897992db41ec6f095ae068e34ba"},
	"code":     {"8364022706b9f16ffb1f2b66b59283ac00c523603ace349a4c4ae573794cc40f", "f3cd0e8fe84a8dc6c846af780f930bf7a40de0a1230f2067e92a0b20e62d7aa2"},
}

func TestEmbeddedPinned(t *testing.T) {
	for _, name := range EmbeddedNames() {
		task, err := Embedded(name)
		if err != nil {
			t.Fatal(err)
		}
		got := [2]string{task.Train.Fingerprint(), task.Test.Fingerprint()}
		if got != pinned[name] {
			t.Errorf("%s: fingerprints %q, pinned %q", name, got, pinned[name])
		}
	}
}

func TestEmbeddedSplits(t *testing.T) {
	tok := tokenizer.ByteLevel()
	for _, info := range EmbeddedList() {
		task, err := Embedded(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if task.Train.Len() != info.TrainSize || task.Test.Len() != info.TestSize || info.Description == "" {
			t.Errorf("%s: sizes %d/%d, info %+v", info.Name, task.Train.Len(), task.Test.Len(), info)
		}
		prompts := map[string]string{}
		ids := map[string]bool{}
		for _, d := range []*Dataset{task.Train, task.Test} {
			for _, s := range d.Samples {
				if prev, dup := prompts[s.Prompt]; dup {
					t.Fatalf("%s: prompt %q in %s and %s", info.Name, s.Prompt, prev, s.ID)
				}
				prompts[s.Prompt] = s.ID
				if ids[s.ID] {
					t.Fatalf("%s: duplicate ID %s", info.Name, s.ID)
				}
				ids[s.ID] = true
				// The reference answer must score as correct under the task's own metric.
				sc, err := ScoreSample(d.Metric, s, s.Response)
				if err != nil || !sc.Correct {
					t.Fatalf("%s: reference of %s scores %+v, %v", info.Name, s.ID, sc, err)
				}
			}
			// Every sample fits a 128-token context with the default template and tokenizer.
			if _, err := d.Encode(tok, EncodeOptions{MaxLen: 129}); err != nil {
				t.Errorf("%s: %v", info.Name, err)
			}
		}
	}
}

func TestEmbeddedDeterministicAndSeeded(t *testing.T) {
	a, err := EmbeddedWith("arith", 9, 50, 20)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := EmbeddedWith("arith", 9, 50, 20)
	c, _ := EmbeddedWith("arith", 10, 50, 20)
	if a.Train.Fingerprint() != b.Train.Fingerprint() {
		t.Error("same seed, different data")
	}
	if a.Train.Fingerprint() == c.Train.Fingerprint() {
		t.Error("different seeds, same data")
	}
	if _, err := Embedded("poetry"); err == nil {
		t.Error("unknown name accepted")
	}
	corpus, err := EmbeddedCorpus("table", 3, 300)
	if err != nil {
		t.Fatal(err)
	}
	task, _ := Embedded("table")
	seen := map[string]bool{}
	for _, d := range []*Dataset{task.Train, task.Test} {
		for _, s := range d.Samples {
			seen[s.Prompt] = true
		}
	}
	for _, s := range corpus.Samples {
		if seen[s.Prompt] {
			t.Fatalf("corpus sample %s repeats a pinned prompt %q", s.ID, s.Prompt)
		}
	}
	if corpus.Len() != 300 || corpus.Samples[0].ID != "table/corpus/0000" {
		t.Errorf("corpus: %d samples, first ID %s", corpus.Len(), corpus.Samples[0].ID)
	}
	mix, err := EmbeddedMixture(3, 40)
	if err != nil {
		t.Fatal(err)
	}
	if mix.Len() != 200 || mix.Samples[40].ID != "table/corpus/0000" || mix.Samples[40].Prompt != corpus.Samples[0].Prompt {
		t.Errorf("mixture: %d samples, sample 40 = %+v", mix.Len(), mix.Samples[40])
	}
}

var stepLine = regexp.MustCompile(`^(\d+)([-+*/])(\d+)=(\d+)$`)

// TestMathStepsAreRight checks every worked step of both math tasks by recomputing it, and
// that the final answer is the last step's result.
func TestMathStepsAreRight(t *testing.T) {
	for _, name := range []string{"wordmath", "arith"} {
		task, _ := Embedded(name)
		for _, s := range append(task.Train.Samples, task.Test.Samples...) {
			lines := strings.Split(s.Response, "\n")
			last := ""
			for _, l := range lines[:len(lines)-1] {
				m := stepLine.FindStringSubmatch(l)
				if m == nil {
					t.Fatalf("%s: step %q is not a=b op c", s.ID, l)
				}
				a, _ := strconv.Atoi(m[1])
				b, _ := strconv.Atoi(m[3])
				c, _ := strconv.Atoi(m[4])
				ok := false
				switch m[2] {
				case "+":
					ok = c == a+b
				case "-":
					ok = c == a-b
				case "*":
					ok = c == a*b
				case "/":
					ok = b != 0 && a%b == 0 && c == a/b
				}
				if !ok {
					t.Fatalf("%s: wrong step %q", s.ID, l)
				}
				last = m[4]
			}
			if lines[len(lines)-1] != "#### "+last {
				t.Fatalf("%s: final line %q, last step gave %s", s.ID, lines[len(lines)-1], last)
			}
		}
	}
}
