package session

import (
	"fmt"
	"go/ast"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// edit replaces src[start:end] with text (offsets in the placed chunk source).
type edit struct {
	start, end int
	text       string
}

func applyEdits(src string, edits []edit) string {
	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	for _, e := range edits {
		src = src[:e.start] + e.text + src[e.end:]
	}
	return src
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

// goStmtEdits rewrites every go statement in f so that the goroutine recovers a panic and
// reports it to the cell that started it (cell number seq) instead of crashing the process.
// The function and its arguments are evaluated before the goroutine starts, as Go does; the
// rewritten text stays on the go statement's line so later positions keep their lines.
func goStmtEdits(fset *token.FileSet, f *ast.File, base int, src string, seq int) []edit {
	var edits []edit
	n := 0
	recoverer := fmt.Sprintf("defer func() { if r := recover(); r != nil { %s.GoPanic(r, %d) } }();", hookName, seq)
	off := func(p token.Pos) int { return fset.Position(p).Offset - base }
	ast.Inspect(f, func(node ast.Node) bool {
		g, ok := node.(*ast.GoStmt)
		if !ok {
			return true
		}
		call := g.Call
		if lit, ok := call.Fun.(*ast.FuncLit); ok {
			// go func(...) {...}(args): arguments are already evaluated by the go statement.
			p := off(lit.Body.Lbrace) + 1
			edits = append(edits, edit{p, p, " " + recoverer})
			return true // nested go statements inside the literal are rewritten too
		}
		n++
		var names, values []string
		fun := src[off(call.Fun.Pos()):off(call.Fun.End())]
		if id, ok := call.Fun.(*ast.Ident); !ok || !isBuiltin(id.Name) {
			name := fmt.Sprintf("__go%df", n)
			names, values = append(names, name), append(values, fun)
			fun = name
		}
		args := make([]string, len(call.Args))
		for i, a := range call.Args {
			text := src[off(a.Pos()):off(a.End())]
			if _, lit := a.(*ast.BasicLit); lit {
				args[i] = text // constants keep their untyped-ness
				continue
			}
			name := fmt.Sprintf("__go%da%d", n, i)
			names, values = append(names, name), append(values, text)
			args[i] = name
		}
		callText := fun + "(" + strings.Join(args, ", ")
		if call.Ellipsis.IsValid() {
			callText += "..."
		}
		callText += ")"
		text := fmt.Sprintf("go func() { %s %s }()", recoverer, callText)
		if len(names) > 0 {
			text = fmt.Sprintf("{ %s := %s; %s }", strings.Join(names, ", "), strings.Join(values, ", "), text)
		}
		edits = append(edits, edit{off(g.Pos()), off(g.End()), strings.ReplaceAll(text, "\n", " ")})
		return false
	})
	return edits
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
