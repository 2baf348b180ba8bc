package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is a stretch of text moving through the pre-tokenizers. first marks the piece that
// begins the original input, which Metaspace's prepend_scheme "first" needs to know.
type piece struct {
	text  string
	first bool
}

// A preTokenizer cuts one piece into pieces (and may rewrite them, as Metaspace does). BPE
// never merges across pieces. Empty pieces are dropped, as Hugging Face drops them.
type preTokenizer interface {
	split(dst []piece, p piece) []piece
}

// splitBehavior says what a Split does with the text its pattern matches.
type splitBehavior uint8

const (
	behaviorIsolated splitBehavior = iota
	behaviorRemoved
	behaviorMergedWithPrevious
	behaviorMergedWithNext
	behaviorContiguous
)

func parseBehavior(s, where string) (splitBehavior, error) {
	switch s {
	case "Isolated", "isolated":
		return behaviorIsolated, nil
	case "Removed", "removed":
		return behaviorRemoved, nil
	case "MergedWithPrevious", "merged_with_previous":
		return behaviorMergedWithPrevious, nil
	case "MergedWithNext", "merged_with_next":
		return behaviorMergedWithNext, nil
	case "Contiguous", "contiguous":
		return behaviorContiguous, nil
	}
	return 0, fmt.Errorf("%s: behavior %q is not one of Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous", where, s)
}

// span is a part of a piece: [start, end) and whether the pattern matched it.
type span struct {
	start, end int
	match      bool
}

// cover turns match spans into spans covering the whole of s, gaps included.
func cover(s string, matches [][2]int, dst []span) []span {
	prev := 0
	for _, m := range matches {
		if prev < m[0] {
			dst = append(dst, span{prev, m[0], false})
		}
		dst = append(dst, span{m[0], m[1], true})
		prev = m[1]
	}
	if prev < len(s) {
		dst = append(dst, span{prev, len(s), false})
	}
	return dst
}

// applyBehavior cuts p at spans the way Hugging Face's NormalizedString.split does.
func applyBehavior(dst []piece, p piece, spans []span, b splitBehavior, invert bool) []piece {
	if invert {
		for i := range spans {
			spans[i].match = !spans[i].match
		}
	}
	var out []span
	switch b {
	case behaviorIsolated:
		out = spans
	case behaviorRemoved:
		for _, s := range spans {
			if !s.match {
				out = append(out, s)
			}
		}
	case behaviorMergedWithPrevious:
		prevMatch := false
		for _, s := range spans {
			if s.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].end = s.end
			} else {
				out = append(out, s)
			}
			prevMatch = s.match
		}
	case behaviorMergedWithNext:
		prevMatch := false
		for i := len(spans) - 1; i >= 0; i-- {
			s := spans[i]
			if s.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].start = s.start
			} else {
				out = append(out, s)
			}
			prevMatch = s.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	case behaviorContiguous:
		prevMatch := false
		for _, s := range spans {
			if s.match == prevMatch && len(out) > 0 {
				out[len(out)-1].end = s.end
			} else {
				out = append(out, s)
			}
			prevMatch = s.match
		}
	}
	for _, s := range out {
		if s.end > s.start {
			dst = append(dst, piece{text: p.text[s.start:s.end], first: p.first && s.start == 0})
		}
	}
	return dst
}

// runeMatches lists each rune of s for which f holds as its own match.
func runeMatches(s string, f func(rune) bool) [][2]int {
	var m [][2]int
	for i, r := range s {
		if f(r) {
			m = append(m, [2]int{i, i + utf8.RuneLen(r)})
		}
	}
	return m
}

// splitPre is the Split pre-tokenizer: a literal or a pattern and a behavior. The patterns of
// the GPT-2, Llama 3 and Qwen 2 families run through hand-written matchers (fast); every other
// pattern through the general one.
type splitPre struct {
	literal  string
	re       *pattern
	fast     splitter
	behavior splitBehavior
	invert   bool
}

func (s *splitPre) matches(text string) [][2]int {
	switch {
	case s.fast != nil:
		var m [][2]int
		for i := 0; i < len(text); {
			j := s.fast(text, i)
			m = append(m, [2]int{i, j})
			i = j
		}
		return m
	case s.re != nil:
		return s.re.findAll(text, nil)
	}
	var m [][2]int
	if s.literal == "" {
		return m
	}
	for i := 0; ; {
		k := strings.Index(text[i:], s.literal)
		if k < 0 {
			return m
		}
		m = append(m, [2]int{i + k, i + k + len(s.literal)})
		i += k + len(s.literal)
	}
}

