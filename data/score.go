package data

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/ordermerge/ordermerge/data/pipe"
)

// Score is the verdict on one generation.
type Score struct {
	// Correct is the metric's verdict; accuracy is the share of correct samples.
	Correct bool
	// Got and Want are what was compared: normalised answers, final numbers, or for code the
	// program's output and the expected output on the first failing test.
	Got, Want string
	// Passed and Total count hidden tests (pass@1 only).
	Passed, Total int
	// Reason says why a generation failed when that is not a plain mismatch: no "####"
	// answer, a program that does not parse, a runtime error.
	Reason string
}

// ScoreSample scores generated, the text a model produced for s (decoded, without the
// template's stop token), under metric. The error is for the caller's mistakes only (an
// unknown metric, a sample without a reference); a bad generation is an incorrect Score.
func ScoreSample(metric string, s Sample, generated string) (Score, error) {
	switch metric {
	case MetricExactMatch:
		got, want := Normalize(generated), Normalize(s.Response)
		return Score{Correct: got == want, Got: got, Want: want}, nil
	case MetricFinalAnswer:
		want, ok := FinalAnswer(s.Response)
		if !ok {
			return Score{}, fmt.Errorf("sample %s: the reference has no '#### N' final answer", s.ID)
		}
		got, ok := FinalAnswer(generated)
		if !ok {
			return Score{Want: want, Reason: "no '####' final answer"}, nil
		}
		return Score{Correct: sameNumber(got, want), Got: got, Want: want}, nil
	case MetricPassAt1:
		if len(s.Tests) == 0 {
			return Score{}, fmt.Errorf("sample %s: no hidden tests to run", s.ID)
		}
		return passAt1(s, generated), nil
	}
	return Score{}, fmt.Errorf("unknown metric %q (want %s, %s or %s)", metric, MetricExactMatch, MetricFinalAnswer, MetricPassAt1)
}

// Accuracy is the share of correct scores (0 for none).
func Accuracy(scores []Score) float64 {
	if len(scores) == 0 {
		return 0
	}
	n := 0
	for _, s := range scores {
		if s.Correct {
			n++
		}
	}
	return float64(n) / float64(len(scores))
}

// Normalize is the normalisation of the exact-match metric: leading and trailing whitespace
// removed and every inner run of whitespace made one space. Case and punctuation are kept,
// because the instruction tasks test them ("write X in capital letters").
func Normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// FinalAnswer extracts the answer after the last "####" (GSM8K's convention): the first word
// after it, without thousands separators, a leading "$" or a trailing ".". ok is false when
// there is no "####" or nothing after it.
func FinalAnswer(s string) (string, bool) {
	i := strings.LastIndex(s, "####")
	if i < 0 {
		return "", false
	}
	f := strings.Fields(s[i+4:])
	if len(f) == 0 {
		return "", false
	}
	a := strings.TrimPrefix(strings.ReplaceAll(f[0], ",", ""), "$")
	a = strings.TrimSuffix(a, ".")
	return a, a != ""
}

// sameNumber compares two final answers as exact rational numbers when both parse ("18" equals
// "18.0"), as text otherwise.
func sameNumber(a, b string) bool {
	x, okX := new(big.Rat).SetString(a)
	y, okY := new(big.Rat).SetString(b)
	if okX && okY {
		return x.Cmp(y) == 0
	}
	return a == b
}

// passAt1 runs the generated program on every hidden test; it is correct when all pass. A
// markdown code fence around the program is tolerated.
func passAt1(s Sample, generated string) Score {
	program := strings.TrimSpace(generated)
	if strings.HasPrefix(program, "```") {
		program = strings.TrimPrefix(program, "```")
		if nl := strings.IndexByte(program, '\n'); nl >= 0 {
			program = program[nl+1:]
		}
		program = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(program), "```"))
	}
	sc := Score{Total: len(s.Tests)}
	prog, err := pipe.Parse(program)
	if err != nil {
		sc.Reason = err.Error()
		return sc
	}
	for _, c := range s.Tests {
		in, err := pipe.ParseList(c.Input)
		if err != nil {
			sc.Reason = fmt.Sprintf("sample %s: hidden input: %v", s.ID, err)
			return sc
		}
		out, err := prog.Run(in)
		if err == nil && out == c.Output {
			sc.Passed++
			continue
		}
		if sc.Want == "" { // describe the first failing test only
			sc.Got, sc.Want = out, c.Output
			if err != nil {
				sc.Reason = err.Error()
			}
		}
	}
	sc.Correct = sc.Passed == sc.Total
	return sc
}
