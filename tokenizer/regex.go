package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
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

// Parsing builds a small tree; compiling lays it out as the instructions above.

type reNodeKind uint8

const (
	nChar reNodeKind = iota
	nConcat
	nAlt
	nRepeat
	nLook
	nBegin
	nEnd
)

type reNode struct {
	kind     reNodeKind
	set      *charSet
	subs     []*reNode
	min, max int
	lazy     bool
	poss     bool
	neg      bool
}

type reParser struct {
	src  string
	pos  int
	fold bool // inside (?i:...)
}

func (p *reParser) more() bool { return p.pos < len(p.src) }

func (p *reParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *reParser) alternation(inGroup bool) (*reNode, error) {
	var alts []*reNode
	for {
		seq, err := p.sequence()
		if err != nil {
			return nil, err
		}
		alts = append(alts, seq)
		if p.peek() != '|' {
			break
		}
		p.pos++
	}
	if !inGroup && p.peek() == ')' {
		return nil, fmt.Errorf("unbalanced ) at offset %d", p.pos)
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &reNode{kind: nAlt, subs: alts}, nil
}

func (p *reParser) sequence() (*reNode, error) {
	seq := &reNode{kind: nConcat}
	for p.more() && p.peek() != '|' && p.peek() != ')' {
		atom, err := p.atom()
		if err != nil {
			return nil, err
		}
		atom, err = p.quantifier(atom)
		if err != nil {
			return nil, err
		}
		seq.subs = append(seq.subs, atom)
	}
	return seq, nil
}

func (p *reParser) atom() (*reNode, error) {
	c := p.peek()
	switch c {
	case '(':
		return p.group()
	case '[':
		set, err := p.class()
		if err != nil {
			return nil, err
		}
		return &reNode{kind: nChar, set: set}, nil
	case '.':
		p.pos++
		return &reNode{kind: nChar, set: &charSet{neg: true, runes: []rune{'\n'}}}, nil
	case '^':
		p.pos++
		return &reNode{kind: nBegin}, nil
	case '$':
		p.pos++
		return &reNode{kind: nEnd}, nil
	case '\\':
		set, err := p.escape(false)
		if err != nil {
			return nil, err
		}
		return &reNode{kind: nChar, set: set}, nil
	case '*', '+', '?', '{':
		if c == '{' && !p.isQuantifierBrace() {
			break
		}
		return nil, fmt.Errorf("quantifier %q with nothing to repeat at offset %d", c, p.pos)
	}
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return &reNode{kind: nChar, set: p.literal(r)}, nil
}

// literal is the set matching r, or its case variants inside (?i:...).
func (p *reParser) literal(r rune) *charSet {
	s := &charSet{runes: []rune{r}}
	if p.fold {
		s.fold()
	}
	return s
}

func (p *reParser) group() (*reNode, error) {
	start := p.pos
	p.pos++ // (
	kind, neg := nConcat, false
	saved := p.fold
	if strings.HasPrefix(p.src[p.pos:], "?") {
		p.pos++
		switch {
		case strings.HasPrefix(p.src[p.pos:], ":"):
			p.pos++
		case strings.HasPrefix(p.src[p.pos:], "="):
			p.pos++
			kind = nLook
		case strings.HasPrefix(p.src[p.pos:], "!"):
			p.pos++
			kind, neg = nLook, true
		case strings.HasPrefix(p.src[p.pos:], "i:"):
			p.pos += 2
			p.fold = true
		case strings.HasPrefix(p.src[p.pos:], "i)"):
			// (?i) turns case folding on for the rest of the enclosing group.
			p.pos += 2
			p.fold = true
			return &reNode{kind: nConcat}, nil
		default:
			return nil, fmt.Errorf("group syntax %q at offset %d is not supported", p.src[start:min(len(p.src), p.pos+2)], start)
		}
	}
	body, err := p.alternation(true)
	if err != nil {
		return nil, err
	}
	if p.peek() != ')' {
		return nil, fmt.Errorf("( at offset %d is not closed", start)
	}
	p.pos++
	p.fold = saved
	if kind == nLook {
		return &reNode{kind: nLook, neg: neg, subs: []*reNode{body}}, nil
	}
	return body, nil
}

func (p *reParser) isQuantifierBrace() bool {
	rest := p.src[p.pos:]
	end := strings.IndexByte(rest, '}')
	if end < 0 {
		return false
	}
	body := rest[1:end]
	lo, hi, comma := strings.Cut(body, ",")
	if _, err := strconv.Atoi(lo); err != nil {
		return false
	}
	if comma && hi != "" {
		if _, err := strconv.Atoi(hi); err != nil {
			return false
		}
	}
	return true
}

func (p *reParser) quantifier(atom *reNode) (*reNode, error) {
	for p.more() {
		lo, hi := 0, 0
		switch c := p.peek(); {
		case c == '?':
			lo, hi = 0, 1
			p.pos++
		case c == '*':
			lo, hi = 0, -1
			p.pos++
		case c == '+':
			lo, hi = 1, -1
			p.pos++
		case c == '{' && p.isQuantifierBrace():
			end := p.pos + strings.IndexByte(p.src[p.pos:], '}')
			a, b, comma := strings.Cut(p.src[p.pos+1:end], ",")
			lo, _ = strconv.Atoi(a)
			hi = lo
			if comma {
				hi = -1
				if b != "" {
					hi, _ = strconv.Atoi(b)
				}
			}
			if hi >= 0 && hi < lo {
				return nil, fmt.Errorf("quantifier {%d,%d} at offset %d: max below min", lo, hi, p.pos)
			}
			p.pos = end + 1
		default:
			return atom, nil
		}
		if atom.kind == nLook || atom.kind == nBegin || atom.kind == nEnd {
			return nil, fmt.Errorf("quantifier after an assertion at offset %d", p.pos)
		}
		rep := &reNode{kind: nRepeat, subs: []*reNode{atom}, min: lo, max: hi}
		switch p.peek() {
		case '?':
			rep.lazy = true
			p.pos++
		case '+':
			rep.poss = true
			p.pos++
		}
		atom = rep
	}
	return atom, nil
}

// class parses [...].
func (p *reParser) class() (*charSet, error) {
	start := p.pos
	p.pos++ // [
	set := &charSet{}
	if p.peek() == '^' {
		set.neg = true
		p.pos++
	}
	first := true
	for {
		if !p.more() {
			return nil, fmt.Errorf("[ at offset %d is not closed", start)
		}
		c := p.peek()
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		if c == '[' {
			return nil, fmt.Errorf("nested class or POSIX bracket at offset %d is not supported", p.pos)
		}
		var lo rune
		if c == '\\' {
			sub, err := p.escape(true)
			if err != nil {
				return nil, err
			}
			if len(sub.runes) != 1 || sub.neg || len(sub.tables) > 0 || len(sub.subs) > 0 {
				set.subs = append(set.subs, sub)
				continue
			}
			lo = sub.runes[0]
		} else {
			r, n := utf8.DecodeRuneInString(p.src[p.pos:])
			p.pos += n
			lo = r
		}
		if p.peek() == '-' && p.pos+1 < len(p.src) && p.src[p.pos+1] != ']' {
			p.pos++
			var hi rune
			if p.peek() == '\\' {
				sub, err := p.escape(true)
				if err != nil {
					return nil, err
				}
				if len(sub.runes) != 1 || sub.neg || len(sub.tables) > 0 {
					return nil, fmt.Errorf("class range ending in a class at offset %d", p.pos)
				}
				hi = sub.runes[0]
			} else {
				r, n := utf8.DecodeRuneInString(p.src[p.pos:])
				p.pos += n
				hi = r
			}
			if hi < lo {
				return nil, fmt.Errorf("class range %q-%q is reversed", lo, hi)
			}
			set.ranges = append(set.ranges, [2]rune{lo, hi})
			continue
		}
		set.runes = append(set.runes, lo)
	}
	if p.fold {
		set.fold()
	}
	set.prepare()
	return set, nil
}

// escape parses a backslash sequence, as a set (a single rune for literal escapes).
func (p *reParser) escape(inClass bool) (*charSet, error) {
	start := p.pos
	p.pos++ // backslash
	if !p.more() {
		return nil, fmt.Errorf("trailing backslash")
	}
	c := p.src[p.pos]
	p.pos++
	single := func(r rune) *charSet {
		if inClass {
			return &charSet{runes: []rune{r}}
		}
		return p.literal(r)
	}
	switch c {
	case 'n':
		return single('\n'), nil
	case 'r':
		return single('\r'), nil
	case 't':
		return single('\t'), nil
	case 'f':
		return single('\f'), nil
	case 'v':
		return single('\v'), nil
	case 'a':
		return single('\a'), nil
	case 'e':
		return single(0x1b), nil
	case '0':
		return single(0), nil
	case 's', 'S':
		return prepared(&charSet{tables: []*unicode.RangeTable{unicode.White_Space}, neg: c == 'S'}), nil
	case 'd', 'D':
		return prepared(&charSet{tables: []*unicode.RangeTable{unicode.Nd}, neg: c == 'D'}), nil
	case 'w', 'W':
		return prepared(&charSet{tables: []*unicode.RangeTable{unicode.L, unicode.M, unicode.Nd, unicode.Pc}, neg: c == 'W'}), nil
	case 'h', 'H':
		return prepared(&charSet{ranges: [][2]rune{{'0', '9'}, {'a', 'f'}, {'A', 'F'}}, neg: c == 'H'}), nil
	case 'p', 'P':
		return p.property(c == 'P', start)
	case 'x':
		return p.hexEscape(single, start)
	case 'u':
		if p.pos+4 > len(p.src) {
			return nil, fmt.Errorf(`\u at offset %d needs four hex digits`, start)
		}
		v, err := strconv.ParseUint(p.src[p.pos:p.pos+4], 16, 32)
		if err != nil {
			return nil, fmt.Errorf(`\u at offset %d: %w`, start, err)
		}
		p.pos += 4
		return single(rune(v)), nil
	}
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '1' && c <= '9' {
		return nil, fmt.Errorf(`escape \%c at offset %d is not supported`, c, start)
	}
	p.pos--
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return single(r), nil
}

func (p *reParser) hexEscape(single func(rune) *charSet, start int) (*charSet, error) {
	if p.peek() == '{' {
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return nil, fmt.Errorf(`\x{ at offset %d is not closed`, start)
		}
		v, err := strconv.ParseUint(p.src[p.pos+1:p.pos+end], 16, 32)
		if err != nil {
			return nil, fmt.Errorf(`\x{...} at offset %d: %w`, start, err)
		}
		p.pos += end + 1
		return single(rune(v)), nil
	}
	if p.pos+2 > len(p.src) {
		return nil, fmt.Errorf(`\x at offset %d needs two hex digits`, start)
	}
	v, err := strconv.ParseUint(p.src[p.pos:p.pos+2], 16, 8)
	if err != nil {
		return nil, fmt.Errorf(`\x at offset %d: %w`, start, err)
	}
	p.pos += 2
	return single(rune(v)), nil
}

