package merge

import (
	"fmt"

	"github.com/ordermerge/ordermerge/tensor"
)

// renamedSource shows another source's tensors under the names the output gives them: a
// slice's layers renumbered, a tied model's embeddings as its lm_head. Nothing is copied.
type renamedSource struct {
	src   source
	to    map[string]string // output name -> name in src
	order []string
}

func newRenamedSource(src source) *renamedSource {
	return &renamedSource{src: src, to: map[string]string{}}
}

// add shows src's tensor from under the output name out (the first mapping of a name wins).
func (r *renamedSource) add(out, from string) {
	if _, dup := r.to[out]; dup {
		return
	}
	if _, ok := r.src.entry(from); !ok {
		return
	}
	r.to[out] = from
	r.order = append(r.order, out)
}

func (r *renamedSource) names() []string { return r.order }

func (r *renamedSource) entry(name string) (tensor.Entry, bool) {
	from, ok := r.to[name]
	if !ok {
		return tensor.Entry{}, false
	}
	e, ok := r.src.entry(from)
	e.Name = name
	return e, ok
}

func (r *renamedSource) readAt(name string, dst []byte, off int64) error {
	from, ok := r.to[name]
	if !ok {
		return fmt.Errorf("no tensor %q", name)
	}
	return r.src.readAt(from, dst, off)
}

func (r *renamedSource) mapped(name string) ([]byte, func([]byte), bool) {
	m, ok := r.src.(mappedSource)
	if from, renamed := r.to[name]; ok && renamed {
		return m.mapped(from)
	}
	return nil, nil, false
}

// permutedSource shows an input's embedding tensors with their rows in the output
// vocabulary's order (mergekit's PermutedEmbeddings): row r is the input's row rows[r], or,
// for a token the input lacks, fill[r] (another model's row, an average, or zeros).
type permutedSource struct {
	src    source
	tables map[string]*rowTable
}

type rowTable struct {
	entry    tensor.Entry // as the output sees it
	rows     []int        // per output row: the input's row, or -1
	fill     map[int][]byte
	rowBytes int64
}

func (p *permutedSource) names() []string { return p.src.names() }

func (p *permutedSource) entry(name string) (tensor.Entry, bool) {
	if t, ok := p.tables[name]; ok {
		return t.entry, true
	}
	return p.src.entry(name)
}

func (p *permutedSource) mapped(name string) ([]byte, func([]byte), bool) {
	m, ok := p.src.(mappedSource)
	if _, permuted := p.tables[name]; ok && !permuted {
		return m.mapped(name)
	}
	return nil, nil, false
}

func (p *permutedSource) readAt(name string, dst []byte, off int64) error {
	t, ok := p.tables[name]
	if !ok {
		return p.src.readAt(name, dst, off)
	}
	end := off + int64(len(dst))
	for pos := off; pos < end; {
		r := int(pos / t.rowBytes)
		in := pos - int64(r)*t.rowBytes
		n := min(end-pos, t.rowBytes-in)
		out := dst[pos-off : pos-off+n]
		switch src := t.rows[r]; {
		case src >= 0:
			// Consecutive rows that are consecutive in the input are read at once.
			for r2 := r + 1; pos+n < end && r2 < len(t.rows) && t.rows[r2] == src+(r2-r); r2++ {
				n = min(end-pos, int64(r2-r+1)*t.rowBytes-in)
			}
			out = dst[pos-off : pos-off+n]
			if err := p.src.readAt(name, out, int64(src)*t.rowBytes+in); err != nil {
				return err
			}
		case t.fill[r] != nil:
			copy(out, t.fill[r][in:])
		default:
			clear(out)
		}
		pos += n
	}
	return nil
}
