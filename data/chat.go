package data

import (
	"fmt"
	"strings"

	"github.com/ardanlabs/jinja"

	"github.com/ordermerge/ordermerge/tokenizer"
)

// ChatTemplate lays samples out with a model's own chat template: the Jinja text of
// tokenizer_config.json's chat_template, rendered as transformers' apply_chat_template renders
// it (trim_blocks and lstrip_blocks on; messages, add_generation_prompt, bos_token, eos_token,
// unk_token, pad_token and date_string defined), then tokenized in one piece without the
// post-processor's special tokens (the template writes BOS itself), as apply_chat_template with
// tokenize=True does.
//
// Loss goes to the assistant turns only. Their spans are taken from the rendering itself: the
// conversation up to an assistant turn rendered with add_generation_prompt (the prompt the model
// sees) and the conversation including that turn; the text between the two is the turn as the
// model must produce it, its end-of-turn token included. Every assistant turn of a chat carries
// loss, earlier ones too (Example.Loss marks them when they are not one run to the end). A
// template that renders earlier turns differently once later turns follow falls back to
// finding the turn's text in the rendering.
//
// A tokenizer without a chat template (a base model's) gets FallbackChatTemplate; see
// ChatTemplateFor. Templates that print a date get DefaultChatDate, not today's date, so a
// sample renders the same every day.
type ChatTemplate struct {
	// Name says where the template came from: "tokenizer_config.json", "fallback", or the
	// caller's name.
	Name   string
	source string
	tmpl   *jinja.Template
	vars   map[string]any
}

// DefaultChatDate is the date_string chat templates are given (Llama 3.1 and 3.2 print it in
// their system header). transformers passes today's date; a fixed one keeps data reproducible.
const DefaultChatDate = "26 Jul 2024"

// FallbackChatTemplate formats chats for tokenizers that have no chat template: the Alpaca-style
// text layout of TemplateByName("alpaca"), with the tokenizer's BOS first (when it has one) and
// its EOS after each assistant turn.
const FallbackChatTemplate = `{{- bos_token if bos_token is defined else '' -}}
{%- for m in messages -%}
{%- if m.role == 'system' -%}
{{ m.content }}{{ '\n\n' }}
{%- elif m.role == 'user' -%}
{{ '### Instruction:\n' }}{{ m.content }}{{ '\n\n' }}
{%- else -%}
{{ '### Response:\n' }}{{ m.content }}{{ eos_token if eos_token is defined else '' }}{{ '\n\n' }}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '### Response:\n' }}{%- endif -%}`

// NewChatTemplate compiles a Jinja chat template. tokens gives the texts the template may
// print as bos_token, eos_token, unk_token, pad_token (missing ones stay undefined, as
// transformers leaves a None token out); date_string defaults to DefaultChatDate.
func NewChatTemplate(name, source string, tokens map[string]string) (*ChatTemplate, error) {
	t, err := jinja.Compile(source)
	if err != nil {
		return nil, fmt.Errorf("chat template %s: %w", name, err)
	}
	vars := map[string]any{"date_string": DefaultChatDate}
	for k, v := range tokens {
		vars[k] = v
	}
	return &ChatTemplate{Name: name, source: source, tmpl: t, vars: vars}, nil
}

// chatSource is what a tokenizer with a chat template offers; *tokenizer.BPE has both.
type chatSource interface {
	ChatTemplate() string
	SpecialContent(name string) (string, bool)
}

// ChatTemplateFor returns the chat template of tok's tokenizer_config.json, or
// FallbackChatTemplate (Name "fallback") when it has none, with tok's special tokens.
func ChatTemplateFor(tok tokenizer.Tokenizer) (*ChatTemplate, error) {
	tokens := map[string]string{}
	src, name := FallbackChatTemplate, "fallback"
	roles := map[string]string{"bos_token": tokenizer.BOS, "eos_token": tokenizer.EOS, "unk_token": tokenizer.UNK, "pad_token": tokenizer.PAD}
	if cs, ok := tok.(chatSource); ok {
		if t := cs.ChatTemplate(); t != "" {
			src, name = t, "tokenizer_config.json"
		}
		for k, role := range roles {
			if c, ok := cs.SpecialContent(role); ok {
				tokens[k] = c
			}
		}
	} else {
		for k, role := range roles {
			if id, ok := tok.Special(role); ok {
				tokens[k] = tok.Decode([]int32{id})
			}
		}
	}
	return NewChatTemplate(name, src, tokens)
}

// ChatLayout is the layout name that LayoutByName (and the CLI's --template) reads as "the
// tokenizer's own chat template".
const ChatLayout = "chat"

// LayoutByName returns EncodeOptions laying samples out as name says: a built-in Template
// (TemplateNames), or ChatLayout for tok's chat template (FallbackChatTemplate when it has
// none).
func LayoutByName(name string, tok tokenizer.Tokenizer) (EncodeOptions, error) {
	if name == ChatLayout {
		c, err := ChatTemplateFor(tok)
		return EncodeOptions{Chat: c}, err
	}
	t, err := TemplateByName(name)
	if err != nil {
		return EncodeOptions{}, fmt.Errorf("%w, or %s", err, ChatLayout)
	}
	return EncodeOptions{Template: t}, nil
}

// Source returns the template's Jinja text.
func (c *ChatTemplate) Source() string { return c.source }

