package session

import (
	"fmt"
	"go/ast"
	"go/printer"
	"go/token"
	"go/types"
	"regexp"
	"strconv"
	"strings"
)

// A runtime panic in a cell is reported the way Go reports one: the runtime's message
// (yaegi's reflect-level messages are translated: "reflect: slice index out of range"
// becomes "runtime error: index out of range"), the line and column of the cell where it
// happened, with the source line, and a short stack of the cell functions it went through.
//
// The positions come from the line yaegi prints for each interpreted frame a panic unwinds
// ("L:C: panic: main.f(...)", innermost first). Each is a position in the source of the
// chunk that declared the function, so it is mapped back through that chunk's rewrites
// (funcChunks), which may be a chunk of an earlier cell.

// stackFrame is one interpreted frame of a panic, in cell coordinates.
type stackFrame struct {
	fn        string // "get", "main" for a cell's top level, "outer.func" for a literal
	cell      int    // session cell number of the chunk that declared it (0: unknown)
	line, col int
	// scope is the syntax the frame was running (the top-level statement, the function's
	// body) in fset, whose lines are the cell's plus one; nil when unknown.
	scope ast.Node
	fset  *token.FileSet
}

// funcChunk is where a function declared by a cell was compiled.
type funcChunk struct {
	fx   rewritten
	cell int
}

// panicFrameRE parses yaegi's panic line: position, then the function (main, main.f,
// main.f.func, main.func).
var panicFrameRE = regexp.MustCompile(`^(?:_\.go:)?(\d+):(\d+): panic: ([^(]*)\(\.\.\.\)`)

// takePanicLines returns and clears the panic lines collected so far.
func (s *Session) takePanicLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.panicLines
	s.panicLines = nil
	return l
}

// mapStack maps yaegi's panic lines to cell positions; cur is the chunk that was running
// (cell number cell), where the top level and its function literals are; top is the
// top-level statement it stopped in (nil if unknown), in fset.
func (s *Session) mapStack(lines []string, cur rewritten, cell int, fset *token.FileSet, top ast.Stmt) []stackFrame {
	var out []stackFrame
	for _, l := range lines {
		m := panicFrameRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		fn := strings.TrimPrefix(strings.TrimPrefix(m[3], "main"), ".")
		if fn == "" {
			fn = "main"
		}
		f := s.frameAt(fn, line, col, cur, cell)
		if fn == "main" && top != nil {
			// yaegi reports where the frame started, not where it stopped: the top-level
			// statement that ran last is known exactly (see atMarker).
			p := fset.Position(top.Pos())
			f.line, f.col, f.scope, f.fset = p.Line-1, p.Column, top, fset
		}
		out = append(out, f)
	}
	return out
}

// frameAt maps a position yaegi reported in function fn.
func (s *Session) frameAt(fn string, line, col int, cur rewritten, cell int) stackFrame {
	fx, c := cur, cell
	base, _, _ := strings.Cut(fn, ".")
	if base != "main" && base != "func" {
		fc, ok := s.funcChunks[base]
		if !ok {
			return stackFrame{fn: fn, line: line - 1, col: col}
		}
		fx, c = fc.fx, fc.cell
	}
	l, cc := fx.cellPos(line, col)
	f := stackFrame{fn: fn, cell: c, line: l - 1, col: cc}
	if base != "main" && base != "func" {
		// The function's body, parsed again from the chunk as the cell wrote it.
		fset := token.NewFileSet()
		if file, _, err := parseChunk(fset, fx.orig, true); err == nil {
			for _, d := range file.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == base && fd.Body != nil {
					f.scope, f.fset = fd.Body, fset
				}
			}
		}
	}
	return f
}

// culprit finds the one expression in scope that can fail with the runtime error msg (an
// index for "index out of range", a division for "divide by zero", ...); yaegi only says
// which frame failed. With several candidates it gives up (ok false).
func culprit(msg string, scope ast.Node, isPackage func(name string) bool) (ast.Node, bool) {
	var want func(n ast.Node) bool
	switch {
	case strings.Contains(msg, "index out of range"):
		want = func(n ast.Node) bool { _, ok := n.(*ast.IndexExpr); return ok }
	case strings.Contains(msg, "slice bounds out of range"):
		want = func(n ast.Node) bool { _, ok := n.(*ast.SliceExpr); return ok }
	case strings.Contains(msg, "divide by zero"):
		want = func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.BinaryExpr:
				_, lit := x.Y.(*ast.BasicLit)
				return (x.Op == token.QUO || x.Op == token.REM) && !lit
			case *ast.AssignStmt:
				return x.Tok == token.QUO_ASSIGN || x.Tok == token.REM_ASSIGN
			}
			return false
		}
	case strings.Contains(msg, "nil pointer dereference"):
		want = func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				id, ok := x.X.(*ast.Ident)
				return !ok || id.Obj != nil || !isPackage(id.Name) // not a package's member
			case *ast.StarExpr:
				return true
			}
			return false
		}
	case strings.Contains(msg, "assignment to entry in nil map"):
		want = func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok {
				return false
			}
			for _, l := range as.Lhs {
				if _, ok := l.(*ast.IndexExpr); ok {
					return true
				}
			}
			return false
		}
	default:
		return nil, false
	}
	var found []ast.Node
	ast.Inspect(scope, func(n ast.Node) bool {
		if _, lit := n.(*ast.FuncLit); lit && n != scope {
			return false // runs in a frame of its own
		}
		if n != nil && want(n) {
			found = append(found, n)
		}
		return true
	})
	if len(found) != 1 {
		return nil, false
	}
	return found[0], true
}

