package data

import (
	"fmt"
	"strings"
)

// The kinds of task, as the paper groups its datasets.
const (
	KindInstruction = "instruction"
	KindMath        = "math"
	KindCode        = "code"
)

// Task is an embedded dataset: train and test splits generated from one seed, with no prompt
// in both.
type Task struct {
	Name        string
	Kind        string
	Metric      string
	Description string
	Seed        int64
	Train       *Dataset
	Test        *Dataset
}

// TaskInfo describes an embedded dataset without generating it.
type TaskInfo struct {
	Name        string
	Kind        string
	Metric      string
	Description string
	Seed        int64
	TrainSize   int
	TestSize    int
}

// generator draws one sample (Prompt, Response and, for code, Tests) from r.
type generator func(r *rng) Sample

type taskSpec struct {
	info TaskInfo
	gen  generator
}

// specs lists the embedded datasets. Sizes: several hundred training samples so that the
// per-position imbalance statistics have enough points, a test split big enough that one
// sample moves accuracy by half a point, and texts short enough (prompt and response well
// under 120 bytes) for a 128-token context with the byte-level tokenizer.
func specs() []taskSpec {
	return []taskSpec{
		{TaskInfo{Name: "strings", Kind: KindInstruction, Metric: MetricExactMatch, Seed: 101, TrainSize: 800, TestSize: 200,
			Description: "String transformations described in words (reverse, capitalise, drop vowels, sort letters, ...) applied to made-up words; tests following an instruction exactly."}, genStrings},
		{TaskInfo{Name: "table", Kind: KindInstruction, Metric: MetricExactMatch, Seed: 202, TrainSize: 800, TestSize: 200,
			Description: "Questions answered from a small table given in the prompt (look up, reverse look up, largest, smallest, compare); tests reading the context rather than recalling."}, genTable},
		{TaskInfo{Name: "wordmath", Kind: KindMath, Metric: MetricFinalAnswer, Seed: 303, TrainSize: 800, TestSize: 200,
			Description: "Two-step word problems in GSM8K's style, answered with worked steps and a final '#### N'; tests multi-step reasoning in text."}, genWordMath},
		{TaskInfo{Name: "arith", Kind: KindMath, Metric: MetricFinalAnswer, Seed: 404, TrainSize: 800, TestSize: 200,
			Description: "Multi-operation arithmetic (+, -, *, brackets) on small numbers, answered step by step in the order of operations, ending '#### N'."}, genArith},
		{TaskInfo{Name: "code", Kind: KindCode, Metric: MetricPassAt1, Seed: 505, TrainSize: 800, TestSize: 200,
			Description: "Write a program in the tiny pipeline language (package pipe) from a description in words; scored pass@1 by running it on hidden inputs."}, genCode},
	}
}

// EmbeddedNames lists the embedded datasets, usable as "embedded:NAME" wherever a dataset is
// named.
func EmbeddedNames() []string {
	var names []string
	for _, s := range specs() {
		names = append(names, s.info.Name)
	}
	return names
}

// EmbeddedList describes every embedded dataset.
func EmbeddedList() []TaskInfo {
	var out []TaskInfo
	for _, s := range specs() {
		out = append(out, s.info)
	}
	return out
}

func findSpec(name string) (taskSpec, error) {
	for _, s := range specs() {
		if s.info.Name == name {
			return s, nil
		}
	}
	return taskSpec{}, fmt.Errorf("no embedded dataset %q (have %s)", name, strings.Join(EmbeddedNames(), ", "))
}

// Embedded generates the embedded dataset name with its pinned seed and sizes. The result is
// identical on every run and machine (a test pins its fingerprint). Sample IDs are
// "NAME/SPLIT/NNNN", numbered from 0 in generation order.
func Embedded(name string) (*Task, error) {
	s, err := findSpec(name)
	if err != nil {
		return nil, err
	}
	return EmbeddedWith(name, s.info.Seed, s.info.TrainSize, s.info.TestSize)
}

