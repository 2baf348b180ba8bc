package dispatch

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/ordermerge/ordermerge/kernel/wire"
)

// historyQuery is a history_request's content. The kernel keeps one session's inputs, numbered
// by execution_count; its entries carry session 0, and session 0 (or none) in a range
// request means this one, as in IPython.
type historyQuery struct {
	Access  string `json:"hist_access_type"`
	Output  bool   `json:"output"`
	Session int    `json:"session"`
	Start   int    `json:"start"`
	Stop    *int   `json:"stop"`
	N       *int   `json:"n"`
	Pattern string `json:"pattern"`
	Unique  bool   `json:"unique"`
}

// selectHistory answers q from h (oldest first) with IPython's HistoryManager semantics:
//
//   - tail: the last n entries;
//   - range: lines start <= line < stop (stop absent or 0: to the end) of session 0;
//   - search: entries matching pattern, a glob as sqlite's GLOB reads it (* any text, ? one
//     character, [...] a class; case-sensitive); unique keeps each input's latest
//     occurrence; n keeps the last n matches. Results stay oldest first.
func selectHistory(h []historyEntry, q historyQuery) []historyEntry {
	switch q.Access {
	case "range":
		if q.Session != 0 {
			return nil // earlier sessions are not kept
		}
		var out []historyEntry
		for _, e := range h {
			if e.line >= q.Start && (q.Stop == nil || *q.Stop == 0 || e.line < *q.Stop) {
				out = append(out, e)
			}
		}
		return out
	case "search":
		pattern := q.Pattern
		if pattern == "" {
			pattern = "*"
		}
		re := globRegexp(pattern)
		var out []historyEntry
		for _, e := range h {
			if re.MatchString(e.code) {
				out = append(out, e)
			}
		}
		if q.Unique {
			latest := map[string]int{}
			for _, e := range out {
				latest[e.code] = e.line
			}
			kept := out[:0]
			for _, e := range out {
				if latest[e.code] == e.line {
					kept = append(kept, e)
				}
			}
			out = kept
		}
		return lastN(out, q.N)
	default: // tail
		return lastN(h, q.N)
	}
}

func lastN(h []historyEntry, n *int) []historyEntry {
	if n != nil && *n >= 0 && *n < len(h) {
		return h[len(h)-*n:]
	}
	return h
}

// globRegexp translates a GLOB pattern to an anchored regular expression.
func globRegexp(glob string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	rs := []rune(glob)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := i + 1
			if j < len(rs) && rs[j] == '^' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) { // no closing bracket: a literal [
				b.WriteString(regexp.QuoteMeta("["))
				continue
			}
			class := string(rs[i+1 : j])
			neg := strings.HasPrefix(class, "^")
			class = strings.TrimPrefix(class, "^")
			class = strings.ReplaceAll(class, `\`, `\\`)
			if neg {
				b.WriteString("[^" + class + "]")
			} else {
				b.WriteString("[" + class + "]")
			}
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`\z`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return regexp.MustCompile(regexp.QuoteMeta(glob))
	}
	return re
}

func (k *Kernel) historyRequest(m *wire.Message) {
	var q historyQuery
	_ = json.Unmarshal(m.Content, &q)
	k.mu.Lock()
	h := append([]historyEntry(nil), k.history...)
	k.mu.Unlock()
	sel := selectHistory(h, q)
	entries := make([]any, 0, len(sel))
	for _, e := range sel {
		if q.Output {
			entries = append(entries, []any{0, e.line, []any{e.code, nil}})
		} else {
			entries = append(entries, []any{0, e.line, e.code})
		}
	}
	k.reply(k.sockets.Shell, m, "history_reply", map[string]any{"status": "ok", "history": entries})
}
