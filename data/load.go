package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File formats Load reads.
const (
	FormatAlpaca           = "alpaca"            // {"instruction", "input", "output"}; JSON array or JSONL
	FormatGSM8K            = "gsm8k"             // {"question", "answer"}, answer ending "#### N"; JSONL
	FormatChat             = "chat"              // {"messages": [{"role", "content"}, ...]}; JSONL
	FormatPromptCompletion = "prompt-completion" // {"prompt", "completion"}; JSONL
)

// Formats lists the file formats Load reads.
func Formats() []string {
	return []string{FormatAlpaca, FormatGSM8K, FormatChat, FormatPromptCompletion}
}

// LoadOptions controls LoadWith.
type LoadOptions struct {
	// Format is one of Formats, or "" to detect it from the first record's fields.
	Format string
	// SkipBad leaves malformed records out (counted in Dataset.Skipped, the first few
	// described in Dataset.Problems) instead of failing. A JSON array with a syntax error
	// cannot be read past the error and fails regardless.
	SkipBad bool
	// Metric overrides the format's default metric (final-answer for gsm8k, exact-match
	// otherwise).
	Metric string
	// Split is recorded in Dataset.Split.
	Split string
}

// maxProblems caps the malformed-record descriptions kept with SkipBad.
const maxProblems = 10

// Load reads a dataset file, detecting its format; see LoadWith.
func Load(path string) (*Dataset, error) { return LoadWith(path, LoadOptions{}) }

// LoadWith reads a dataset file: a JSON array (Alpaca's published layout) or JSON Lines (one
// object per line; blank lines are ignored).
//
// Each sample's ID is the file's base name and the 1-based line on which its record starts,
// "alpaca_data.json:42": stable across runs and machines, and it points a reader at the
// record. (Editing the file above a record changes its ID; the content does not enter it.)
//
// How each format maps onto a Sample: Alpaca's instruction, then a blank line and the input
// when the input is not empty, is the prompt and its output the response; GSM8K's question is
// the prompt and its whole answer (worked steps and "#### N") the response; a chat's last
// message must be the assistant's and is the response, the user message before it is the
// prompt, a leading system message becomes System and the turns between become History;
// prompt/completion map directly. Errors name the file and line.
func LoadWith(path string, opts LoadOptions) (*Dataset, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load dataset: %w", err)
	}
	if opts.Format != "" && formatIndex(opts.Format) < 0 {
		return nil, fmt.Errorf("load dataset %s: unknown format %q (want %s)", path, opts.Format, strings.Join(Formats(), ", "))
	}
	base := filepath.Base(path)
	d := &Dataset{
		Name:   strings.TrimSuffix(base, filepath.Ext(base)),
		Source: path,
		Format: opts.Format,
		Split:  opts.Split,
	}
	r := &reader{path: path, base: base, opts: opts, d: d}
	if trimmed := bytes.TrimLeft(raw, " \t\r\n\ufeff"); len(trimmed) > 0 && trimmed[0] == '[' {
		err = r.readArray(raw)
	} else {
		err = r.readLines(raw)
	}
	if err != nil {
		return nil, err
	}
	if len(d.Samples) == 0 {
		return nil, fmt.Errorf("load dataset %s: no samples (%d malformed records skipped)", path, d.Skipped)
	}
	d.Metric = defaultMetric(d.Format)
	if opts.Metric != "" {
		switch opts.Metric {
		case MetricExactMatch, MetricFinalAnswer, MetricPassAt1:
			d.Metric = opts.Metric
		default:
			return nil, fmt.Errorf("load dataset %s: unknown metric %q", path, opts.Metric)
		}
	}
	return d, nil
}

func formatIndex(f string) int {
	for i, g := range Formats() {
		if g == f {
			return i
		}
	}
	return -1
}

func defaultMetric(format string) string {
	if format == FormatGSM8K {
		return MetricFinalAnswer
	}
	return MetricExactMatch
}

type reader struct {
	path, base string
	opts       LoadOptions
	d          *Dataset
}

// record handles one record: parse, convert, or fail/skip with file:line.
func (r *reader) record(line int, raw []byte) error {
	s, err := r.convert(raw)
	if err == nil {
		s.ID = fmt.Sprintf("%s:%d", r.base, line)
		r.d.Samples = append(r.d.Samples, s)
		return nil
	}
	msg := fmt.Sprintf("%s:%d: %v", r.path, line, err)
	if !r.opts.SkipBad || errors.Is(err, errUndetectable) {
		return errors.New("load dataset: " + msg)
	}
	r.d.Skipped++
	if len(r.d.Problems) < maxProblems {
		r.d.Problems = append(r.d.Problems, msg)
	}
	return nil
}

