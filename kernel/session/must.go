package session

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
)

// must is the kernel's one-line error handling for cells. Go cells otherwise spend a third of
// their lines on `if err != nil { panic(err) }`; a must-style helper cannot be a compiled
// generic function (the interpreter cannot import those) and an interpreted one needs its type
// arguments written out. So must is a rewrite, on the cell's syntax, into the code a Go
// programmer would write by hand:
//
//	x, y := must(f(a))   ->  x, y, __mustN := f(a); if __mustN != nil { panic(__kernel.Failure(__mustN)) }
//	x = must(f(a))       ->  var __mustN error; x, __mustN = f(a); if ...
//	must(f(a))           ->  if __mustN := __kernel.LastError(f(a)); __mustN != nil { panic(...) }
//	must(err)            ->  the same (any number of results, the last an error)
//	return must(f(a))    ->  __mustN_r1, __mustN := f(a); if ...; return __mustN_r1
//
// The panic is a cellError when the error is not nil; the cell then fails with
// that error's message at the line of the must, and every statement after it is skipped, as
// with panic(err). The rewrite works in functions declared in cells too (return must(f())
// returns f's other results). A cell (or an
// earlier one) that declares its own must keeps it.

// mustName is what cells call.
const mustName = "must"

// cellError is the panic value of a failed must: the cell's error is err itself.
type cellError struct{ err error }

func (e cellError) Error() string { return e.err.Error() }
func (e cellError) Unwrap() error { return e.err }

// failure is what a rewritten must panics with: err marked as a failed must's.
func failure(err error) any { return cellError{err: err} }

// lastError returns the last of a call's results, given as must(f(...)), as an error (nil
// when it is nil). The panic stays in interpreted code, so the cell's error points at the
// must's line.
func lastError(vals ...any) error {
	if len(vals) == 0 {
		return nil
	}
	switch e := vals[len(vals)-1].(type) {
	case nil:
		return nil
	case error:
		return e
	default:
		return fmt.Errorf("must: the last value must be an error, not %T", e)
	}
}

// mustError describes the error of a failed must for the cell's error output: the error's
// dynamic type names it (as an exception class does in Python), its message is the value.
func mustError(p any) (*Error, bool) {
	if v, isValue := p.(reflect.Value); isValue && v.IsValid() && v.CanInterface() {
		p = v.Interface() // the interpreter panics with the reflect.Value of what it was given
	}
	ce, ok := p.(cellError)
	if !ok {
		return nil, false
	}
	name := fmt.Sprintf("%T", ce.err)
	if name == "*errors.errorString" || name == "*fmt.wrapError" || name == "*fmt.wrapErrors" ||
		strings.HasPrefix(name, "interp.") { // the interpreter's stand-in for a type declared in a cell
		name = "error"
	}
	return &Error{Name: name, Value: ce.err.Error(), Traceback: []string{name + ": " + ce.err.Error()}}, true
}