func (s *splitPre) split(dst []piece, p piece) []piece {
	if s.fast != nil && s.behavior == behaviorIsolated && !s.invert {
		for i := 0; i < len(p.text); {
			j := s.fast(p.text, i)
			dst = append(dst, piece{text: p.text[i:j], first: p.first && i == 0})
			i = j
		}
		return dst
	}
	return applyBehavior(dst, p, cover(p.text, s.matches(p.text), nil), s.behavior, s.invert)
}

// fastSplitter returns the hand-written matcher for a published pattern, if there is one.
func fastSplitter(re string) splitter {
	switch re {
	case llama3Pattern:
		return llama3Split(3)
	case qwen2Pattern:
		return llama3Split(1)
	case gpt2Pattern:
		return gpt2Split
	}
	return nil
}

// byteLevelPre is the ByteLevel pre-tokenizer: an optional leading space, the GPT-2 pattern
// when use_regex is set, and the byte alphabet. The model applies the alphabet (pieces stay raw
// bytes here), so ByteLevel must be the last pre-tokenizer.
type byteLevelPre struct {
	prefixSpace bool
	useRegex    bool
}

func (b byteLevelPre) split(dst []piece, p piece) []piece {
	if b.prefixSpace && !strings.HasPrefix(p.text, " ") {
		p.text = " " + p.text
	}
	if !b.useRegex {
		return append(dst, p)
	}
	for i := 0; i < len(p.text); {
		j := gpt2Split(p.text, i)
		dst = append(dst, piece{text: p.text[i:j], first: p.first && i == 0})
		i = j
	}
	return dst
}

// Metaspace's prepend schemes.
const (
	prependAlways = iota
	prependFirst
	prependNever
)

// metaspacePre replaces spaces by the replacement character (▁), prepends one (always, or only
// to the piece that starts the input), and optionally splits before each replacement.
type metaspacePre struct {
	repl        string
	scheme      int
	splitPieces bool
}

func (m metaspacePre) split(dst []piece, p piece) []piece {
	text := strings.ReplaceAll(p.text, " ", m.repl)
	prepend := false
	switch m.scheme {
	case prependAlways:
		prepend = true
	case prependFirst:
		prepend = p.first
	}
	if prepend && !strings.HasPrefix(text, m.repl) {
		text = m.repl + text
	}
	p.text = text
	if !m.splitPieces {
		if text == "" {
			return dst
		}
		return append(dst, p)
	}
	var matches [][2]int
	for i := 0; ; {
		k := strings.Index(text[i:], m.repl)
		if k < 0 {
			break
		}
		matches = append(matches, [2]int{i + k, i + k + len(m.repl)})
		i += k + len(m.repl)
	}
	return applyBehavior(dst, p, cover(text, matches, nil), behaviorMergedWithNext, false)
}

// runePre splits at runes of a class: Digits, Punctuation, WhitespaceSplit, CharDelimiterSplit.
type runePre struct {
	class    func(rune) bool
	behavior splitBehavior
}

func (r runePre) split(dst []piece, p piece) []piece {
	return applyBehavior(dst, p, cover(p.text, runeMatches(p.text, r.class), nil), r.behavior, false)
}

// wordsPre is the Whitespace pre-tokenizer: runs of word characters, runs of other
// non-space characters; white space is dropped.
type wordsPre struct{}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.M, r) || unicode.Is(unicode.Pc, r)
}

func (wordsPre) split(dst []piece, p piece) []piece {
	var matches [][2]int
	s := p.text
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			i += n
			continue
		}
		word := isWordRune(r)
		j := i + n
		for j < len(s) {
			r2, n2 := utf8.DecodeRuneInString(s[j:])
			if unicode.IsSpace(r2) || isWordRune(r2) != word {
				break
			}
			j += n2
		}
		matches = append(matches, [2]int{i, j})
		i = j
	}
	return applyBehavior(dst, p, cover(s, matches, nil), behaviorRemoved, true)
}

func isPunctuation(r rune) bool {
	return (r < 128 && unicode.IsPunct(r)) || (r < 128 && unicode.IsSymbol(r)) || unicode.IsPunct(r)
}

type sequencePre []preTokenizer

func (q sequencePre) split(dst []piece, p piece) []piece {
	cur := []piece{p}
	var next []piece
	for _, step := range q {
		next = next[:0]
		for _, c := range cur {
			next = step.split(next, c)
		}
		cur, next = next, cur
	}
	return append(dst, cur...)
}

type hfPreTokenizer struct {
	Type             string            `json:"type"`
	AddPrefixSpace   *bool             `json:"add_prefix_space"`
	UseRegex         *bool             `json:"use_regex"`
	Pretokenizers    []json.RawMessage `json:"pretokenizers"`
	Pattern          hfPattern         `json:"pattern"`
	Behavior         string            `json:"behavior"`
	Invert           bool              `json:"invert"`
	Replacement      string            `json:"replacement"`
	PrependScheme    string            `json:"prepend_scheme"`
	Split            *bool             `json:"split"`
	IndividualDigits bool              `json:"individual_digits"`
	Delimiter        string            `json:"delimiter"`
}

