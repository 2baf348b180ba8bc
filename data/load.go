package data

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// cannot be read past the error and fails regardless, and so does a file whose first
	// records are all malformed (it is not a dataset).
	SkipBad bool
	// Metric overrides the format's default metric (final-answer for gsm8k, exact-match
	// otherwise).
	Metric string
	// Split is recorded in Dataset.Split.
	Split string
	// MaxRecordBytes bounds one record (a line of JSON Lines, an element of a JSON array);
	// zero means DefaultMaxRecordBytes. The file is read as a stream, record by record, so
	// memory grows with the samples kept, never with a line that does not end (/dev/zero).
	MaxRecordBytes int
}

// DefaultMaxRecordBytes is the longest record accepted unless LoadOptions says otherwise: far
// beyond any real sample (a long chat is a few hundred KB), and small enough that reading it
// never endangers a run.
const DefaultMaxRecordBytes = 32 << 20

// maxProblems caps the malformed-record descriptions kept with SkipBad.
const maxProblems = 10

// maxLeadingBad is how many malformed records in a row, before any good one, make a file
// count as not a dataset even with SkipBad (a binary file, /dev/urandom).
const maxLeadingBad = 1000

// Load reads a dataset file, detecting its format; see LoadWith.
func Load(path string) (*Dataset, error) { return LoadWith(path, LoadOptions{}) }

// LoadWith reads a dataset file: a JSON array (Alpaca's published layout) or JSON Lines (one
// object per line; blank lines are ignored). It is LoadContext without cancellation.
//
// Each sample's ID is the file's base name and the 1-based line on which its record starts,
// "alpaca_data.json:42": stable across runs and machines, and it points a reader at the
// record. When several records start on one line (a JSON array written on a single line),
// each of those gets the column too, "alpaca_data.json:1:3071", so IDs stay unique. (Editing
// the file above a record changes its ID; the content does not enter it.)
//
// How each format maps onto a Sample: Alpaca's instruction, then a blank line and the input
// when the input is not empty, is the prompt and its output the response; GSM8K's question is
// the prompt and its whole answer (worked steps and "#### N") the response; a chat's last
// message must be the assistant's and is the response, the user message before it is the
// prompt, a leading system message becomes System and the turns between become History;
// prompt/completion map directly. Errors name the file and line.
func LoadWith(path string, opts LoadOptions) (*Dataset, error) {
	return LoadContext(context.Background(), path, opts)
}

// LoadContext is LoadWith that gives up, with ctx's error, when ctx is cancelled: also while
// a named pipe waits for its writer or a read waits for data.
func LoadContext(ctx context.Context, path string, opts LoadOptions) (*Dataset, error) {
	if opts.Format != "" && formatIndex(opts.Format) < 0 {
		return nil, fmt.Errorf("load dataset %s: unknown format %q (want %s)", path, opts.Format, strings.Join(Formats(), ", "))
	}
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	in, err := openInput(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("load dataset: %w", err)
	}
	defer in.Close()
	base := filepath.Base(path)
	d := &Dataset{
		Name:   strings.TrimSuffix(base, filepath.Ext(base)),
		Source: path,
		Format: opts.Format,
		Split:  opts.Split,
	}
	r := &reader{ctx: ctx, path: path, base: base, opts: opts, d: d}
	br := bufio.NewReaderSize(in, 1<<16)
	first, bom, err := firstByte(br)
	if err != nil {
		return nil, r.readErr(1, err)
	}
	if first == '[' {
		err = r.readArray(br, bom)
	} else {
		err = r.readLines(br)
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

// firstByte peeks at the first byte that is not white space or a byte-order mark, and says
// whether the file starts with a UTF-8 byte-order mark.
func firstByte(br *bufio.Reader) (first byte, bom bool, err error) {
	if b, _ := br.Peek(3); string(b) == "\ufeff" {
		bom = true
	}
	for n := 1; n <= br.Size(); n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return 0, bom, err
		}
		if bom && n <= 3 {
			continue
		}
		if c := b[n-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, bom, nil
		}
	}
	return 0, bom, nil
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
	ctx        context.Context
	path, base string
	opts       LoadOptions
	d          *Dataset
	// line and col of each sample's record, for IDs; starts counts the records (good or bad)
	// starting on each line.
	where  []position
	starts map[int]int
}

type position struct{ line, col int }

// record handles one record: parse, convert, or fail/skip with file:line. at names the place
// in errors ("12" or "1:3071").
func (r *reader) record(pos position, at string, raw []byte) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	s, err := r.convert(raw)
	if err == nil {
		r.d.Samples = append(r.d.Samples, s)
		r.where = append(r.where, pos)
		return nil
	}
	msg := fmt.Sprintf("%s:%s: %v", r.path, at, err)
	if !r.opts.SkipBad || errors.Is(err, errUndetectable) {
		return errors.New("load dataset: " + msg)
	}
	r.d.Skipped++
	if len(r.d.Problems) < maxProblems {
		r.d.Problems = append(r.d.Problems, msg)
	}
	if len(r.d.Samples) == 0 && r.d.Skipped >= maxLeadingBad {
		return fmt.Errorf("load dataset %s: the first %d records are all malformed; is it a dataset file? (first: %s)", r.path, r.d.Skipped, r.d.Problems[0])
	}
	return nil
}

