package pipe

import (
	"fmt"
	"strconv"
)

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tInt
	tSym
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return fmt.Errorf("pipe: offset %d: %s", t.pos, fmt.Sprintf(format, args...))
}

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			p.toks = append(p.toks, token{tInt, s[i:j], i})
			i = j
		case c >= 'a' && c <= 'z':
			j := i
			for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			p.toks = append(p.toks, token{tWord, s[i:j], i})
			i = j
		case c == '=' || c == '!' || c == '<' || c == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				p.toks = append(p.toks, token{tSym, s[i : i+2], i})
				i += 2
				continue
			}
			if c == '=' || c == '!' {
				return fmt.Errorf("pipe: offset %d: %q must be followed by =", i, c)
			}
			p.toks = append(p.toks, token{tSym, s[i : i+1], i})
			i++
		case c == '+' || c == '-' || c == '*' || c == '/' || c == '%' || c == '(' || c == ')' || c == '|':
			p.toks = append(p.toks, token{tSym, s[i : i+1], i})
			i++
		default:
			return fmt.Errorf("pipe: offset %d: unexpected character %q", i, c)
		}
	}
	p.toks = append(p.toks, token{tEOF, "end of program", len(s)})
	return nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) stage() (stage, error) {
	t := p.next()
	if t.kind != tWord || (!listStages[t.text] && !numStages[t.text]) {
		return stage{}, p.errAt(t, "want a stage (map, filter, take, drop, sort, rev, sum, max, min, len, first, last), got %q", t.text)
	}
	st := stage{op: t.text, pos: t.pos}
	var err error
	switch t.text {
	case "map":
		st.expr, err = p.expr()
	case "filter":
		if st.expr, err = p.expr(); err != nil {
			return st, err
		}
		c := p.next()
		switch c.text {
		case "==", "!=", "<", "<=", ">", ">=":
			st.cmp = c.text
		default:
			return st, p.errAt(c, "filter needs a comparison (== != < <= > >=), got %q", c.text)
		}
		st.rhs, err = p.expr()
	case "take", "drop":
		n := p.next()
		if n.kind != tInt {
			return st, p.errAt(n, "%s needs a count, got %q", t.text, n.text)
		}
		if st.n, err = strconv.ParseInt(n.text, 10, 64); err != nil {
			return st, p.errAt(n, "count %q is too large", n.text)
		}
	}
	return st, err
}

func (p *parser) expr() (*node, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.peek().text == "+" || p.peek().text == "-" {
		op := p.next().text[0]
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		l = &node{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) term() (*node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek().text == "*" || p.peek().text == "/" || p.peek().text == "%" {
		op := p.next().text[0]
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &node{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary() (*node, error) {
	t := p.next()
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > MaxDepth {
		return nil, p.errAt(t, "expression nested deeper than %d", MaxDepth)
	}
	switch {
	case t.text == "-":
		inner, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &node{op: 'n', l: inner}, nil
	case t.kind == tInt:
		v, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, p.errAt(t, "number %q is too large", t.text)
		}
		return &node{op: '0', val: v}, nil
	case t.text == "x":
		return &node{op: 'x'}, nil
	case t.text == "(":
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.text != ")" {
			return nil, p.errAt(c, "want ), got %q", c.text)
		}
		return e, nil
	}
	return nil, p.errAt(t, "want a number, x, - or (, got %q", t.text)
}
