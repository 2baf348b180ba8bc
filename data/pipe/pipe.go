package pipe

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits that keep hostile or degenerate programs cheap.
const (
	MaxProgramLen = 400    // bytes of program text
	MaxDepth      = 32     // nesting of parentheses and unary minus
	MaxSteps      = 100000 // expression nodes evaluated in one run
	MaxInputLen   = 1000   // elements of the input list
)

// ErrStepLimit is returned (wrapped) when a run needs more than MaxSteps steps.
var ErrStepLimit = errors.New("step limit exceeded")

// Program is a parsed pipeline, ready to run on many inputs.
type Program struct {
	stages []stage
	text   string
}

type stage struct {
	op   string
	expr *node // map: the new value; filter: the left side
	cmp  string
	rhs  *node // filter: the right side
	n    int64 // take, drop
	pos  int   // byte offset in the program, for errors
}

// node is an expression tree node: a number, x, or a binary operator ('+', '-', '*', '/',
// '%'; 'n' negates l).
type node struct {
	op   byte // '0' number, 'x', 'n', or an operator
	val  int64
	l, r *node
}

var listStages = map[string]bool{"map": true, "filter": true, "take": true, "drop": true, "sort": true, "rev": true}
var numStages = map[string]bool{"sum": true, "max": true, "min": true, "len": true, "first": true, "last": true}

// Parse checks a program's syntax. The error names the byte offset of the problem.
func Parse(text string) (*Program, error) {
	if len(text) > MaxProgramLen {
		return nil, fmt.Errorf("pipe: program is %d bytes; the limit is %d", len(text), MaxProgramLen)
	}
	p := &parser{src: text}
	if err := p.lex(); err != nil {
		return nil, err
	}
	prog := &Program{text: text}
	for {
		st, err := p.stage()
		if err != nil {
			return nil, err
		}
		prog.stages = append(prog.stages, st)
		if p.peek().kind == tEOF {
			break
		}
		if t := p.next(); t.text != "|" {
			return nil, p.errAt(t, "want | between stages, got %q", t.text)
		}
	}
	for i, st := range prog.stages {
		if numStages[st.op] && i != len(prog.stages)-1 {
			return nil, fmt.Errorf("pipe: %s at offset %d gives a number, so it must be the last stage", st.op, st.pos)
		}
	}
	return prog, nil
}

// String returns the program text as parsed.
func (p *Program) String() string { return p.text }

// Run parses program and runs it on input, a list of integers written "[3 1 4]" (brackets and
// commas optional). The result is written "14" for a number and "[9 16]" for a list.
func Run(program, input string) (string, error) {
	prog, err := Parse(program)
	if err != nil {
		return "", err
	}
	list, err := ParseList(input)
	if err != nil {
		return "", err
	}
	return prog.Run(list)
}

// ParseList reads a list of integers: "[3 1 4]", "3 1 4" or "[3, 1, 4]".
func ParseList(s string) ([]int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "[")
	t = strings.TrimSuffix(t, "]")
	fields := strings.FieldsFunc(t, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
	if len(fields) > MaxInputLen {
		return nil, fmt.Errorf("pipe: input has %d elements; the limit is %d", len(fields), MaxInputLen)
	}
	out := make([]int64, 0, len(fields))
	for _, f := range fields {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("pipe: input %q: element %q is not an integer", s, f)
		}
		out = append(out, v)
	}
	return out, nil
}

