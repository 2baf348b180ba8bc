package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// Hugging Face compiles Split and Replace patterns with Oniguruma, a backtracking engine with
// lookahead, possessive quantifiers and Unicode properties; Go's regexp has none of the three,
// and the published patterns use all of them (`\s+(?!\S)` is in every GPT-style file). pattern
// is a small backtracking matcher for the subset tokenizer files use:
//
//	alternation, (...) (?:...) (?i:...) (?=...) (?!...), ^ $, . , literals and escapes,
//	classes [...] with ranges, negation and nested escapes, \s \S \d \D \w \W \h \p{X} \P{X},
//	quantifiers ? * + {n} {n,} {n,m}, lazy (??) and possessive (?+) forms.
//
// Character classes follow Oniguruma's Unicode definitions: \s is White_Space, \d is Nd, \w is
// letters, marks, Nd and connector punctuation. Anything else fails to compile with an error
// naming the construct, so an unsupported file is refused at load time rather than split wrong.
type pattern struct {
	src  string
	prog []reInst
}

type reOp uint8

const (
	opChar   reOp = iota // one rune in set
	opRun                // set repeated min..max times (greedy, lazy or possessive)
	opSplit              // try x, then y
	opJump               // go to x
	opLook               // lookahead: sub-program at x must (or, neg, must not) match here; then y
	opAtomic             // sub-program at x, first match only, then y
	opBegin              // ^: start of text or after \n
	opEnd                // $: end of text or before \n
	opMatch              // success (ends the whole program or a sub-program)
)

type reInst struct {
	op       reOp
	set      *charSet
	min, max int // opRun; max < 0 is unbounded
	lazy     bool
	poss     bool
	neg      bool
	x, y     int
}

// compilePattern parses an Oniguruma-syntax pattern.
func compilePattern(src string) (*pattern, error) {
	p := &reParser{src: src}
	n, err := p.alternation(false)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", src, err)
	}
	if p.pos < len(p.src) {
		return nil, fmt.Errorf("pattern %q: unexpected %q at offset %d", src, p.src[p.pos], p.pos)
	}
	c := &reCompiler{}
	c.emit(n)
	c.prog = append(c.prog, reInst{op: opMatch})
	return &pattern{src: src, prog: c.prog}, nil
}

// find returns the end of the leftmost match starting exactly at i, or -1.
func (p *pattern) matchAt(s string, i int) int {
	return p.run(s, 0, i)
}