// readErr wraps an error of reading the file (cancellation passes through unchanged).
func (r *reader) readErr(line int, err error) error {
	if r.ctx.Err() != nil && errors.Is(err, r.ctx.Err()) {
		return err
	}
	return fmt.Errorf("load dataset: %s:%d: %w", r.path, line, err)
}

// assignIDs names each sample after the place of its record.
func (r *reader) assignIDs() {
	for i, p := range r.where {
		if r.starts != nil && r.starts[p.line] > 1 {
			r.d.Samples[i].ID = fmt.Sprintf("%s:%d:%d", r.base, p.line, p.col)
		} else {
			r.d.Samples[i].ID = fmt.Sprintf("%s:%d", r.base, p.line)
		}
	}
}

var errRecordTooLong = errors.New("record too long")

func (r *reader) tooLong(what string) error {
	return fmt.Errorf("%s is longer than %s (MaxRecordBytes); not a dataset file?", what, formatSize(r.opts.MaxRecordBytes))
}

func formatSize(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func (r *reader) readLines(br *bufio.Reader) error {
	var buf []byte
	for i := 1; ; i++ {
		line, err := readLine(br, r.opts.MaxRecordBytes, buf[:0])
		buf = line
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errRecordTooLong) {
			return fmt.Errorf("load dataset: %s:%d: %w", r.path, i, r.tooLong("the line"))
		}
		if err != nil {
			return r.readErr(i, err)
		}
		line = bytes.TrimSpace(line)
		if i == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		if len(line) == 0 {
			continue
		}
		if err := r.record(position{line: i}, fmt.Sprint(i), line); err != nil {
			return err
		}
	}
	r.assignIDs()
	return nil
}

// readLine appends the next line, without its newline, to buf; io.EOF once nothing is left.
// A line longer than max is errRecordTooLong, found after reading at most max bytes of it.
func readLine(br *bufio.Reader, max int, buf []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > max+1 {
			return buf, errRecordTooLong
		}
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return buf, nil
		}
		return buf, err
	}
}

// tracker passes a stream through and remembers where its lines start, so that a record's
// byte offset (the JSON decoder's) can be turned into a line and column without keeping the
// file. It also bounds the bytes read since the current record began.
type tracker struct {
	r        io.Reader
	off      int64   // bytes passed through, from the start of the file
	newlines []int64 // offsets of the '\n' bytes seen
	start    int64   // where the current record began
	max      int64
}

func (t *tracker) Read(p []byte) (int, error) {
	if t.off-t.start > t.max {
		return 0, errRecordTooLong
	}
	n, err := t.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			t.newlines = append(t.newlines, t.off+int64(i))
		}
	}
	t.off += int64(n)
	return n, err
}

// at returns the 1-based line and column of byte offset off.
func (t *tracker) at(off int64) position {
	i := sort.Search(len(t.newlines), func(i int) bool { return t.newlines[i] >= off })
	lineStart := int64(0)
	if i > 0 {
		lineStart = t.newlines[i-1] + 1
	}
	return position{line: i + 1, col: int(off-lineStart) + 1}
}

func (r *reader) readArray(br *bufio.Reader, bom bool) error {
	tr := &tracker{r: br, max: int64(r.opts.MaxRecordBytes)}
	if bom {
		br.Discard(3) // offsets count from after it, as the decoder's do
	}
	dec := json.NewDecoder(tr)
	r.starts = map[int]int{}
	fail := func(off int64, err error, suffix string) error {
		if errors.Is(err, errRecordTooLong) {
			return fmt.Errorf("load dataset: %s:%d: %w", r.path, tr.at(tr.start).line, r.tooLong("the array element starting here"))
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		if !errors.As(err, &se) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return r.readErr(tr.at(off).line, err)
		}
		return fmt.Errorf("load dataset: %s:%d: %w%s", r.path, tr.at(off).line, err, suffix)
	}
	if _, err := dec.Token(); err != nil { // the opening bracket
		return fail(dec.InputOffset(), err, "")
	}
	prevLine := 0
	for dec.More() {
		tr.start = dec.InputOffset()
		var elem json.RawMessage
		if err := dec.Decode(&elem); err != nil {
			return fail(tr.start, err, " (a JSON array cannot be read past a syntax error)")
		}
		pos := tr.at(dec.InputOffset() - int64(len(elem)))
		r.starts[pos.line]++
		at := fmt.Sprint(pos.line)
		if pos.line == prevLine {
			at = fmt.Sprintf("%d:%d", pos.line, pos.col)
		}
		prevLine = pos.line
		if err := r.record(pos, at, elem); err != nil {
			return err
		}
	}
	tr.start = dec.InputOffset()
	if _, err := dec.Token(); err != nil {
		return fail(dec.InputOffset(), err, "")
	}
	r.assignIDs()
	return nil
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
	return OpenContext(context.Background(), spec, split)
}

// OpenContext is Open that gives up when ctx is cancelled (see LoadContext).
func OpenContext(ctx context.Context, spec, split string) (*Dataset, error) {
	name, ok := strings.CutPrefix(spec, "embedded:")
	if !ok {
		return LoadContext(ctx, spec, LoadOptions{Split: split})
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
