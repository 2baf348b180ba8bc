package merge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/ordermerge/ordermerge/tensor"
)

// vocabulary is a tokenizer's token -> id map (tokenizer.json's model vocabulary plus its
// added tokens, what transformers' get_vocab returns), limited to the ids below the model's
// vocab_size as mergekit does.
type vocabulary struct {
	ids   map[string]int
	added map[string]json.RawMessage // added tokens' entries, by content
	dir   string
}

// errNoTokenizer says a model folder has no tokenizer.json.
var errNoTokenizer = errors.New("no tokenizer.json (mapping embeddings between vocabularies needs a Hugging Face fast tokenizer file)")

// readVocabulary reads dir/tokenizer.json. limit (the config's vocab_size, 0 for none) drops
// ids at or above it.
func readVocabulary(dir string, limit int) (*vocabulary, error) {
	path := filepath.Join(dir, "tokenizer.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, errNoTokenizer)
	}
	if err != nil {
		return nil, err
	}
	var tj struct {
		Model struct {
			Type  string          `json:"type"`
			Vocab json.RawMessage `json:"vocab"`
		} `json:"model"`
		AddedTokens []json.RawMessage `json:"added_tokens"`
	}
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v := &vocabulary{ids: map[string]int{}, added: map[string]json.RawMessage{}, dir: dir}
	var asMap map[string]int
	if err := json.Unmarshal(tj.Model.Vocab, &asMap); err == nil {
		for tok, id := range asMap {
			v.ids[tok] = id
		}
	} else {
		// Unigram: a list of [token, score], the id being the position.
		var list [][]json.RawMessage
		if err := json.Unmarshal(tj.Model.Vocab, &list); err != nil {
			return nil, fmt.Errorf("%s: model.vocab is neither a token map nor a Unigram list", path)
		}
		for id, e := range list {
			var tok string
			if len(e) == 0 || json.Unmarshal(e[0], &tok) != nil {
				return nil, fmt.Errorf("%s: model.vocab entry %d has no token", path, id)
			}
			v.ids[tok] = id
		}
	}
	for i, raw := range tj.AddedTokens {
		var at struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		}
		if err := json.Unmarshal(raw, &at); err != nil {
			return nil, fmt.Errorf("%s: added_tokens[%d]: %w", path, i, err)
		}
		v.ids[at.Content] = at.ID
		v.added[at.Content] = raw
	}
	if limit > 0 {
		for tok, id := range v.ids {
			if id >= limit {
				delete(v.ids, tok)
			}
		}
	}
	return v, nil
}

// tokens returns the tokens in id order.
func (v *vocabulary) tokens() []string {
	out := make([]string, 0, len(v.ids))
	for tok := range v.ids {
		out = append(out, tok)
	}
	sort.Slice(out, func(i, j int) bool {
		return v.ids[out[i]] < v.ids[out[j]] || (v.ids[out[i]] == v.ids[out[j]] && out[i] < out[j])
	})
	return out
}

// outputVocab is the vocabulary of the merged model and, for the union, the tokens appended
// to the base tokenizer.
type outputVocab struct {
	tokens   []string // by output id
	ids      map[string]int
	rows     int // embedding rows: len(tokens) padded
	srcDir   string
	appended []string // union: tokens the base tokenizer lacks, in output order
	union    *vocabulary
	inputs   []*vocabulary
}

// buildOutputVocab builds the output vocabulary from source ("base", "union" or the index of
// the input whose tokenizer is used) over the inputs' vocabularies (base first, when there is
// one). The union keeps the base's ids and appends, model by model in id order, the ordinary
// tokens and then the added tokens the output lacks so far.
func buildOutputVocab(source string, sourceIdx int, vocabs []*vocabulary, pad int, extra []string) *outputVocab {
	ov := &outputVocab{ids: map[string]int{}, inputs: vocabs}
	addTok := func(tok string) {
		if _, ok := ov.ids[tok]; !ok {
			ov.ids[tok] = len(ov.tokens)
			ov.tokens = append(ov.tokens, tok)
		}
	}
	switch source {
	case "union":
		for _, tok := range vocabs[0].tokens() {
			addTok(tok)
		}
		ov.srcDir = vocabs[0].dir
		ov.union = vocabs[0]
		for _, added := range []bool{false, true} {
			for _, v := range vocabs {
				for _, tok := range v.tokens() {
					if _, isAdded := v.added[tok]; isAdded != added {
						continue
					}
					if _, ok := ov.ids[tok]; !ok {
						addTok(tok)
						ov.appended = append(ov.appended, tok)
					}
				}
			}
		}
	default:
		v := vocabs[sourceIdx]
		for _, tok := range v.tokens() {
			addTok(tok)
		}
		ov.srcDir = v.dir
	}
	// Tokens the tokenizer block's rules name are added when missing, as mergekit adds them.
	for _, tok := range extra {
		if _, ok := ov.ids[tok]; !ok {
			addTok(tok)
			ov.appended = append(ov.appended, tok)
		}
	}
	ov.rows = len(ov.tokens)
	if pad > 1 && ov.rows%pad != 0 {
		ov.rows += pad - ov.rows%pad
	}
	return ov
}

