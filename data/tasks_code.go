package data

import (
	"strconv"
	"strings"

	"github.com/ordermerge/ordermerge/data/pipe"
)

// A code-task stage: the words describing it and the pipe code doing it.
type codeStage struct{ words, code string }

func listStage(r *rng) codeStage {
	k := r.between(1, 9)
	ks := strconv.Itoa(k)
	switch r.intn(11) {
	case 0:
		m := strconv.Itoa(r.between(2, 5))
		return codeStage{[]string{"multiply each number by " + m, "times each number by " + m}[r.intn(2)], "map x*" + m}
	case 1:
		return codeStage{"add " + ks + " to each number", "map x+" + ks}
	case 2:
		return codeStage{"subtract " + ks + " from each number", "map x-" + ks}
	case 3:
		return codeStage{"square each number", "map x*x"}
	case 4:
		return codeStage{[]string{"keep the numbers above " + ks, "keep those greater than " + ks}[r.intn(2)], "filter x>" + ks}
	case 5:
		return codeStage{"keep the numbers below " + ks, "filter x<" + ks}
	case 6:
		return codeStage{"keep the even numbers", "filter x%2==0"}
	case 7:
		return codeStage{"keep the odd numbers", "filter x%2==1"}
	case 8:
		return codeStage{"sort the numbers", "sort"}
	case 9:
		return codeStage{"reverse the list", "rev"}
	default:
		n := strconv.Itoa(r.between(1, 4))
		if r.intn(2) == 0 {
			return codeStage{"keep the first " + n, "take " + n}
		}
		return codeStage{"drop the first " + n, "drop " + n}
	}
}

var reducers = []codeStage{
	{"add them up", "sum"}, {"return the sum", "sum"}, {"return the largest", "max"},
	{"return the smallest", "min"}, {"count them", "len"}, {"return the first", "first"},
	{"return the last", "last"},
}

// genCode draws a program of one or two list stages and usually a reducer, describes it in
// words, and makes four hidden tests by running it on random lists. Programs that fail on the
// drawn inputs (max of an empty list) or give one answer for every input (so the tests could
// not tell a wrong program from it) are drawn again.
func genCode(r *rng) Sample {
	for {
		stages := []codeStage{listStage(r)}
		if r.intn(2) == 0 {
			second := listStage(r)
			if strings.Fields(second.code)[0] == strings.Fields(stages[0].code)[0] {
				continue // "sort, then sort" and the like say nothing new
			}
			stages = append(stages, second)
		}
		if r.intn(5) != 0 {
			stages = append(stages, reducers[r.intn(len(reducers))])
		}
		words := make([]string, len(stages))
		codes := make([]string, len(stages))
		for i, s := range stages {
			words[i], codes[i] = s.words, s.code
		}
		desc := strings.Join(words, ", ")
		if len(words) > 1 {
			desc = strings.Join(words[:len(words)-1], ", ") + ", then " + words[len(words)-1]
		}
		program := strings.Join(codes, " | ")
		prog, err := pipe.Parse(program)
		if err != nil {
			continue // cannot happen for the stages above; a test parses every generated program
		}
		tests, ok := codeTests(r, prog)
		if !ok {
			continue
		}
		return Sample{Prompt: "Program: " + strings.ToUpper(desc[:1]) + desc[1:] + ".", Response: program, Tests: tests}
	}
}

func codeTests(r *rng, prog *pipe.Program) ([]Case, bool) {
	var tests []Case
	distinct := map[string]bool{}
	for tries := 0; len(tests) < 4; tries++ {
		if tries > 20 {
			return nil, false
		}
		in := make([]int64, r.between(4, 7))
		for i := range in {
			in[i] = int64(r.between(0, 9))
		}
		out, err := prog.Run(in)
		if err != nil {
			continue
		}
		tests = append(tests, Case{Input: pipe.FormatList(in), Output: out})
		distinct[out] = true
	}
	return tests, len(distinct) > 1
}
