package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The parser builds a small tree of a pattern; reCompiler (regex.go) lays it out as the
// instructions the matcher runs.

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