// parsePreTokenizer reads tokenizer.json's "pre_tokenizer" (nil: none). byteLevel reports a
// ByteLevel step, which must come last.
func parsePreTokenizer(raw json.RawMessage, where string) (pre preTokenizer, byteLevel bool, err error) {
	if isNull(raw) {
		return nil, false, nil
	}
	var h hfPreTokenizer
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, false, fmt.Errorf("%s: %w", where, err)
	}
	switch h.Type {
	case "Sequence":
		var seq sequencePre
		for i, sub := range h.Pretokenizers {
			w := fmt.Sprintf("%s.pretokenizers[%d]", where, i)
			if byteLevel {
				return nil, false, fmt.Errorf("%s: a step after ByteLevel is not supported (ByteLevel must be the last pre-tokenizer)", w)
			}
			s, bl, err := parsePreTokenizer(sub, w)
			if err != nil {
				return nil, false, err
			}
			byteLevel = bl
			if s != nil {
				seq = append(seq, s)
			}
		}
		if len(seq) == 1 {
			return seq[0], byteLevel, nil
		}
		return seq, byteLevel, nil
	case "ByteLevel":
		// Both flags default to true in the format.
		b := byteLevelPre{prefixSpace: h.AddPrefixSpace == nil || *h.AddPrefixSpace, useRegex: h.UseRegex == nil || *h.UseRegex}
		return b, true, nil
	case "Split":
		b, err := parseBehavior(h.Behavior, where)
		if err != nil {
			return nil, false, err
		}
		s := &splitPre{behavior: b, invert: h.Invert}
		switch {
		case h.Pattern.String != nil:
			s.literal = *h.Pattern.String
		case h.Pattern.Regex != nil:
			if s.fast = fastSplitter(*h.Pattern.Regex); s.fast == nil {
				if s.re, err = compilePattern(*h.Pattern.Regex); err != nil {
					return nil, false, fmt.Errorf("%s: %w", where, err)
				}
			}
		default:
			return nil, false, fmt.Errorf("%s: pattern has neither String nor Regex", where)
		}
		return s, false, nil
	case "Metaspace":
		m, err := parseMetaspace(h, where)
		if err != nil {
			return nil, false, err
		}
		return m, false, nil
	case "Digits":
		b := behaviorContiguous
		if h.IndividualDigits {
			b = behaviorIsolated
		}
		return runePre{class: unicode.IsNumber, behavior: b}, false, nil
	case "Punctuation":
		b := behaviorIsolated
		if h.Behavior != "" {
			if b, err = parseBehavior(h.Behavior, where); err != nil {
				return nil, false, err
			}
		}
		return runePre{class: isPunctuation, behavior: b}, false, nil
	case "WhitespaceSplit":
		return runePre{class: unicode.IsSpace, behavior: behaviorRemoved}, false, nil
	case "Whitespace":
		return wordsPre{}, false, nil
	case "BertPreTokenizer":
		return sequencePre{runePre{class: unicode.IsSpace, behavior: behaviorRemoved}, runePre{class: isPunctuation, behavior: behaviorIsolated}}, false, nil
	case "CharDelimiterSplit":
		d, n := utf8.DecodeRuneInString(h.Delimiter)
		if n == 0 || n != len(h.Delimiter) {
			return nil, false, fmt.Errorf("%s: delimiter %q must be one character", where, h.Delimiter)
		}
		return runePre{class: func(r rune) bool { return r == d }, behavior: behaviorRemoved}, false, nil
	}
	return nil, false, fmt.Errorf("%s: type %q is not supported (supported: ByteLevel, Split, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit, Sequence)", where, h.Type)
}

// parseMetaspace reads a Metaspace pre-tokenizer or decoder: the replacement, the prepend
// scheme (or the older add_prefix_space flag) and split.
func parseMetaspace(h hfPreTokenizer, where string) (metaspacePre, error) {
	m := metaspacePre{repl: h.Replacement, scheme: prependAlways, splitPieces: h.Split == nil || *h.Split}
	if utf8.RuneCountInString(m.repl) != 1 {
		return m, fmt.Errorf("%s: replacement %q must be one character", where, h.Replacement)
	}
	switch h.PrependScheme {
	case "always":
	case "first":
		m.scheme = prependFirst
	case "never":
		m.scheme = prependNever
	case "":
		if h.AddPrefixSpace != nil && !*h.AddPrefixSpace {
			m.scheme = prependNever
		}
	default:
		return m, fmt.Errorf("%s: prepend_scheme %q is not one of always, first, never", where, h.PrependScheme)
	}
	return m, nil
}