// FormatList writes a list as Run writes its results: "[1 2 3]".
func FormatList(xs []int64) string {
	parts := make([]string, len(xs))
	for i, v := range xs {
		parts[i] = strconv.FormatInt(v, 10)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Run executes the program on a copy of input.
func (p *Program) Run(input []int64) (string, error) {
	if len(input) > MaxInputLen {
		return "", fmt.Errorf("pipe: input has %d elements; the limit is %d", len(input), MaxInputLen)
	}
	ev := &evaluator{}
	list := append([]int64(nil), input...)
	for _, st := range p.stages {
		var err error
		if numStages[st.op] {
			v, err := ev.reduce(st, list)
			if err != nil {
				return "", err
			}
			return strconv.FormatInt(v, 10), nil
		}
		if list, err = ev.apply(st, list); err != nil {
			return "", err
		}
	}
	return FormatList(list), nil
}

type evaluator struct{ steps int }

func (ev *evaluator) step(st stage) error {
	ev.steps++
	if ev.steps > MaxSteps {
		return fmt.Errorf("pipe: %s at offset %d: %w (%d)", st.op, st.pos, ErrStepLimit, MaxSteps)
	}
	return nil
}

func (ev *evaluator) apply(st stage, list []int64) ([]int64, error) {
	switch st.op {
	case "map":
		out := make([]int64, len(list))
		for i, x := range list {
			v, err := ev.eval(st, st.expr, x)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case "filter":
		var out []int64
		for _, x := range list {
			l, err := ev.eval(st, st.expr, x)
			if err != nil {
				return nil, err
			}
			r, err := ev.eval(st, st.rhs, x)
			if err != nil {
				return nil, err
			}
			if compare(st.cmp, l, r) {
				out = append(out, x)
			}
		}
		return out, nil
	case "take":
		return list[:min(int64(len(list)), st.n)], nil
	case "drop":
		return list[min(int64(len(list)), st.n):], nil
	case "sort":
		out := append([]int64(nil), list...)
		// Insertion sort counts its steps, so even sorting stays within the limit.
		for i := 1; i < len(out); i++ {
			for j := i; j > 0 && out[j-1] > out[j]; j-- {
				if err := ev.step(st); err != nil {
					return nil, err
				}
				out[j-1], out[j] = out[j], out[j-1]
			}
		}
		return out, nil
	case "rev":
		out := make([]int64, len(list))
		for i, v := range list {
			out[len(list)-1-i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("pipe: unknown stage %q at offset %d", st.op, st.pos)
}

func (ev *evaluator) reduce(st stage, list []int64) (int64, error) {
	if st.op == "len" {
		return int64(len(list)), nil
	}
	if st.op == "sum" {
		var s int64
		for _, v := range list {
			var ok bool
			if s, ok = add(s, v); !ok {
				return 0, fmt.Errorf("pipe: sum at offset %d: integer overflow", st.pos)
			}
		}
		return s, nil
	}
	if len(list) == 0 {
		return 0, fmt.Errorf("pipe: %s at offset %d: the list is empty", st.op, st.pos)
	}
	switch st.op {
	case "first":
		return list[0], nil
	case "last":
		return list[len(list)-1], nil
	}
	best := list[0]
	for _, v := range list[1:] {
		if (st.op == "max" && v > best) || (st.op == "min" && v < best) {
			best = v
		}
	}
	return best, nil
}

func compare(cmp string, l, r int64) bool {
	switch cmp {
	case "==":
		return l == r
	case "!=":
		return l != r
	case "<":
		return l < r
	case "<=":
		return l <= r
	case ">":
		return l > r
	default: // ">=", the only other comparison the parser accepts
		return l >= r
	}
}

func (ev *evaluator) eval(st stage, n *node, x int64) (int64, error) {
	if err := ev.step(st); err != nil {
		return 0, err
	}
	switch n.op {
	case '0':
		return n.val, nil
	case 'x':
		return x, nil
	case 'n':
		v, err := ev.eval(st, n.l, x)
		if err != nil {
			return 0, err
		}
		if v == minInt {
			return 0, fmt.Errorf("pipe: %s at offset %d: integer overflow", st.op, st.pos)
		}
		return -v, nil
	}
	a, err := ev.eval(st, n.l, x)
	if err != nil {
		return 0, err
	}
	b, err := ev.eval(st, n.r, x)
	if err != nil {
		return 0, err
	}
	var v int64
	ok := true
	switch n.op {
	case '+':
		v, ok = add(a, b)
	case '-':
		v, ok = sub(a, b)
	case '*':
		v, ok = mul(a, b)
	case '/', '%':
		if b == 0 {
			return 0, fmt.Errorf("pipe: %s at offset %d: division by zero (x = %d)", st.op, st.pos, x)
		}
		if a == minInt && b == -1 {
			return 0, fmt.Errorf("pipe: %s at offset %d: integer overflow", st.op, st.pos)
		}
		if n.op == '/' {
			v = a / b
		} else {
			v = a % b
		}
	}
	if !ok {
		return 0, fmt.Errorf("pipe: %s at offset %d: integer overflow (x = %d)", st.op, st.pos, x)
	}
	return v, nil
}

const minInt = -1 << 63

func add(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0)
}

func sub(a, b int64) (int64, bool) {
	s := a - b
	return s, (s < a) == (b > 0)
}

func mul(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == minInt) || (b == -1 && a == minInt) {
		return 0, false
	}
	return p, true
}
