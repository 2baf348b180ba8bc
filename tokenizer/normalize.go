package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// A normalizer rewrites a stretch of text before it is split and merged (tokenizer.json's
// "normalizer"). It runs on each stretch between added tokens, as Hugging Face runs it.
type normalizer interface {
	normalize(s string) string
}

type unicodeForm struct{ form norm.Form }

func (n unicodeForm) normalize(s string) string { return n.form.String(s) }

// prependNorm writes its text before every non-empty stretch (SentencePiece's dummy prefix).
type prependNorm struct{ prefix string }

func (n prependNorm) normalize(s string) string {
	if s == "" {
		return s
	}
	return n.prefix + s
}

// replaceNorm replaces every match of a literal or a pattern.
type replaceNorm struct{ r replacer }

func (n replaceNorm) normalize(s string) string { return n.r.replace(s) }

type lowercaseNorm struct{}

func (lowercaseNorm) normalize(s string) string { return strings.ToLower(s) }

// stripNorm removes leading and/or trailing white space.
type stripNorm struct{ left, right bool }

func (n stripNorm) normalize(s string) string {
	if n.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

// stripAccentsNorm drops nonspacing marks (run it after NFD to remove accents).
type stripAccentsNorm struct{}

func (stripAccentsNorm) normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s)
}

type sequenceNorm []normalizer

func (q sequenceNorm) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

// replacer replaces a literal string or every match of a pattern with content; it serves the
// Replace normalizer and the Replace decoder.
type replacer struct {
	literal string
	re      *pattern
	content string
}

func (r replacer) replace(s string) string {
	if r.re == nil {
		if r.literal == "" {
			return s
		}
		return strings.ReplaceAll(s, r.literal, r.content)
	}
	spans := r.re.findAll(s, nil)
	if len(spans) == 0 {
		return s
	}
	var sb strings.Builder
	last := 0
	for _, sp := range spans {
		if sp[1] == sp[0] {
			continue
		}
		sb.WriteString(s[last:sp[0]])
		sb.WriteString(r.content)
		last = sp[1]
	}
	sb.WriteString(s[last:])
	return sb.String()
}

// hfPattern is the {"String": ...} or {"Regex": ...} object of Split and Replace.
type hfPattern struct {
	Regex  *string `json:"Regex"`
	String *string `json:"String"`
}

func (p hfPattern) replacer(content, where string) (replacer, error) {
	switch {
	case p.String != nil:
		return replacer{literal: *p.String, content: content}, nil
	case p.Regex != nil:
		re, err := compilePattern(*p.Regex)
		if err != nil {
			return replacer{}, fmt.Errorf("%s: %w", where, err)
		}
		return replacer{re: re, content: content}, nil
	}
	return replacer{}, fmt.Errorf("%s: pattern has neither String nor Regex", where)
}

type hfNormalizer struct {
	Type        string            `json:"type"`
	Normalizers []json.RawMessage `json:"normalizers"`
	Prepend     string            `json:"prepend"`
	Pattern     hfPattern         `json:"pattern"`
	Content     string            `json:"content"`
	Left        bool              `json:"left"`
	Right       bool              `json:"right"`
}

// isNull reports whether a JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// parseNormalizer reads tokenizer.json's "normalizer"; nil means none. where names the field
// in errors ("normalizer", "normalizer.normalizers[1]").
func parseNormalizer(raw json.RawMessage, where string) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var n hfNormalizer
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	switch n.Type {
	case "NFC":
		return unicodeForm{norm.NFC}, nil
	case "NFD":
		return unicodeForm{norm.NFD}, nil
	case "NFKC":
		return unicodeForm{norm.NFKC}, nil
	case "NFKD":
		return unicodeForm{norm.NFKD}, nil
	case "Prepend":
		return prependNorm{n.Prepend}, nil
	case "Replace":
		r, err := n.Pattern.replacer(n.Content, where)
		if err != nil {
			return nil, err
		}
		return replaceNorm{r}, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "Strip":
		return stripNorm{left: n.Left, right: n.Right}, nil
	case "StripAccents":
		return stripAccentsNorm{}, nil
	case "Sequence":
		var seq sequenceNorm
		for i, sub := range n.Normalizers {
			s, err := parseNormalizer(sub, fmt.Sprintf("%s.normalizers[%d]", where, i))
			if err != nil {
				return nil, err
			}
			if s != nil {
				seq = append(seq, s)
			}
		}
		return seq, nil
	}
	return nil, fmt.Errorf("%s: type %q is not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Lowercase, Strip, StripAccents, Sequence)", where, n.Type)
}