// posPrefixRE is a position yaegi puts at the start of some panic values (a failed type
// assertion: "3:6: interface conversion: ...").
var posPrefixRE = regexp.MustCompile(`^(?:_\.go:)?(\d+):(\d+): (.*)$`)

// goMessage translates the messages of yaegi's reflect-based evaluation into the Go
// runtime's own.
func goMessage(msg string) string {
	switch {
	case strings.HasPrefix(msg, "reflect: slice index out of range"),
		strings.HasPrefix(msg, "reflect: array index out of range"),
		strings.HasPrefix(msg, "reflect: string index out of range"):
		return "runtime error: index out of range"
	case strings.Contains(msg, "slice index out of bounds"):
		return "runtime error: slice bounds out of range"
	case strings.HasPrefix(msg, "reflect: call of reflect.Value.") && strings.HasSuffix(msg, " on zero Value"),
		strings.HasPrefix(msg, "reflect: indirection through nil pointer"),
		msg == "reflect: call of nil function":
		return "runtime error: invalid memory address or nil pointer dereference"
	}
	return msg
}

// panicError formats a panic of the cell's evaluation; code is the cell.
func (s *Session) panicError(value any, code string) *Error {
	// A failed must(...) is the error it was given, named by its type, at the must's line.
	mustErr, isMust := mustError(value)
	msg := fmt.Sprint(value)
	if e, ok := value.(error); ok {
		msg = e.Error()
	}
	stack := s.stack
	s.stack = nil
	if m := posPrefixRE.FindStringSubmatch(msg); m != nil && len(stack) > 0 && !isMust {
		// The value's own position is exact; it is in the innermost frame's chunk.
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		if fx := s.frameChunk(stack[0]); fx.orig != "" {
			l, c := fx.cellPos(line, col)
			stack[0].line, stack[0].col = l-1, c
		}
		msg = m[3]
	}
	msg = goMessage(msg)
	// A failed index: its operands and exact position, as the probe recorded them.
	placed := false
	if idx := s.lastIndex; idx != nil && msg == "runtime error: index out of range" && !isMust {
		msg += idx.text()
		if p := s.it.FileSet().Position(idx.pos); p.IsValid() && len(stack) > 0 {
			if fx := s.frameChunk(stack[0]); fx.orig != "" {
				l, c := fx.cellPos(p.Line, p.Column)
				stack[0].line, stack[0].col, placed = l-1, c, true
			}
		}
	}
	s.lastIndex = nil
	e := &Error{Name: "panic", Value: msg, Traceback: []string{"panic: " + msg}}
	if isMust {
		e = mustErr
	}
	if len(stack) == 0 {
		return e
	}
	if in := stack[0]; in.scope != nil && !isMust && !placed {
		if n, ok := culprit(msg, in.scope, s.isPackageName); ok {
			p := in.fset.Position(n.Pos())
			stack[0].line, stack[0].col = p.Line-1, p.Column
		}
	}
	top := stack[0]
	if isMust {
		// The must's own line is the story; the frames beyond it are the rewrite's.
		if top.cell == s.seq {
			e.Traceback = append(e.Traceback, excerpt(code, top.line, top.col, fmt.Sprintf("at line %d, column %d of the cell", top.line, top.col))...)
		}
		return e
	}
	where := fmt.Sprintf("%d:%d: in %s", top.line, top.col, frameName(top.fn))
	if top.cell == s.seq {
		e.Traceback = append(e.Traceback, excerpt(code, top.line, top.col, where)...)
	} else {
		e.Traceback = append(e.Traceback, where+s.cellNote(top.cell))
	}
	if len(stack) > 1 {
		e.Traceback = append(e.Traceback, "called from:")
		for _, f := range stack[1:] {
			e.Traceback = append(e.Traceback, fmt.Sprintf("  %d:%d: in %s%s", f.line, f.col, frameName(f.fn), s.cellNote(f.cell)))
		}
	}
	return e
}