// propertyAliases maps Oniguruma's long property names to Go's table names.
var propertyAliases = map[string]string{
	"Letter": "L", "Uppercase_Letter": "Lu", "Lowercase_Letter": "Ll", "Titlecase_Letter": "Lt",
	"Modifier_Letter": "Lm", "Other_Letter": "Lo", "Mark": "M", "Combining_Mark": "M",
	"Nonspacing_Mark": "Mn", "Spacing_Mark": "Mc", "Enclosing_Mark": "Me", "Number": "N",
	"Decimal_Number": "Nd", "Letter_Number": "Nl", "Other_Number": "No", "Punctuation": "P",
	"Connector_Punctuation": "Pc", "Dash_Punctuation": "Pd", "Open_Punctuation": "Ps",
	"Close_Punctuation": "Pe", "Initial_Punctuation": "Pi", "Final_Punctuation": "Pf",
	"Other_Punctuation": "Po", "Symbol": "S", "Math_Symbol": "Sm", "Currency_Symbol": "Sc",
	"Modifier_Symbol": "Sk", "Other_Symbol": "So", "Separator": "Z", "Space_Separator": "Zs",
	"Line_Separator": "Zl", "Paragraph_Separator": "Zp", "Other": "C", "Control": "Cc",
	"Format": "Cf", "Private_Use": "Co", "Surrogate": "Cs",
}

