package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Byte-level BPE never merges across the pieces a pre-tokenizer cuts, so the cut decides which
// ids a text gets. The two published patterns are written out here by hand because Go's regexp
// has no lookahead, which both use (`\s+(?!\S)` leaves the last space of a run to the next
// word). Each function returns where the match starting at i ends, trying the pattern's
// alternatives in order as a backtracking engine would.

// splitter cuts text into pieces; every byte lands in exactly one piece.
type splitter func(s string, i int) int

// split applies a splitter over the whole string.
func split(s string, next splitter) []string {
	var pieces []string
	for i := 0; i < len(s); {
		j := next(s, i)
		if j <= i { // cannot happen for the patterns below; keep the loop finite regardless
			_, n := utf8.DecodeRuneInString(s[i:])
			j = i + n
		}
		pieces = append(pieces, s[i:j])
		i = j
	}
	return pieces
}

// Character classes as the patterns use them. A byte that is not valid UTF-8 counts as "other"
// (neither space, letter nor number), so arbitrary bytes still split deterministically.
func runeAt(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isSpace(r rune) bool  { return r >= 0 && unicode.IsSpace(r) }
func isLetter(r rune) bool { return r >= 0 && unicode.IsLetter(r) }
func isNumber(r rune) bool { return r >= 0 && unicode.IsNumber(r) }
func isOther(r rune) bool  { return r >= 0 && !isSpace(r) && !isLetter(r) && !isNumber(r) }

// run returns the end of the longest run of runes from i that satisfy class.
func run(s string, i int, class func(rune) bool) int {
	for i < len(s) {
		r, n := runeAt(s, i)
		if !class(r) {
			break
		}
		i += n
	}
	return i
}

// contraction matches 's 't 're 've 'm 'll 'd at i; fold makes it ASCII case-insensitive.
func contraction(s string, i int, fold bool) int {
	if s[i] != '\'' {
		return -1
	}
	for _, suf := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
		if i+1+len(suf) > len(s) {
			continue
		}
		ok := true
		for k := 0; k < len(suf); k++ {
			c := s[i+1+k]
			if fold && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != suf[k] {
				ok = false
				break
			}
		}
		if ok {
			return i + 1 + len(suf)
		}
	}
	return -1
}

// optionalSpaceRun matches ` ?X+` for a class X.
func optionalSpaceRun(s string, i int, class func(rune) bool) int {
	k := i
	if s[i] == ' ' {
		k++
	}
	if end := run(s, k, class); end > k {
		return end
	}
	return -1
}

// spaceNotBeforeWord matches `\s+(?!\S)|\s+`: a run of whitespace, less its last rune when a
// non-space follows (that rune then starts the next word's piece), unless the run is a single
// rune.
func spaceNotBeforeWord(s string, i int) int {
	end, last := i, i
	for end < len(s) {
		r, n := runeAt(s, end)
		if !isSpace(r) {
			break
		}
		last = end
		end += n
	}
	if end == len(s) || last == i {
		return end
	}
	return last
}

// gpt2Split is the pattern of GPT-2's ByteLevel pre-tokenizer (use_regex: true):
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func gpt2Split(s string, i int) int {
	if j := contraction(s, i, false); j > 0 {
		return j
	}
	for _, class := range [...]func(rune) bool{isLetter, isNumber, isOther} {
		if j := optionalSpaceRun(s, i, class); j > 0 {
			return j
		}
	}
	return spaceNotBeforeWord(s, i)
}

// llama3Pattern and qwen2Pattern are the Split regexes of Llama 3 and Qwen 2 tokenizer.json
// files; they differ only in how many digits one piece may hold.
const (
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

func isNewline(r rune) bool { return r == '\r' || r == '\n' }

// llama3Split returns the splitter for the Llama 3 pattern with at most maxDigits digits per
// number piece (3 for Llama 3, 1 for Qwen 2).
func llama3Split(maxDigits int) splitter {
	return func(s string, i int) int {
		if j := contraction(s, i, true); j > 0 {
			return j
		}
		r0, n0 := runeAt(s, i)
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if isLetter(r0) {
			return run(s, i, isLetter)
		}
		if !isNewline(r0) && !isNumber(r0) {
			if end := run(s, i+n0, isLetter); end > i+n0 {
				return end
			}
		}
		// \p{N}{1,maxDigits}
		if isNumber(r0) {
			j := i
			for d := 0; d < maxDigits; d++ {
				r, n := runeAt(s, j)
				if !isNumber(r) {
					break
				}
				j += n
			}
			return j
		}
		// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
		if j := optionalSpaceRun(s, i, isOther); j > 0 {
			return run(s, j, isNewline)
		}
		// \s*[\r\n]+ : the whitespace run up to and including its last newline.
		end, lastNL := i, -1
		for end < len(s) {
			r, n := runeAt(s, end)
			if !isSpace(r) {
				break
			}
			if isNewline(r) {
				lastNL = end + n
			}
			end += n
		}
		if lastNL > 0 {
			return lastNL
		}
		return spaceNotBeforeWord(s, i)
	}
}
