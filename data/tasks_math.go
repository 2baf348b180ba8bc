package data

import (
	"fmt"
	"strconv"
	"strings"
)

var things = []string{"pens", "cards", "eggs", "books", "shells", "stamps", "cups", "balls", "beads", "figs", "nuts", "rocks"}

// step writes one worked step the way the answers show arithmetic: "3*4=12".
func step(a int, op byte, b, c int) string {
	return strconv.Itoa(a) + string(op) + strconv.Itoa(b) + "=" + strconv.Itoa(c)
}

func worked(steps []string, answer int) string {
	return strings.Join(steps, "\n") + "\n#### " + strconv.Itoa(answer)
}

// wordProblems are the story templates of the wordmath task, each two or three steps. The
// numbers are small (products of numbers up to 6, results up to 50) so that the arithmetic
// facts involved are few: a model of a few million parameters learns the reasoning format
// quickly, and the facts are what it learns slowly.
var wordProblems = []func(r *rng, n, m, it string) (string, string){
	func(r *rng, n, _, it string) (string, string) {
		a, b, c := r.between(2, 9), r.between(2, 4), r.between(2, 5)
		p := b * c
		return fmt.Sprintf("%s has %d %s and buys %d packs of %d. How many %s does %s have?", n, a, it, b, c, it, n),
			worked([]string{step(b, '*', c, p), step(a, '+', p, a+p)}, a+p)
	},
	func(r *rng, n, _, it string) (string, string) {
		a := r.between(10, 30)
		b := r.between(1, a-2)
		if (a-b)%2 == 1 {
			b++
		}
		return fmt.Sprintf("%s had %d %s, used %d, then gave away half of the rest. How many are left?", n, a, it, b),
			worked([]string{step(a, '-', b, a-b), step(a-b, '/', 2, (a-b)/2)}, (a-b)/2)
	},
	func(r *rng, n, _, it string) (string, string) {
		a, b := r.between(2, 6), r.between(2, 5)
		c := r.between(1, a*b-1)
		return fmt.Sprintf("A box holds %d %s. %s has %d boxes and loses %d %s. How many are left?", a, it, n, b, c, it),
			worked([]string{step(a, '*', b, a*b), step(a*b, '-', c, a*b-c)}, a*b-c)
	},
	func(r *rng, n, _, _ string) (string, string) {
		a, b := r.between(2, 6), r.between(2, 5)
		c := r.between(1, a*b-1)
		return fmt.Sprintf("%s earns %d dollars a day for %d days and spends %d. How much is left?", n, a, b, c),
			worked([]string{step(a, '*', b, a*b), step(a*b, '-', c, a*b-c)}, a*b-c)
	},
	func(r *rng, n, _, _ string) (string, string) {
		a, c := r.between(2, 5), r.between(2, 4)
		b := r.between(a*c+1, 40)
		return fmt.Sprintf("%s reads %d pages a day of a %d-page book. How many pages are left after %d days?", n, a, b, c),
			worked([]string{step(a, '*', c, a*c), step(b, '-', a*c, b-a*c)}, b-a*c)
	},
	func(r *rng, n, m, it string) (string, string) {
		a, b := r.between(2, 15), r.between(1, 9)
		return fmt.Sprintf("%s has %d %s. %s has %d more than %s. How many do they have together?", n, a, it, m, b, n),
			worked([]string{step(a, '+', b, a+b), step(a, '+', a+b, 2*a+b)}, 2*a+b)
	},
	func(r *rng, n, _, it string) (string, string) {
		a, b := r.between(2, 5), r.between(2, 5)
		c := []int{20, 30, 50}[r.intn(3)]
		for c <= a*b {
			c *= 2
		}
		return fmt.Sprintf("%s buys %d %s at %d dollars each and pays %d dollars. What is the change?", n, a, it, b, c),
			worked([]string{step(a, '*', b, a*b), step(c, '-', a*b, c-a*b)}, c-a*b)
	},
	func(r *rng, n, _, it string) (string, string) {
		c, e := r.between(2, 4), r.between(2, 6)
		s := c * e
		a := r.between(1, s-1)
		return fmt.Sprintf("%s has %d %s, gets %d more, and splits them among %d friends. How many each?", n, a, it, s-a, c),
			worked([]string{step(a, '+', s-a, s), step(s, '/', c, e)}, e)
	},
	func(r *rng, n, _, it string) (string, string) {
		a, b := r.between(2, 4), r.between(2, 5)
		c := r.between(1, a*b-1)
		d := r.between(1, 9)
		return fmt.Sprintf("%s buys %d bags of %d %s, loses %d, then buys %d more. How many %s now?", n, a, b, it, c, d, it),
			worked([]string{step(a, '*', b, a*b), step(a*b, '-', c, a*b-c), step(a*b-c, '+', d, a*b-c+d)}, a*b-c+d)
	},
}

