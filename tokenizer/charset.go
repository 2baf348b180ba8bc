package tokenizer

import "unicode"

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
