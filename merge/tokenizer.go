package merge

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ordermerge/ordermerge/tensor"
)

// chatMLTemplate is the ChatML chat format (<|im_start|>role\ncontent<|im_end|>\n per message),
// the named template mergekit configs use most.
const chatMLTemplate = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// tokenizerOut is what the merged folder gets of a tokenizer: files copied from one input,
// a rebuilt tokenizer.json for a union, and the chat template.
type tokenizerOut struct {
	dir           string // the folder the files are copied from ("" for none)
	tokenizerJSON []byte // replaces tokenizer.json (union)
	chatTemplate  string // "" keeps the copied one
}

// planTokenizer decides the output tokenizer: the tokenizer source's files (the reference
// model's without one), the union's tokenizer.json, and the chat template.
func planTokenizer(cfg *Config, ref *opened, ins *inputSet, vocab *outputVocab) (*tokenizerOut, error) {
	t := &tokenizerOut{dir: ref.dir()}
	if vocab != nil {
		t.dir = vocab.srcDir
		if len(vocab.appended) > 0 {
			b, err := vocab.unionTokenizer()
			if err != nil {
				return nil, fmt.Errorf("%stokenizer: %w", cfg.prefix("tokenizer"), err)
			}
			t.tokenizerJSON = b
		}
	}
	switch ct := cfg.ChatTemplate; {
	case ct == "":
	case ct == "auto":
		// The template most inputs have (the first of those tied), as mergekit picks it.
		count := map[string]int{}
		best := ""
		for _, o := range ins.list {
			tmpl := readChatTemplate(o.dir())
			if tmpl == "" {
				continue
			}
			count[tmpl]++
			if best == "" || count[tmpl] > count[best] {
				best = tmpl
			}
		}
		t.chatTemplate = best
	case ct == "chatml":
		t.chatTemplate = chatMLTemplate
	case strings.Contains(ct, "{") && len(ct) >= 20:
		t.chatTemplate = ct
	default:
		return nil, fmt.Errorf("%schat_template %q: give auto, chatml or a Jinja template (mergekit's other named templates are not bundled)", cfg.prefix("chat_template"), ct)
	}
	if t.chatTemplate != "" && (t.dir == "" || !isFile(filepath.Join(t.dir, "tokenizer_config.json"))) {
		return nil, fmt.Errorf("%schat_template: the output has no tokenizer_config.json to hold it", cfg.prefix("chat_template"))
	}
	return t, nil
}

// readChatTemplate returns a model folder's chat template: chat_template.jinja, else
// tokenizer_config.json's chat_template (a string, or the "default" of a list of named ones).
func readChatTemplate(dir string) string {
	if dir == "" {
		return ""
	}
	if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		return strings.TrimSpace(string(b))
	}
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return ""
	}
	var tc struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if json.Unmarshal(b, &tc) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(tc.ChatTemplate, &s) == nil {
		return strings.TrimSpace(s)
	}
	var named []struct{ Name, Template string }
	if json.Unmarshal(tc.ChatTemplate, &named) == nil {
		for _, n := range named {
			if n.Name == "default" {
				return strings.TrimSpace(n.Template)
			}
		}
	}
	return ""
}

// write adds the tokenizer files to the merged folder.
func (t *tokenizerOut) write(w *tensor.CheckpointWriter) error {
	if t.dir == "" {
		return nil
	}
	for _, name := range tokenizerFiles {
		src := filepath.Join(t.dir, name)
		switch {
		case !isFile(src):
			continue
		case name == "tokenizer.json" && t.tokenizerJSON != nil:
			if err := w.AddFile(name, t.tokenizerJSON); err != nil {
				return err
			}
			continue
		case name == "chat_template.jinja" && t.chatTemplate != "":
			continue // replaced by the template in tokenizer_config.json
		case name == "tokenizer_config.json" && t.chatTemplate != "":
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(b, &raw); err != nil {
				return fmt.Errorf("%s: %w", src, err)
			}
			raw["chat_template"], _ = json.Marshal(t.chatTemplate)
			enc, err := json.MarshalIndent(raw, "", "  ")
			if err != nil {
				return err
			}
			if err := w.AddFile(name, append(enc, '\n')); err != nil {
				return err
			}
			continue
		}
		if err := w.CopyFile(name, src); err != nil {
			return err
		}
	}
	return nil
}