func genWordMath(r *rng) Sample {
	n := r.pick(people)
	m := r.pick(people)
	for m == n {
		m = r.pick(people)
	}
	q, a := wordProblems[r.intn(len(wordProblems))](r, n, m, r.pick(things))
	return Sample{Prompt: q, Response: a}
}

// genArith writes an expression of three single-digit numbers joined by +, - and * (a
// quarter of them with four numbers, a quarter with one bracketed pair; factors at most 5)
// and works it out in the order of operations: the bracket, then products left to right,
// then sums and differences left to right. Draws with a negative or above-50 intermediate
// result are redrawn, so every step is one of a few hundred small facts a tiny model can
// learn.
func genArith(r *rng) Sample {
	for {
		k := 2 // operators
		if r.intn(4) == 0 {
			k = 3
		}
		ops := make([]byte, k)
		nums := make([]int, k+1)
		for i := range ops {
			ops[i] = "+-*"[r.intn(3)]
		}
		for i := range nums {
			if (i > 0 && ops[i-1] == '*') || (i < k && ops[i] == '*') {
				nums[i] = r.between(1, 5)
			} else {
				nums[i] = r.between(1, 9)
			}
		}
		br := -1 // brackets around nums[br] ops[br] nums[br+1]
		if r.intn(4) == 0 {
			br = r.intn(k)
		}
		steps, v, ok := arithSteps(nums, ops, br)
		if !ok {
			continue
		}
		return Sample{Prompt: "What is " + arithText(nums, ops, br) + "?", Response: worked(steps, v)}
	}
}

func arithText(nums []int, ops []byte, br int) string {
	var sb strings.Builder
	for i, n := range nums {
		if i == br {
			sb.WriteByte('(')
		}
		sb.WriteString(strconv.Itoa(n))
		if i == br+1 && br >= 0 {
			sb.WriteByte(')')
		}
		if i < len(ops) {
			sb.WriteByte(ops[i])
		}
	}
	return sb.String()
}

func applyOp(a int, op byte, b int) int {
	switch op {
	case '+':
		return a + b
	case '-':
		return a - b
	}
	return a * b
}

// arithSteps evaluates by repeatedly collapsing the next operation due, reporting each.
func arithSteps(nums []int, ops []byte, br int) ([]string, int, bool) {
	nums = append([]int(nil), nums...)
	ops = append([]byte(nil), ops...)
	var steps []string
	collapse := func(i int) bool {
		v := applyOp(nums[i], ops[i], nums[i+1])
		if v < 0 || v > 50 {
			return false
		}
		steps = append(steps, step(nums[i], ops[i], nums[i+1], v))
		nums = append(nums[:i], append([]int{v}, nums[i+2:]...)...)
		ops = append(ops[:i], ops[i+1:]...)
		return true
	}
	if br >= 0 && !collapse(br) {
		return nil, 0, false
	}
	for _, pass := range []string{"*", "+-"} {
		for i := 0; i < len(ops); {
			if strings.IndexByte(pass, ops[i]) < 0 {
				i++
				continue
			}
			if !collapse(i) {
				return nil, 0, false
			}
		}
	}
	return steps, nums[0], true
}