// findAll returns the [start, end) spans of the successive non-overlapping matches in s, as
// Oniguruma's search reports them (leftmost match first; an empty match moves on one rune).
func (p *pattern) findAll(s string, spans [][2]int) [][2]int {
	for i := 0; i <= len(s); {
		if j := p.run(s, 0, i); j >= 0 {
			spans = append(spans, [2]int{i, j})
			if j > i {
				i = j
				continue
			}
		}
		if i == len(s) {
			break
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return spans
}

// run executes the program from pc at position i and returns the end of the first match found
// in backtracking order, or -1.
func (p *pattern) run(s string, pc, i int) int {
	for {
		in := &p.prog[pc]
		switch in.op {
		case opMatch:
			return i
		case opChar:
			r, n := utf8.DecodeRuneInString(s[i:])
			if n == 0 || !in.set.has(r) {
				return -1
			}
			i += n
			pc++
		case opRun:
			return p.runRepeat(s, pc, i)
		case opSplit:
			if j := p.run(s, in.x, i); j >= 0 {
				return j
			}
			pc = in.y
		case opJump:
			pc = in.x
		case opLook:
			matched := p.run(s, in.x, i) >= 0
			if matched == in.neg {
				return -1
			}
			pc = in.y
		case opAtomic:
			j := p.run(s, in.x, i)
			if j < 0 {
				return -1
			}
			i, pc = j, in.y
		case opBegin:
			if i != 0 && s[i-1] != '\n' {
				return -1
			}
			pc++
		case opEnd:
			if i != len(s) && s[i] != '\n' {
				return -1
			}
			pc++
		}
	}
}

// runRepeat handles a repeated class: it takes the longest run allowed, then (unless
// possessive) gives runes back one at a time until the rest of the program matches; lazy runs
// go the other way.
func (p *pattern) runRepeat(s string, pc, i int) int {
	in := &p.prog[pc]
	var ends [64]int
	stack := ends[:0]
	stack = append(stack, i)
	j, count := i, 0
	for in.max < 0 || count < in.max {
		if in.lazy && count >= in.min {
			if k := p.run(s, pc+1, j); k >= 0 {
				return k
			}
		}
		r, n := utf8.DecodeRuneInString(s[j:])
		if n == 0 || !in.set.has(r) {
			break
		}
		j += n
		count++
		if !in.poss && !in.lazy {
			stack = append(stack, j)
		}
	}
	if count < in.min {
		return -1
	}
	if in.lazy || in.poss {
		return p.run(s, pc+1, j)
	}
	for k := len(stack) - 1; k >= in.min; k-- {
		if m := p.run(s, pc+1, stack[k]); m >= 0 {
			return m
		}
	}
	return -1
}

type reCompiler struct{ prog []reInst }

func (c *reCompiler) emit(n *reNode) {
	switch n.kind {
	case nChar:
		c.prog = append(c.prog, reInst{op: opChar, set: n.set})
	case nBegin:
		c.prog = append(c.prog, reInst{op: opBegin})
	case nEnd:
		c.prog = append(c.prog, reInst{op: opEnd})
	case nConcat:
		for _, s := range n.subs {
			c.emit(s)
		}
	case nAlt:
		var jumps []int
		for k, s := range n.subs {
			if k == len(n.subs)-1 {
				c.emit(s)
				break
			}
			split := len(c.prog)
			c.prog = append(c.prog, reInst{op: opSplit, x: split + 1})
			c.emit(s)
			jumps = append(jumps, len(c.prog))
			c.prog = append(c.prog, reInst{op: opJump})
			c.prog[split].y = len(c.prog)
		}
		for _, j := range jumps {
			c.prog[j].x = len(c.prog)
		}
	case nLook:
		at := len(c.prog)
		c.prog = append(c.prog, reInst{op: opLook, neg: n.neg, x: at + 1})
		c.emit(n.subs[0])
		c.prog = append(c.prog, reInst{op: opMatch})
		c.prog[at].y = len(c.prog)
	case nRepeat:
		c.repeat(n)
	}
}

func (c *reCompiler) repeat(n *reNode) {
	body := n.subs[0]
	if body.kind == nChar {
		c.prog = append(c.prog, reInst{op: opRun, set: body.set, min: n.min, max: n.max, lazy: n.lazy, poss: n.poss})
		return
	}
	if n.poss {
		at := len(c.prog)
		c.prog = append(c.prog, reInst{op: opAtomic, x: at + 1})
		inner := *n
		inner.poss = false
		c.repeat(&inner)
		c.prog = append(c.prog, reInst{op: opMatch})
		c.prog[at].y = len(c.prog)
		return
	}
	for k := 0; k < n.min; k++ {
		c.emit(body)
	}
	if n.max < 0 {
		// loop: split(body, out); body; jump loop
		loop := len(c.prog)
		c.prog = append(c.prog, reInst{op: opSplit})
		c.emit(body)
		c.prog = append(c.prog, reInst{op: opJump, x: loop})
		c.setSplit(loop, loop+1, len(c.prog), n.lazy)
		return
	}
	var splits []int
	for k := n.min; k < n.max; k++ {
		splits = append(splits, len(c.prog))
		c.prog = append(c.prog, reInst{op: opSplit})
		c.emit(body)
	}
	for _, s := range splits {
		c.setSplit(s, s+1, len(c.prog), n.lazy)
	}
}

func (c *reCompiler) setSplit(at, body, out int, lazy bool) {
	if lazy {
		c.prog[at].x, c.prog[at].y = out, body
	} else {
		c.prog[at].x, c.prog[at].y = body, out
	}
}