func (p *reParser) property(neg bool, start int) (*charSet, error) {
	var name string
	if p.peek() == '{' {
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return nil, fmt.Errorf(`\p{ at offset %d is not closed`, start)
		}
		name = p.src[p.pos+1 : p.pos+end]
		p.pos += end + 1
	} else if p.more() {
		name = p.src[p.pos : p.pos+1]
		p.pos++
	}
	if strings.HasPrefix(name, "^") {
		neg, name = !neg, name[1:]
	}
	if alias, ok := propertyAliases[name]; ok {
		name = alias
	}
	var table *unicode.RangeTable
	switch {
	case unicode.Categories[name] != nil:
		table = unicode.Categories[name]
	case unicode.Scripts[name] != nil:
		table = unicode.Scripts[name]
	case unicode.Properties[name] != nil:
		table = unicode.Properties[name]
	case name == "Alpha" || name == "Alphabetic":
		return prepared(&charSet{tables: []*unicode.RangeTable{unicode.L, unicode.Nl, unicode.Other_Alphabetic}, neg: neg}), nil
	case name == "Any":
		return prepared(&charSet{ranges: [][2]rune{{0, unicode.MaxRune}}, neg: neg}), nil
	default:
		return nil, fmt.Errorf(`unknown property \p{%s} at offset %d`, name, start)
	}
	return prepared(&charSet{tables: []*unicode.RangeTable{table}, neg: neg}), nil
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