// Render renders messages; with addGenerationPrompt the text ends where the assistant's reply
// begins.
func (c *ChatTemplate) Render(messages []Message, addGenerationPrompt bool) (string, error) {
	msgs := make([]jinja.Value, len(messages))
	for i, m := range messages {
		d := jinja.NewDict()
		d.AsDict().Set("role", jinja.NewString(m.Role))
		d.AsDict().Set("content", jinja.NewString(m.Content))
		msgs[i] = d
	}
	vals := make(map[string]jinja.Value, len(c.vars)+2)
	for k, v := range c.vars {
		vals[k] = jinja.FromGoValue(v)
	}
	vals["messages"] = jinja.NewList(msgs)
	vals["add_generation_prompt"] = jinja.NewBool(addGenerationPrompt)
	out, err := c.tmpl.RenderValues(vals)
	if err != nil {
		return "", fmt.Errorf("chat template %s: %w", c.Name, err)
	}
	return out, nil
}

// Messages lists a sample as a conversation: its system message, its history, the prompt as
// the last user turn and, when withResponse is set, the response as the assistant's reply.
func (s Sample) Messages(withResponse bool) []Message {
	var msgs []Message
	if s.System != "" {
		msgs = append(msgs, Message{Role: "system", Content: s.System})
	}
	msgs = append(msgs, s.History...)
	msgs = append(msgs, Message{Role: "user", Content: s.Prompt})
	if withResponse {
		msgs = append(msgs, Message{Role: "assistant", Content: s.Response})
	}
	return msgs
}

// EncodePrompt returns the tokens a model is given to generate the response to s.
func (c *ChatTemplate) EncodePrompt(tok Encoder, s Sample) ([]int32, error) {
	text, err := c.Render(s.Messages(false), true)
	if err != nil {
		return nil, fmt.Errorf("sample %s: %w", s.ID, err)
	}
	return tok.Encode(text), nil
}

// Encode returns the Example of s: the rendered conversation's tokens, with loss on the
// assistant turns only.
func (c *ChatTemplate) Encode(tok Encoder, s Sample) (Example, error) {
	msgs := s.Messages(true)
	full, err := c.Render(msgs, false)
	if err != nil {
		return Example{}, fmt.Errorf("sample %s: %w", s.ID, err)
	}
	ids := tok.Encode(full)
	loss := make([]bool, len(ids))
	cursor := 0
	for k, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		a, b, err := c.assistantSpan(msgs, k, full, cursor)
		if err != nil {
			return Example{}, fmt.Errorf("sample %s: %w", s.ID, err)
		}
		// A token that straddles a boundary goes to the side its start is on.
		from := commonPrefix(tok.Encode(full[:a]), ids)
		to := commonPrefix(tok.Encode(full[:b]), ids)
		for t := from; t < to; t++ {
			loss[t] = true
		}
		cursor = b
	}
	ex := Example{ID: s.ID, Tokens: ids, PromptLen: len(ids)}
	for t, l := range loss {
		if l {
			ex.PromptLen = t
			break
		}
	}
	if ex.PromptLen == len(ids) {
		return Example{}, fmt.Errorf("sample %s: chat template %s leaves no assistant token to learn", s.ID, c.Name)
	}
	for t := ex.PromptLen; t < len(ids); t++ {
		if !loss[t] {
			ex.Loss = loss // not one run to the end: the mask says which tokens learn
			break
		}
	}
	return ex, nil
}

// assistantSpan finds the assistant turn msgs[k] in the rendered conversation full, at or after
// cursor: [a, b) runs from the end of the generation prompt to the end of the turn.
func (c *ChatTemplate) assistantSpan(msgs []Message, k int, full string, cursor int) (int, int, error) {
	pre, err1 := c.Render(msgs[:k], true)
	post, err2 := c.Render(msgs[:k+1], false)
	if err1 == nil && err2 == nil && len(pre) >= cursor && len(post) > len(pre) &&
		strings.HasPrefix(post, pre) && strings.HasPrefix(full, post) {
		return len(pre), len(post), nil
	}
	content := msgs[k].Content
	i := strings.Index(full[cursor:], content)
	if content == "" || i < 0 {
		return 0, 0, fmt.Errorf("chat template %s: assistant turn %d is neither rendered as a prefix of the conversation nor found in it", c.Name, k)
	}
	return cursor + i, cursor + i + len(content), nil
}

func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// Stop returns the tokens that end an assistant turn: the first token the template writes
// after a reply (<|eot_id|>, <|im_end|>, <end_of_turn>, </s>), and the tokenizer's EOS.
func (c *ChatTemplate) Stop(tok Encoder) ([]int32, error) {
	const sentinel = "ordermerge-reply-sentinel"
	text, err := c.Render([]Message{{Role: "user", Content: "x"}, {Role: "assistant", Content: sentinel}}, false)
	if err != nil {
		return nil, err
	}
	var stop []int32
	if i := strings.Index(text, sentinel); i >= 0 {
		if after := tok.Encode(text[i+len(sentinel):]); len(after) > 0 {
			if _, special := tok.Special(tok2content(tok, after[0])); special {
				stop = append(stop, after[0])
			}
		}
	}
	if eos, ok := tok.Special(tokenizer.EOS); ok && (len(stop) == 0 || stop[0] != eos) {
		stop = append(stop, eos)
	}
	if len(stop) == 0 {
		return nil, fmt.Errorf("chat template %s: no token ends an assistant turn (no special token after a reply, and the tokenizer has no EOS)", c.Name)
	}
	return stop, nil
}

// tok2content names a token for Special: its text when the tokenizer can decode, "" otherwise.
func tok2content(tok Encoder, id int32) string {
	if d, ok := tok.(interface{ Decode([]int32) string }); ok {
		return d.Decode([]int32{id})
	}
	return ""
}
