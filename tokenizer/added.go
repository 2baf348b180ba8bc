package tokenizer

import (
	"fmt"
	"sort"
	"unicode"
	"unicode/utf8"
)

type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedVocab holds the added tokens of a file, split as Hugging Face splits them: those with
// "normalized": false are found in the raw text, the others in the normalized text (their
// contents normalized the same way).
type addedVocab struct {
	raw, norm addedMatcher
	byContent map[string]int32
}

func (v *addedVocab) init(tokens []addedToken, n normalizer) error {
	v.byContent = make(map[string]int32, len(tokens))
	var raw, norm []addedToken
	for _, a := range tokens {
		v.byContent[a.Content] = a.ID
		if a.Normalized {
			if n != nil {
				a.Content = n.normalize(a.Content)
			}
			if a.Content == "" {
				return fmt.Errorf("added token %d normalizes to the empty string", a.ID)
			}
			norm = append(norm, a)
		} else {
			raw = append(raw, a)
		}
	}
	v.raw.init(raw)
	v.norm.init(norm)
	return nil
}

// addedMatcher finds added tokens in text: at the leftmost position where any token starts,
// the longest one (the leftmost-longest matching of Hugging Face's Aho-Corasick automaton).
// Tokens are indexed by first byte, with the distinct lengths to try, longest first.
type addedMatcher struct {
	tokens  map[string]addedToken
	lengths [256][]int
	any     bool
}

func (m *addedMatcher) init(tokens []addedToken) {
	m.tokens = make(map[string]addedToken, len(tokens))
	for _, a := range tokens {
		if _, dup := m.tokens[a.Content]; !dup {
			m.tokens[a.Content] = a
		}
	}
	seen := map[[2]int]bool{}
	for c := range m.tokens {
		k := [2]int{int(c[0]), len(c)}
		if !seen[k] {
			seen[k] = true
			m.lengths[c[0]] = append(m.lengths[c[0]], len(c))
		}
	}
	for b := range m.lengths {
		sort.Sort(sort.Reverse(sort.IntSlice(m.lengths[b])))
	}
	m.any = len(m.tokens) > 0
}

// longestAt returns the longest token that text[i:] starts with.
func (m *addedMatcher) longestAt(text string, i int) (addedToken, bool) {
	for _, n := range m.lengths[text[i]] {
		if i+n <= len(text) {
			if a, ok := m.tokens[text[i:i+n]]; ok {
				return a, true
			}
		}
	}
	return addedToken{}, false
}

// each calls f, in order, for every stretch of text between added tokens (id -1) and every
// added token found (its id; the stretch is its content with any stripped white space). first
// says the stretch begins the text and the text begins the input.
func (m *addedMatcher) each(text string, first bool, f func(seg string, first bool, id int32)) {
	if !m.any {
		f(text, first, -1)
		return
	}
	start := 0 // end of the previous token
	for i := 0; i < len(text); {
		if len(m.lengths[text[i]]) == 0 {
			i++
			continue
		}
		a, ok := m.longestAt(text, i)
		if !ok {
			i++
			continue
		}
		from, to := i, i+len(a.Content)
		if a.SingleWord && (endsWithWord(text[:from]) || startsWithWord(text[to:])) {
			i = to // the automaton has consumed the match; it is discarded, not retried shorter
			continue
		}
		if a.LStrip {
			for from > start {
				r, n := utf8.DecodeLastRuneInString(text[start:from])
				if !unicode.IsSpace(r) {
					break
				}
				from -= n
			}
		}
		if a.RStrip {
			for to < len(text) {
				r, n := utf8.DecodeRuneInString(text[to:])
				if !unicode.IsSpace(r) {
					break
				}
				to += n
			}
		}
		if start < from {
			f(text[start:from], first && start == 0, -1)
		}
		f(text[from:to], false, a.ID)
		start, i = to, to
	}
	if start < len(text) || len(text) == 0 {
		f(text[start:], first && start == 0, -1)
	}
}

func isWordChar(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordChar(r)
}

func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordChar(r)
}
