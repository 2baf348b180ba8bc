package tokenizer

import (
	"encoding/json"
	"fmt"
)

// A postProcessor adds the special tokens a model expects around an encoded sequence
// (tokenizer.json's "post_processor"), for a single sequence; EncodeSpecial applies it.
type postProcessor interface {
	apply(ids []int32) []int32
}

// wrapPost puts fixed ids before and after the sequence: TemplateProcessing's "single"
// template, RobertaProcessing and BertProcessing (cls ... sep).
type wrapPost struct{ before, after []int32 }

func (w wrapPost) apply(ids []int32) []int32 {
	out := make([]int32, 0, len(w.before)+len(ids)+len(w.after))
	out = append(out, w.before...)
	out = append(out, ids...)
	return append(out, w.after...)
}

type sequencePost []postProcessor

func (q sequencePost) apply(ids []int32) []int32 {
	for _, p := range q {
		ids = p.apply(ids)
	}
	return ids
}

type hfPostProcessor struct {
	Type       string            `json:"type"`
	Processors []json.RawMessage `json:"processors"`
	Single     []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int32 `json:"ids"`
	} `json:"special_tokens"`
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
}

// parsePostProcessor reads tokenizer.json's "post_processor" (nil: none). lookup resolves a
// token's content to its id.
func parsePostProcessor(raw json.RawMessage, where string, lookup func(string) (int32, bool)) (postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	var p hfPostProcessor
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	switch p.Type {
	case "ByteLevel":
		return nil, nil // it adjusts offsets only
	case "TemplateProcessing":
		var w wrapPost
		seen := false
		for i, item := range p.Single {
			switch {
			case item.Sequence != nil:
				if seen {
					return nil, fmt.Errorf("%s: single[%d]: the sequence appears twice", where, i)
				}
				seen = true
			case item.SpecialToken != nil:
				st, ok := p.SpecialTokens[item.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("%s: single[%d]: special token %q is not in special_tokens", where, i, item.SpecialToken.ID)
				}
				if seen {
					w.after = append(w.after, st.IDs...)
				} else {
					w.before = append(w.before, st.IDs...)
				}
			default:
				return nil, fmt.Errorf("%s: single[%d]: want a SpecialToken or a Sequence", where, i)
			}
		}
		return w, nil
	case "RobertaProcessing", "BertProcessing":
		cls, err := processorToken(p.Cls, lookup)
		if err != nil {
			return nil, fmt.Errorf("%s: cls: %w", where, err)
		}
		sep, err := processorToken(p.Sep, lookup)
		if err != nil {
			return nil, fmt.Errorf("%s: sep: %w", where, err)
		}
		return wrapPost{before: []int32{cls}, after: []int32{sep}}, nil
	case "Sequence":
		var seq sequencePost
		for i, sub := range p.Processors {
			s, err := parsePostProcessor(sub, fmt.Sprintf("%s.processors[%d]", where, i), lookup)
			if err != nil {
				return nil, err
			}
			if s != nil {
				seq = append(seq, s)
			}
		}
		if len(seq) == 0 {
			return nil, nil
		}
		return seq, nil
	}
	return nil, fmt.Errorf("%s: type %q is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence)", where, p.Type)
}

// processorToken reads a ["content", id] pair.
func processorToken(pair []json.RawMessage, lookup func(string) (int32, bool)) (int32, error) {
	if len(pair) != 2 {
		return 0, fmt.Errorf("want [content, id]")
	}
	var id int32
	if err := json.Unmarshal(pair[1], &id); err != nil {
		var content string
		if err2 := json.Unmarshal(pair[0], &content); err2 != nil {
			return 0, fmt.Errorf("want [content, id]: %w", err)
		}
		found, ok := lookup(content)
		if !ok {
			return 0, fmt.Errorf("token %q is not in the vocabulary", content)
		}
		return found, nil
	}
	return id, nil
}