func (r *reader) readLines(raw []byte) error {
	for i, line := range bytes.Split(raw, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if i == 0 {
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		if len(line) == 0 {
			continue
		}
		if err := r.record(i+1, line); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) readArray(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	lineAt := lineCounter(raw)
	if _, err := dec.Token(); err != nil { // the opening bracket
		return fmt.Errorf("load dataset: %s:%d: %w", r.path, lineAt(int(dec.InputOffset())), err)
	}
	for dec.More() {
		start := int(dec.InputOffset())
		for start < len(raw) && strings.IndexByte(" \t\r\n,", raw[start]) >= 0 {
			start++
		}
		var elem json.RawMessage
		if err := dec.Decode(&elem); err != nil {
			at := start
			var se *json.SyntaxError
			if errors.As(err, &se) {
				at = int(se.Offset)
			}
			return fmt.Errorf("load dataset: %s:%d: %w (a JSON array cannot be read past a syntax error)", r.path, lineAt(at), err)
		}
		if err := r.record(lineAt(start), elem); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("load dataset: %s:%d: %w", r.path, lineAt(int(dec.InputOffset())), err)
	}
	return nil
}

// lineCounter returns a function giving the 1-based line of a byte offset; offsets must not
// decrease from call to call (it counts incrementally, so a whole file costs one pass).
func lineCounter(raw []byte) func(off int) int {
	pos, line := 0, 1
	return func(off int) int {
		off = min(off, len(raw))
		if off > pos {
			line += bytes.Count(raw[pos:off], []byte("\n"))
			pos = off
		}
		return line
	}
}

var errUndetectable = errors.New("cannot tell the format")

// convert turns one JSON record into a Sample under the dataset's format, detecting the
// format from this record if it is not known yet.
func (r *reader) convert(raw []byte) (Sample, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Sample{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if r.d.Format == "" {
		f := detect(obj)
		if f == "" {
			var keys []string
			for k := range obj {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return Sample{}, fmt.Errorf("%w from fields %v: want messages (chat), instruction+output (alpaca), question+answer (gsm8k) or prompt+completion", errUndetectable, keys)
		}
		r.d.Format = f
	}
	f := fields{obj}
	switch r.d.Format {
	case FormatAlpaca:
		instr, err := f.str("instruction", true)
		if err != nil {
			return Sample{}, err
		}
		input, err := f.str("input", false)
		if err != nil {
			return Sample{}, err
		}
		out, err := f.present("output")
		if err != nil {
			return Sample{}, err
		}
		prompt := instr
		if strings.TrimSpace(input) != "" {
			prompt += "\n\n" + input
		}
		return Sample{Prompt: prompt, Response: out}, nil
	case FormatGSM8K:
		q, err := f.str("question", true)
		if err != nil {
			return Sample{}, err
		}
		a, err := f.str("answer", true)
		if err != nil {
			return Sample{}, err
		}
		if _, ok := FinalAnswer(a); !ok {
			return Sample{}, fmt.Errorf("field answer has no '#### N' final answer")
		}
		return Sample{Prompt: q, Response: a}, nil
	case FormatChat:
		return chatSample(obj)
	default: // FormatPromptCompletion
		p, err := f.str("prompt", true)
		if err != nil {
			return Sample{}, err
		}
		c, err := f.present("completion")
		if err != nil {
			return Sample{}, err
		}
		return Sample{Prompt: p, Response: c}, nil
	}
}

func detect(obj map[string]json.RawMessage) string {
	has := func(k string) bool { _, ok := obj[k]; return ok }
	switch {
	case has("messages"):
		return FormatChat
	case has("instruction") && has("output"):
		return FormatAlpaca
	case has("question") && has("answer"):
		return FormatGSM8K
	case has("prompt") && has("completion"):
		return FormatPromptCompletion
	}
	return ""
}

type fields struct{ obj map[string]json.RawMessage }

// str reads a string field; required fields must be present and not empty.
func (f fields) str(name string, required bool) (string, error) {
	raw, ok := f.obj[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if required {
			return "", fmt.Errorf("missing field %s", name)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("field %s: want a string, got %s", name, abbreviate(raw))
	}
	if required && strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("field %s is empty", name)
	}
	return s, nil
}

// present reads a string field that must exist but may be empty (a response of "" trains
// the model to stop at once, which is legitimate data).
func (f fields) present(name string) (string, error) {
	if _, ok := f.obj[name]; !ok {
		return "", fmt.Errorf("missing field %s", name)
	}
	return f.str(name, false)
}

func abbreviate(raw []byte) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

func chatSample(obj map[string]json.RawMessage) (Sample, error) {
	var msgs []Message
	if err := json.Unmarshal(obj["messages"], &msgs); err != nil {
		return Sample{}, fmt.Errorf("field messages: want a list of {role, content} objects: %w", err)
	}
	var s Sample
	for i, m := range msgs {
		switch m.Role {
		case "system":
			if i != 0 {
				return Sample{}, fmt.Errorf("messages[%d]: a system message may only come first", i)
			}
			s.System = m.Content
			continue
		case "user", "assistant":
		default:
			return Sample{}, fmt.Errorf("messages[%d]: role %q (want system, user or assistant)", i, m.Role)
		}
		s.History = append(s.History, m)
	}
	n := len(s.History)
	if n < 2 || s.History[n-1].Role != "assistant" || s.History[n-2].Role != "user" {
		return Sample{}, fmt.Errorf("messages: must end with a user message and the assistant's reply to it")
	}
	s.Prompt, s.Response = s.History[n-2].Content, s.History[n-1].Content
	if strings.TrimSpace(s.Prompt) == "" {
		return Sample{}, fmt.Errorf("messages[%d]: the user message is empty", len(msgs)-2)
	}
	s.History = s.History[:n-2]
	if len(s.History) == 0 {
		s.History = nil
	}
	return s, nil
}

// Open names a dataset the way the command line does: "embedded:NAME" for an embedded dataset
// (split "train" or "test"; "" means "train"), anything else as a file path for Load (split is
// only recorded).
func Open(spec, split string) (*Dataset, error) {
	name, ok := strings.CutPrefix(spec, "embedded:")
	if !ok {
		return LoadWith(spec, LoadOptions{Split: split})
	}
	t, err := Embedded(name)
	if err != nil {
		return nil, err
	}
	switch split {
	case "", "train":
		return t.Train, nil
	case "test":
		return t.Test, nil
	}
	return nil, fmt.Errorf("embedded:%s: unknown split %q (want train or test)", name, split)
}