// frameChunk is the chunk whose source a frame's positions are in: the one that declared its
// function, or the chunk that was running for the top level and its function literals.
func (s *Session) frameChunk(f stackFrame) rewritten {
	if fc, ok := s.funcChunks[strings.SplitN(f.fn, ".", 2)[0]]; ok {
		return fc.fx
	}
	return s.lastChunk
}

func frameName(fn string) string {
	switch {
	case fn == "main":
		return "the cell"
	case fn == "func" || strings.HasPrefix(fn, "func."):
		return "a function literal of the cell"
	}
	return "func " + strings.TrimSuffix(fn, ".func") + map[bool]string{true: " (a function literal in it)", false: ""}[strings.HasSuffix(fn, ".func")]
}

// cellNote says that a position is in an earlier cell than the failing one.
func (s *Session) cellNote(cell int) string {
	if cell == s.seq {
		return ""
	}
	return " (line and column of the earlier cell that declared it)"
}

// isPackageName reports whether a name a cell did not declare is a package.
func (s *Session) isPackageName(name string) bool {
	if s.isGlobal(name) {
		return false
	}
	_, imported := s.imported[name]
	_, known := s.packages[name]
	return imported || known
}

func printExpr(b *strings.Builder, fset *token.FileSet, e ast.Expr) error {
	return printer.Fprint(b, fset, e)
}

// assignMismatch finds an assignment or var declaration with a different number of
// variables and values, which Go rejects ("assignment mismatch: 2 variables but 1 value")
// and yaegi reports as "unsupported assign expression" or crashes on.
func assignMismatch(fset *token.FileSet, f *ast.File) *SyntaxError {
	var found *SyntaxError
	check := func(at token.Pos, vars int, values []ast.Expr) {
		if found != nil || len(values) == 0 || vars == len(values) {
			return
		}
		if len(values) == 1 {
			switch x := ast.Unparen(values[0]).(type) {
			case *ast.CallExpr:
				return // a call's result count is the type checker's business
			case *ast.IndexExpr, *ast.TypeAssertExpr:
				if vars == 2 {
					return
				}
			case *ast.UnaryExpr:
				if x.Op == token.ARROW && vars == 2 {
					return
				}
			}
		}
		p := fset.Position(at)
		found = &SyntaxError{p.Line - 1, p.Column, fmt.Sprintf("assignment mismatch: %d variable%s but %d value%s",
			vars, plural(vars), len(values), plural(len(values)))}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			if x.Tok == token.DEFINE || x.Tok == token.ASSIGN {
				check(x.Lhs[0].Pos(), len(x.Lhs), x.Rhs)
			}
		case *ast.ValueSpec:
			check(x.Names[0].Pos(), len(x.Names), x.Values)
		}
		return found == nil
	})
	return found
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// overflowRE is how yaegi reports a constant too large for its type.
var overflowRE = regexp.MustCompile(`^(?:constant )?(-?\d+) overflows (\w+)$`)

// overflowError rewrites yaegi's "N overflows int" into Go's message, at the constant
// expression of the cell that has the value N (yaegi's position can be that of a source the
// kernel evaluated for display); nil if msg is another error.
func overflowError(msg string, fset *token.FileSet, f *ast.File) *SyntaxError {
	m := overflowRE.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	var found *SyntaxError
	ast.Inspect(f, func(n ast.Node) bool {
		e, ok := n.(ast.Expr)
		if found != nil || !ok || !constantSyntax(e) {
			return found == nil
		}
		var b strings.Builder
		if printExpr(&b, fset, e) != nil {
			return false
		}
		tv, err := types.Eval(token.NewFileSet(), nil, token.NoPos, b.String())
		if err != nil || tv.Value == nil || tv.Value.ExactString() != m[1] {
			return false
		}
		p := fset.Position(e.Pos())
		found = &SyntaxError{p.Line - 1, p.Column, fmt.Sprintf("cannot use %s (untyped int constant %s) as %s value (overflows)", b.String(), m[1], m[2])}
		return false
	})
	return found
}

// constantSyntax reports whether e is built from literals and operators only.
func constantSyntax(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		return x.Kind == token.INT
	case *ast.BinaryExpr:
		return constantSyntax(x.X) && constantSyntax(x.Y)
	case *ast.UnaryExpr:
		return constantSyntax(x.X)
	case *ast.ParenExpr:
		return constantSyntax(x.X)
	}
	return false
}