// charSet is a set of runes: listed runes, ranges, Unicode tables and nested sets, possibly
// negated. Membership of ASCII runes is a bit test; so is membership of the rest of the Basic
// Multilingual Plane for sets built from Unicode tables (\p{L} and the like), where a table
// search per rune would dominate the matching of long runs of CJK text.
type charSet struct {
	runes  []rune
	ranges [][2]rune
	tables []*unicode.RangeTable
	subs   []*charSet
	neg    bool
	ascii  [2]uint64
	bmp    *[1 << 10]uint64 // runes below 0x10000, for table-based sets
	ready  bool
}

func prepared(s *charSet) *charSet {
	s.prepare()
	return s
}

func (s *charSet) prepare() {
	s.ready, s.bmp = false, nil
	var a [2]uint64
	for r := rune(0); r < 128; r++ {
		if s.slowHas(r) {
			a[r>>6] |= 1 << (r & 63)
		}
	}
	s.ascii = a
	if len(s.tables) > 0 || len(s.subs) > 0 {
		s.bmp = s.bmpBits()
	}
	s.ready = true
}

// bmpBits computes membership of every rune below 0x10000 from the set's parts.
func (s *charSet) bmpBits() *[1 << 10]uint64 {
	var b [1 << 10]uint64
	set := func(lo, hi rune) {
		for r := max(lo, 0); r <= min(hi, 0xFFFF); r++ {
			b[r>>6] |= 1 << (r & 63)
		}
	}
	for _, r := range s.runes {
		set(r, r)
	}
	for _, rg := range s.ranges {
		set(rg[0], rg[1])
	}
	for _, t := range s.tables {
		for _, rg := range t.R16 {
			for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
				b[r>>6] |= 1 << (r & 63)
			}
		}
	}
	for _, sub := range s.subs {
		sb := sub.bmp
		if sb == nil {
			sb = sub.bmpBits()
		}
		for i := range b {
			b[i] |= sb[i]
		}
	}
	if s.neg {
		for i := range b {
			b[i] = ^b[i]
		}
	}
	return &b
}

func (s *charSet) has(r rune) bool {
	if s.ready {
		if r >= 0 && r < 128 {
			return s.ascii[r>>6]&(1<<(r&63)) != 0
		}
		if s.bmp != nil && r >= 0 && r <= 0xFFFF {
			return s.bmp[r>>6]&(1<<(r&63)) != 0
		}
	}
	return s.slowHas(r)
}

func (s *charSet) slowHas(r rune) bool {
	in := false
	for _, x := range s.runes {
		if x == r {
			in = true
			break
		}
	}
	for _, rg := range s.ranges {
		if !in && r >= rg[0] && r <= rg[1] {
			in = true
		}
	}
	for _, t := range s.tables {
		if !in && unicode.Is(t, r) {
			in = true
		}
	}
	for _, sub := range s.subs {
		if !in && sub.has(r) {
			in = true
		}
	}
	return in != s.neg
}

// fold adds the simple case variants of the listed runes and ranges (Unicode simple case
// folding, as Oniguruma's (?i) applies it to these patterns).
func (s *charSet) fold() {
	var extra []rune
	add := func(r rune) {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			extra = append(extra, f)
		}
	}
	for _, r := range s.runes {
		add(r)
	}
	for _, rg := range s.ranges {
		if rg[1]-rg[0] > 4096 {
			continue // a huge range: folding it adds nothing the tokenizer files rely on
		}
		for r := rg[0]; r <= rg[1]; r++ {
			add(r)
		}
	}
	s.runes = append(s.runes, extra...)
	s.prepare()
}