// EmbeddedWith generates an embedded dataset with another seed or other sizes. The test split
// is drawn first, then the train split from the same stream, skipping any prompt already drawn,
// so the splits never share a prompt and no split repeats one.
func EmbeddedWith(name string, seed int64, trainSize, testSize int) (*Task, error) {
	s, err := findSpec(name)
	if err != nil {
		return nil, err
	}
	if trainSize < 0 || testSize < 0 {
		return nil, fmt.Errorf("embedded %s: negative split size", name)
	}
	r := newRNG(seed)
	seen := map[string]bool{}
	test, err := draw(s, r, seen, testSize)
	if err != nil {
		return nil, err
	}
	train, err := draw(s, r, seen, trainSize)
	if err != nil {
		return nil, err
	}
	t := &Task{Name: name, Kind: s.info.Kind, Metric: s.info.Metric, Description: s.info.Description, Seed: seed}
	t.Train = s.dataset("train", train)
	t.Test = s.dataset("test", test)
	return t, nil
}

// EmbeddedCorpus draws n further samples of an embedded task from seed, none of whose prompts
// is in the pinned train or test split: material for pre-training a base model on the task
// family without showing it the fine-tuning or evaluation samples. IDs are
// "NAME/corpus/NNNN".
func EmbeddedCorpus(name string, seed int64, n int) (*Dataset, error) {
	s, err := findSpec(name)
	if err != nil {
		return nil, err
	}
	pinned, err := Embedded(name)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, d := range []*Dataset{pinned.Train, pinned.Test} {
		for _, smp := range d.Samples {
			seen[smp.Prompt] = true
		}
	}
	samples, err := draw(s, newRNG(seed), seen, n)
	if err != nil {
		return nil, err
	}
	return s.dataset("corpus", samples), nil
}

// EmbeddedMixture concatenates EmbeddedCorpus(name, seed, perTask) of every embedded task, in
// EmbeddedNames order: the pre-training material for a base model on the whole task family,
// as the calibration (data/calibrate) used it with perTask 4000, encoded with
// EncodeOptions.LossOnPrompt and shuffled by the trainer. It has no single metric (Metric is
// empty): it is for training, not evaluation.
func EmbeddedMixture(seed int64, perTask int) (*Dataset, error) {
	mix := &Dataset{
		Name:        "mixture",
		Source:      "embedded:mixture",
		Format:      "embedded",
		Split:       "corpus",
		Description: "Fresh samples of every embedded task (none in a pinned train or test split), for pre-training a base.",
	}
	for _, name := range EmbeddedNames() {
		c, err := EmbeddedCorpus(name, seed, perTask)
		if err != nil {
			return nil, err
		}
		mix.Samples = append(mix.Samples, c.Samples...)
	}
	return mix, nil
}

// draw generates n samples with prompts not in seen, adding them to seen.
func draw(s taskSpec, r *rng, seen map[string]bool, n int) ([]Sample, error) {
	out := make([]Sample, 0, n)
	for tries := 0; len(out) < n; tries++ {
		if tries > 50*n+1000 {
			return nil, fmt.Errorf("embedded %s: only %d distinct samples after %d draws; the task is too small for %d", s.info.Name, len(out), tries, n)
		}
		smp := s.gen(r)
		if seen[smp.Prompt] {
			continue
		}
		seen[smp.Prompt] = true
		out = append(out, smp)
	}
	return out, nil
}

func (s taskSpec) dataset(split string, samples []Sample) *Dataset {
	for i := range samples {
		samples[i].ID = fmt.Sprintf("%s/%s/%04d", s.info.Name, split, i)
	}
	return &Dataset{
		Name:        s.info.Name,
		Source:      "embedded:" + s.info.Name,
		Format:      "embedded",
		Split:       split,
		Metric:      s.info.Metric,
		Description: s.info.Description,
		Samples:     samples,
	}
}