// permuteEmbeddings wraps every input (base first, when there is one, as in vocabs) so that
// its embedding tensors have one row per output token, as mergekit's PermutedEmbeddings
// does: a model's own row when it has the token; else the row of the only model that has it,
// the base's row when the base has it, or the mean of the rows of the models that have it;
// zeros when none does (and for padding rows).
//
// A rule of the tokenizer block's tokens replaces the default row of its token: another
// model's row (its own token's, or a token or id of its vocabulary), or zeros; the models that
// have the token keep their own row unless the rule forces it.
func permuteEmbeddings(srcs []source, vocabs []*vocabulary, ov *outputVocab, hasBase bool, rules map[int]tokenRule) ([]source, error) {
	out := make([]source, len(srcs))
	views := make([]*permutedSource, len(srcs))
	for i, s := range srcs {
		views[i] = &permutedSource{src: s, tables: map[string]*rowTable{}}
		out[i] = views[i]
	}
	for _, name := range srcs[0].names() {
		if !isEmbedding(name) {
			continue
		}
		entries := make([]tensor.Entry, len(srcs))
		for i, s := range srcs {
			e, ok := s.entry(name)
			if !ok {
				return nil, fmt.Errorf("%s: not in every model", name)
			}
			if len(e.Shape) != 2 || (i > 0 && e.Shape[1] != entries[0].Shape[1]) {
				return nil, fmt.Errorf("%s: embeddings must be [rows, dim] with the same dim everywhere, got %s", name, tensor.FormatShape(e.Shape))
			}
			if !e.DType.IsFloat() {
				return nil, fmt.Errorf("%s: %s embeddings cannot be remapped", name, e.DType)
			}
			entries[i] = e
		}
		dim := entries[0].Shape[1]
		rowsOf := func(i int) []int {
			r := make([]int, ov.rows)
			for id := range r {
				r[id] = -1
				if id >= len(ov.tokens) {
					continue
				}
				if src, ok := vocabs[i].ids[ov.tokens[id]]; ok && src < entries[i].Shape[0] {
					r[id] = src
				}
			}
			return r
		}
		perm := make([][]int, len(srcs))
		for i := range srcs {
			perm[i] = rowsOf(i)
		}
		readRow := func(i, row int) ([]float32, error) {
			size := entries[i].DType.Size()
			raw := make([]byte, dim*size)
			if err := srcs[i].readAt(name, raw, int64(row)*int64(dim*size)); err != nil {
				return nil, err
			}
			f := make([]float32, dim)
			if err := decodeBlock(f, raw, entries[i].DType); err != nil {
				return nil, err
			}
			return f, nil
		}
		// The default row of each token some model lacks, or a rule sets.
		defaults := map[int][]float32{}
		for id, rule := range rules {
			if rule.zero {
				defaults[id] = make([]float32, dim)
				continue
			}
			row := rule.row
			if row < 0 {
				row = perm[rule.model][id]
			}
			if row < 0 || row >= entries[rule.model].Shape[0] {
				return nil, fmt.Errorf("tokenizer.tokens[%q]: %s has no such row", ov.tokens[id], name)
			}
			r, err := readRow(rule.model, row)
			if err != nil {
				return nil, err
			}
			defaults[id] = r
			if rule.force {
				for i := range srcs {
					perm[i][id] = -1
				}
			}
		}
		for id := range len(ov.tokens) {
			if _, ruled := rules[id]; ruled {
				continue
			}
			var have []int
			for i := range srcs {
				if perm[i][id] >= 0 {
					have = append(have, i)
				}
			}
			if len(have) == len(srcs) || len(have) == 0 {
				continue // everyone has it, or zeros
			}
			from := have
			if len(have) > 1 && hasBase && perm[0][id] >= 0 {
				from = []int{0}
			}
			mean := make([]float64, dim)
			for _, i := range from {
				r, err := readRow(i, perm[i][id])
				if err != nil {
					return nil, err
				}
				for j, x := range r {
					mean[j] += float64(x)
				}
			}
			d := make([]float32, dim)
			for j := range d {
				d[j] = float32(mean[j] / float64(len(from)))
			}
			defaults[id] = d
		}
		for i := range srcs {
			e := entries[i]
			e.Shape = []int{ov.rows, dim}
			e.Size = int64(ov.rows) * int64(dim*e.DType.Size())
			t := &rowTable{entry: e, rows: perm[i], fill: map[int][]byte{}, rowBytes: int64(dim * e.DType.Size())}
			for id, d := range defaults {
				if perm[i][id] < 0 {
					raw := make([]byte, t.rowBytes)
					encodeRounded(raw, d, e.DType)
					t.fill[id] = raw
				}
			}
			views[i].tables[name] = t
		}
	}
	return out, nil
}

// tokenRule is a tokenizer.tokens rule resolved to input indices: the row of input model
// (its row for the token itself when row < 0), or zeros.
type tokenRule struct {
	zero  bool
	model int
	row   int
	force bool
}

// unionTokenizer returns the source's tokenizer.json with the tokens appended to the
// vocabulary (the union's, and those the tokens rules add) as added tokens (an ordinary token another model has is added as a normal, non-special one).
func (ov *outputVocab) unionTokenizer() ([]byte, error) {
	path := filepath.Join(ov.srcDir, "tokenizer.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var added []json.RawMessage
	if a, ok := raw["added_tokens"]; ok {
		if err := json.Unmarshal(a, &added); err != nil {
			return nil, fmt.Errorf("%s: added_tokens: %w", path, err)
		}
	}
	for _, tok := range ov.appended {
		entry := map[string]any{"content": tok, "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}
		for _, v := range ov.inputs {
			if a, ok := v.added[tok]; ok {
				entry = map[string]any{}
				if err := json.Unmarshal(a, &entry); err != nil {
					return nil, err
				}
				break
			}
		}
		entry["id"] = ov.ids[tok]
		e, err := json.Marshal(entry)
		if err != nil {
			return nil, err
		}
		added = append(added, e)
	}
	if raw["added_tokens"], err = json.Marshal(added); err != nil {
		return nil, err
	}
	return json.MarshalIndent(raw, "", "  ")
}
