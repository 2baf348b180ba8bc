package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Role names accepted by Special, beside token contents.
const (
	BOS       = "bos"
	EOS       = "eos"
	PAD       = "pad"
	UNK       = "unk"
	System    = "system"
	User      = "user"
	Assistant = "assistant"
)

// readConfig reads tokenizer_config.json: the tokens bound to the roles BOS/EOS/PAD/UNK and the
// chat template.
//
// With a config, a role is bound only when the config names a token for it: "bos_token": null
// (Qwen's) means the model has no BOS, and nothing is guessed. Without a config file at all,
// the well-known tokens of the GPT-2 and Llama 3 families stand in (<|endoftext|> for both BOS
// and EOS in GPT-2's case), so a bare tokenizer.json still has an end-of-text token. The role
// markers system/user/assistant are bound when the file has <|system|>, <|user|>,
// <|assistant|> tokens.
func (t *BPE) readConfig(configJSON []byte, source string) error {
	roles := [...]struct{ name, key string }{{BOS, "bos_token"}, {EOS, "eos_token"}, {PAD, "pad_token"}, {UNK, "unk_token"}}
	if len(bytes.TrimSpace(configJSON)) > 0 {
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(configJSON, &cfg); err != nil {
			return fmt.Errorf("%s: tokenizer_config.json: %w", source, err)
		}
		for _, r := range roles {
			content, err := configToken(cfg[r.key])
			if err != nil {
				return fmt.Errorf("%s: tokenizer_config.json: %s: %w", source, r.key, err)
			}
			if content == "" {
				continue
			}
			id, ok := t.lookup(content)
			if !ok {
				return fmt.Errorf("%s: tokenizer_config.json: %s %q is not a token", source, r.key, content)
			}
			t.specials[r.name] = id
		}
		tmpl, err := configChatTemplate(cfg["chat_template"])
		if err != nil {
			return fmt.Errorf("%s: tokenizer_config.json: chat_template: %w", source, err)
		}
		t.chatTemplate = tmpl
	} else {
		guesses := map[string][]string{
			BOS: {"<|begin_of_text|>", "<s>", "<|bos|>", "<|endoftext|>"},
			EOS: {"<|end_of_text|>", "</s>", "<|eos|>", "<|endoftext|>"},
			PAD: {"<|pad|>", "<pad>"},
		}
		for name, contents := range guesses {
			for _, c := range contents {
				if id, ok := t.added.byContent[c]; ok {
					t.specials[name] = id
					break
				}
			}
		}
		if t.unk >= 0 {
			t.specials[UNK] = t.unk
		}
	}
	for name, c := range map[string]string{System: "<|system|>", User: "<|user|>", Assistant: "<|assistant|>"} {
		if id, ok := t.added.byContent[c]; ok {
			t.specials[name] = id
		}
	}
	return nil
}

// configToken reads a token entry of tokenizer_config.json: a string, an AddedToken object
// ({"content": ...}), or null.
func configToken(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("want a string or an object with content: %w", err)
	}
	return obj.Content, nil
}

// configChatTemplate reads chat_template: a string, or (older files) a list of named templates,
// of which the one named "default" (else the first) is used.
func configChatTemplate(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("want a string or a list of {name, template}: %w", err)
	}
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
	}
	if len(named) > 0 {
		return named[0].Template, nil
	}
	return "", nil
}