// mustEdits rewrites the must calls of a chunk (see must above). cell and the count of edits
// make the temporaries' names unique in the session. A must anywhere but as a statement of its
// own, or as the whole right side of an assignment, is an error at its position.
func (s *Session) mustEdits(ed *editor, f *ast.File, cell int) error {
	if s.isGlobal(mustName) || declaresMust(f) {
		return nil
	}
	// Statements of a list (a block, a case): only these can become two statements.
	inList := map[ast.Stmt]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		var list []ast.Stmt
		switch x := n.(type) {
		case *ast.BlockStmt:
			list = x.List
		case *ast.CaseClause:
			list = x.Body
		case *ast.CommClause:
			list = x.Body
		}
		for _, st := range list {
			inList[st] = true
		}
		return true
	})
	returns := resultCounts(f)
	handled := map[*ast.CallExpr]bool{}
	n := 0
	temp := func() string {
		n++
		return fmt.Sprintf("__must%d_%d", cell, n)
	}
	var bad error
	ast.Inspect(f, func(node ast.Node) bool {
		if bad != nil {
			return false
		}
		st, ok := node.(ast.Stmt)
		if !ok || !inList[st] {
			return true
		}
		switch st := st.(type) {
		case *ast.ExprStmt:
			if call := mustCall(st.X); call != nil {
				handled[call] = true
				tmp := temp()
				ed.replace(ed.off(call.Fun.Pos()), ed.off(call.Fun.End()), "if "+tmp+" := "+hookName+".LastError")
				ed.insert(ed.off(call.End()), "; "+tmp+" != nil "+failWith(tmp))
			}
		case *ast.ReturnStmt:
			if len(st.Results) != 1 || returns[st] < 1 {
				return true
			}
			call := mustCall(st.Results[0])
			inner, ok := (*ast.CallExpr)(nil), false
			if call != nil && len(call.Args) == 1 {
				inner, ok = call.Args[0].(*ast.CallExpr)
			}
			if !ok {
				return true
			}
			handled[call] = true
			tmp := temp()
			vals := make([]string, returns[st])
			for i := range vals {
				vals[i] = fmt.Sprintf("%s_r%d", tmp, i+1)
			}
			list := strings.Join(vals, ", ")
			ed.replace(ed.off(st.Pos()), ed.off(inner.Pos()), list+", "+tmp+" := ")
			ed.replace(ed.off(inner.End()), ed.off(call.End()), "; if "+tmp+" != nil "+failWith(tmp)+"; return "+list)
		case *ast.AssignStmt:
			if len(st.Rhs) != 1 || (st.Tok != token.DEFINE && st.Tok != token.ASSIGN) {
				return true
			}
			call := mustCall(st.Rhs[0])
			if call == nil {
				return true
			}
			handled[call] = true
			inner, ok := call.Args[0].(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				pos := ed.fset.Position(call.Pos())
				bad = &SyntaxError{pos.Line - 1, pos.Column, "must(...) on the right of an assignment takes one call whose last result is an error: x := must(f(...))"}
				return false
			}
			tmp := temp()
			// The temporary joins the left side; the call keeps its own text (and positions).
			ed.insert(ed.off(st.Lhs[len(st.Lhs)-1].End()), ", "+tmp)
			if st.Tok == token.ASSIGN {
				ed.insert(ed.off(st.Pos()), "var "+tmp+" error; ")
			}
			ed.replace(ed.off(call.Pos()), ed.off(inner.Pos()), "")
			ed.replace(ed.off(inner.End()), ed.off(call.End()), "; if "+tmp+" != nil "+failWith(tmp))
		}
		return true
	})
	if bad != nil {
		return bad
	}
	ast.Inspect(f, func(node ast.Node) bool {
		if call := mustCall(node); call != nil && !handled[call] && bad == nil {
			pos := ed.fset.Position(call.Pos())
			bad = &SyntaxError{pos.Line - 1, pos.Column, "must(...) is a statement of its own (must(f(...)), must(err)) " +
				"or the whole right side of an assignment (x, y := must(f(...))); it cannot be part of an expression"}
		}
		return bad == nil
	})
	return bad
}

// resultCounts maps each return statement of a chunk to the number of results of the
// function it returns from.
func resultCounts(f *ast.File) map[*ast.ReturnStmt]int {
	out := map[*ast.ReturnStmt]int{}
	var walk func(body *ast.BlockStmt, n int)
	walk = func(body *ast.BlockStmt, n int) {
		if body == nil {
			return
		}
		ast.Inspect(body, func(node ast.Node) bool {
			switch x := node.(type) {
			case *ast.FuncLit:
				walk(x.Body, numResults(x.Type))
				return false
			case *ast.ReturnStmt:
				out[x] = n
			}
			return true
		})
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			walk(fd.Body, numResults(fd.Type))
		}
	}
	return out
}

func numResults(ft *ast.FuncType) int {
	if ft.Results == nil {
		return 0
	}
	n := 0
	for _, fl := range ft.Results.List {
		n += max(len(fl.Names), 1)
	}
	return n
}

