package session

import (
	"fmt"
	"go/ast"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// edit replaces src[start:end] with text (offsets in the source being rewritten). Edits of
// one pass never overlap; insertions (start == end) at the same offset keep the order they
// were added in.
type edit struct {
	start, end int
	text       string
}

// applyEdits applies non-overlapping edits and returns the result with the sorted edits (for
// srcMap). An edit overlapping an earlier one is dropped rather than corrupt the source.
func applyEdits(src string, edits []edit) (string, []edit) {
	sorted := append([]edit(nil), edits...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].start < sorted[j].start })
	var b strings.Builder
	kept := sorted[:0]
	at := 0
	for _, e := range sorted {
		if e.start < at || e.end < e.start || e.end > len(src) {
			continue
		}
		b.WriteString(src[at:e.start])
		b.WriteString(e.text)
		at = e.end
		kept = append(kept, e)
	}
	b.WriteString(src[at:])
	return b.String(), kept
}

// srcMap maps offsets of a rewritten chunk back to the chunk as the cell wrote it, through
// each pass of edits, so that errors point at the cell's own line and column.
type srcMap struct{ passes [][]edit }

func (m *srcMap) add(sorted []edit) { m.passes = append(m.passes, sorted) }

// orig maps an offset of the final source to the original one. An offset inside inserted
// text maps to where the insertion was made.
func (m *srcMap) orig(off int) int {
	for i := len(m.passes) - 1; i >= 0; i-- {
		delta := 0
		mapped := -1
		for _, e := range m.passes[i] {
			start := e.start + delta
			if off < start {
				break
			}
			if off < start+len(e.text) {
				mapped = e.start
				break
			}
			delta += len(e.text) - (e.end - e.start)
		}
		if mapped < 0 {
			mapped = off - delta
		}
		off = mapped
	}
	return off
}

// blank replaces a range with spaces, keeping newlines so later line numbers do not move.
func blank(src string, start, end int) edit {
	b := []byte(src[start:end])
	for i, c := range b {
		if c != '\n' {
			b[i] = ' '
		}
	}
	return edit{start, end, string(b)}
}

// hookName is the name under which every interpreter imports the kernel's hook package.
const hookName = "__kernel"

// editor collects the edits of one rewrite pass over a chunk's source.
type editor struct {
	fset  *token.FileSet
	base  int // offset of the chunk's source in the parsed file
	src   string
	edits []edit
}

func (e *editor) off(p token.Pos) int { return e.fset.Position(p).Offset - e.base }

func (e *editor) insert(at int, text string) { e.edits = append(e.edits, edit{at, at, text}) }
func (e *editor) replace(start, end int, text string) {
	e.edits = append(e.edits, edit{start, end, text})
}
func (e *editor) text(n ast.Node) string          { return e.render(e.off(n.Pos()), e.off(n.End())) }
func (e *editor) apply() (string, []edit)         { return applyEdits(e.src, e.edits) }
func (e *editor) has(n ast.Node) (start, end int) { return e.off(n.Pos()), e.off(n.End()) }
func (e *editor) wrap(n ast.Node, before, after string) {
	e.insert(e.off(n.Pos()), before)
	e.insert(e.off(n.End()), after)
}

// render returns src[start:end] with the edits that lie inside that range applied, and takes
// those edits out of the pass (the caller puts the text into a replacement of its own).
func (e *editor) render(start, end int) string {
	var inside, rest []edit
	for _, ed := range e.edits {
		if ed.start >= start && ed.end <= end {
			inside = append(inside, edit{ed.start - start, ed.end - start, ed.text})
		} else {
			rest = append(rest, ed)
		}
	}
	e.edits = rest
	out, _ := applyEdits(e.src[start:end], inside)
	return out
}

// goStmts rewrites every go statement under root so that the goroutine recovers a panic and
// reports it to the cell that started it (cell number seq) instead of crashing the process.
func (e *editor) goStmts(root ast.Node, seq int) {
	n := 0
	recoverer := fmt.Sprintf("defer func() { if r := recover(); r != nil { %s.GoPanic(r, %d) } }();", hookName, seq)
	ast.Inspect(root, func(node ast.Node) bool {
		g, ok := node.(*ast.GoStmt)
		if !ok {
			return true
		}
		if lit, ok := g.Call.Fun.(*ast.FuncLit); ok {
			// go func(...) {...}(args): arguments are already evaluated by the go statement.
			e.insert(e.off(lit.Body.Lbrace)+1, " "+recoverer)
			return true // nested go statements inside the literal are rewritten too
		}
		n++
		e.replace(e.off(g.Pos()), e.off(g.End()), e.thunk(g.Call, fmt.Sprintf("__go%d", n), func(call string) string {
			return fmt.Sprintf("go func() { %s %s }()", recoverer, call)
		}))
		return false
	})
}

// thunk evaluates a call's function and arguments now, as go and defer statements do, and
// passes the call of those values to use: "{ f, a := F, A; use(f(a)) }".
func (e *editor) thunk(call *ast.CallExpr, prefix string, use func(call string) string) string {
	var names, values []string
	fun := e.text(call.Fun)
	if id, ok := call.Fun.(*ast.Ident); !ok || !isBuiltin(id.Name) {
		name := prefix + "f"
		names, values = append(names, name), append(values, fun)
		fun = name
	}
	args := make([]string, len(call.Args))
	for i, a := range call.Args {
		text := e.text(a)
		if _, lit := a.(*ast.BasicLit); lit {
			args[i] = text // constants keep their untyped-ness
			continue
		}
		name := fmt.Sprintf("%sa%d", prefix, i)
		names, values = append(names, name), append(values, text)
		args[i] = name
	}
	callText := fun + "(" + strings.Join(args, ", ")
	if call.Ellipsis.IsValid() {
		callText += "..."
	}
	callText += ")"
	text := use(callText)
	if len(names) > 0 {
		text = fmt.Sprintf("{ %s := %s; %s }", strings.Join(names, ", "), strings.Join(values, ", "), text)
	}
	return text
}

func isBuiltin(name string) bool {
	switch name {
	case "close", "panic", "print", "println", "copy", "delete", "clear":
		return true
	}
	return false
}

// importKey identifies an import by the name it binds and its path.
func importKey(spec *ast.ImportSpec) (name, path string) {
	path, _ = strconv.Unquote(spec.Path.Value)
	if spec.Name != nil {
		return spec.Name.Name, path
	}
	return "", path
}

// selectorBases returns the identifiers used as X in X.Sel that the parser could not resolve
// within the chunk: candidates for packages to import automatically.
func selectorBases(f *ast.File) map[string]bool {
	unresolved := map[*ast.Ident]bool{}
	for _, id := range f.Unresolved {
		unresolved[id] = true
	}
	out := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok && unresolved[id] {
				out[id.Name] = true
			}
		}
		return true
	})
	return out
}

// showsValue reports whether the last statement of a cell is an expression whose value
// should be shown, and for a call, the text of the called function (checked after the run:
// a call shows its value only if the function has exactly one result).
func lastExpr(stmts []ast.Stmt) (ast.Expr, bool) {
	if len(stmts) == 0 {
		return nil, false
	}
	es, ok := stmts[len(stmts)-1].(*ast.ExprStmt)
	if !ok {
		return nil, false
	}
	return es.X, true
}

// pureFunc reports whether evaluating e has no side effects (an identifier or a selector
// chain of identifiers), so the session may evaluate it again to learn its type.
func pureFunc(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return true
	case *ast.SelectorExpr:
		return pureFunc(x.X)
	case *ast.ParenExpr:
		return pureFunc(x.X)
	}
	return false
}