// failWith is the block a rewritten must runs when tmp holds an error.
func failWith(tmp string) string {
	return "{ panic(" + hookName + ".Failure(" + tmp + ")) }"
}

// mustCall returns n as a call of must, or nil.
func mustCall(n ast.Node) *ast.CallExpr {
	call, ok := n.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 || call.Ellipsis.IsValid() {
		return nil
	}
	if id, ok := call.Fun.(*ast.Ident); ok && id.Name == mustName {
		return call
	}
	return nil
}

// declaresMust reports whether a chunk declares its own must (a func, var or type).
func declaresMust(f *ast.File) bool {
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncDecl:
			found = found || x.Recv == nil && x.Name.Name == mustName
		case *ast.Ident:
			found = found || x.Name == mustName && x.Obj != nil && x.Obj.Kind != ast.Bad
		}
		return !found
	})
	return found
}

// uncheckedEdit makes a cell fail with the error its final call returns, when nothing checks
// it: a cell's last statement that is a call of two or more results, the last an error (whose
// results the cell discards: f(a), with f returning (T, error)), becomes
//
//	_, __kernel.UncheckedErr = f(a)
//
// one plain statement still, at the call's place (an if would run in a function literal, see
// stmtEdits), and the kernel fails the cell with the error when it is not nil (uncheckedError),
// at the call's line, as must(f(a)) would; a nil one shows nothing. A call of one result shows
// that result, an error too (fmt.Errorf(...), os.Remove(...)), as before. The result types come
// from the typer (preloaded packages) or from the declaration of a function declared in a
// cell; a call whose types are unknown (a method of a type declared in a cell, a function
// value) is left alone. ed is the chunk's must pass; f is the cell's last chunk. It reports
// whether it rewrote the call.
func (s *Session) uncheckedEdit(ed *editor, t *typer, f *ast.File) bool {
	body := stmtBody(f)
	if len(body) == 0 {
		return false
	}
	st, ok := body[len(body)-1].(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := st.X.(*ast.CallExpr)
	if !ok || mustCall(call) != nil {
		return false
	}
	n := s.errorResults(t, call)
	if n < 2 {
		return false
	}
	ed.insert(ed.off(call.Pos()), strings.Repeat("_, ", n-1)+hookName+".UncheckedErr = ")
	return true
}

// uncheckedError is the cell's error when its rewritten final call (see uncheckedEdit)
// returned one; code is the cell, line and col the call's position in it.
func (s *Session) uncheckedError(code string, line, col int) *Error {
	err := s.unchecked
	s.unchecked = nil
	if err == nil {
		return nil
	}
	e, _ := mustError(cellError{err: err})
	e.Traceback = append(e.Traceback, excerpt(code, line, col, fmt.Sprintf("returned by the cell's last call, at line %d, column %d (nothing checked it)", line, col))...)
	return e
}

// errorResults is the number of call's results when the last is known to be of type error,
// otherwise 0.
func (s *Session) errorResults(t *typer, call *ast.CallExpr) int {
	if id, ok := call.Fun.(*ast.Ident); ok && id.Obj == nil {
		if d, ok := s.funcs[id.Name]; ok {
			return declErrorResults(d)
		}
	}
	outs, ok := t.results(call)
	if !ok || len(outs) == 0 || outs[len(outs)-1] != errorType {
		return 0
	}
	return len(outs)
}

// declErrorResults is errorResults for a function declaration's header (func f(...) (T,
// error)).
func declErrorResults(decl string) int {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p; "+decl+" {}", parser.SkipObjectResolution)
	if err != nil || len(f.Decls) != 1 {
		return 0
	}
	fd, ok := f.Decls[0].(*ast.FuncDecl)
	if !ok || fd.Type.Results == nil || len(fd.Type.Results.List) == 0 {
		return 0
	}
	if id, ok := fd.Type.Results.List[len(fd.Type.Results.List)-1].Type.(*ast.Ident); !ok || id.Name != "error" {
		return 0
	}
	return numResults(fd.Type)
}
