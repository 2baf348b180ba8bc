package session

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"reflect"
	"strconv"
	"strings"

	"github.com/traefik/yaegi/interp"
)

// The rewrites in this file steer cells around bugs of the interpreter (yaegi v0.16.1) that
// notebook code runs into all the time. Each was reproduced on its own; the tests in
// fixes_test.go hold one cell pattern per bug. The rewritten source is what yaegi compiles;
// srcMap maps its positions back to the cell for error messages.
//
// Top-level statements of a cell are, for yaegi, the body of a main function whose
// variables are globals typed by a "global type analysis" before anything runs. That
// analysis is where most of the bugs are:
//
//   - It cannot type an index into a value of a compiled type: after
//     `results, err := sft.TrainVariants(...)`, `rx := results[1]` fails with "constant
//     definition loop" and `r := results[0].Records` crashes the compiler. indexEdits wraps
//     the largest such part of the value in an identity function of its type (found by
//     reflection, see typer), whose call the analysis can type.
//   - `v, ok := m[k]`, `v, ok := x.(T)` and `v, ok := <-ch` at the top level crash it ("nil
//     type"). commaOK declares v and ok with their types and assigns them instead.
//   - Compound statements (for, if, switch, select, blocks) at the top level are compiled
//     in the global scope: a multi-value := inside their bodies (`st, err := r.Imbalance()`
//     in a for loop) is "undefined", a type switch binding crashes the compiler, and their
//     init statements leak variables into the globals. stmtEdits runs each such statement
//     inside a function literal, where yaegi compiles it like any function body.
//   - A top-level defer runs again at every later evaluation. stmtEdits hands it to the
//     session (deferCall), which runs it when the cell ends, as a function's defer would.
//   - A top-level multi-value definition (`base, _, err := study.BaseModel(...)`, also
//     `var a, b = f()`) gives its variables frame-relative slots instead of global ones.
//     A function declared in a cell reads such a variable one frame up, which is the global
//     frame only when the function is called from the top level: called from another
//     function (or from the function literal a top-level loop runs in), it reads a slot of
//     its caller's frame, giving a wrong value or a panic such as "reflect: Call using
//     zero Value argument". multiDefine lets temporaries receive the values, and each
//     variable is defined from its temporary with a single-value definition, whose
//     variables are global.
//   - var x T = v of a generic function's result is silently zero: splitTypedVars makes it
//     a declaration and an assignment. (A var with a value runs as a statement at all, see
//     splitCell, because yaegi's declaration mode cannot initialise it from a variable of an
//     earlier cell.)
//
// Named results do not start at zero when yaegi calls a function with its caller's variables
// as the result slots; builtinEdits zeroes them at the start of the body (zeroNamedResults).
//
// Features of newer Go that yaegi lacks or gets wrong, fixed by builtinEdits: range over an
// integer (Go 1.22) becomes a range over make([]struct{}, n) with the key converted to n's
// type; for i := range s over a string gets the byte offsets of its runes (yaegi counts
// runes); a range over a pointer to an array ranges over a slice of it (yaegi fails); loop
// variables captured by closures get a copy per iteration (Go 1.22); the min, max and
// clear builtins (Go 1.21) become calls of compiled helpers chosen by the arguments' kind.

// rewritten is the source yaegi compiles for one chunk, with what to record on success.
type rewritten struct {
	src  string
	orig string // the placed chunk the cell wrote
	pos  *srcMap
	// types are the compiled types of the variables the chunk defines at its top level; a
	// nil type means unknown (any earlier record of the name is dropped).
	types map[string]reflect.Type
	// unchecked is set when the chunk's final call stores its error in the hook (uncheckedEdit).
	unchecked bool
}

// fixChunk applies the rewrites to a placed chunk (after the import and main edits). It
// returns the rewritten source and the position map from it to src.
func (s *Session) fixChunk(src string, decl bool, cell int, useGlobals, last bool) (rewritten, error) {
	out := rewritten{src: src, pos: &srcMap{}, types: map[string]reflect.Type{}}
	t := newTyper(s)
	t.useGlobals = useGlobals

	// Pass 0: must (must.go).
	fset := token.NewFileSet()
	f, base, err := parseChunk(fset, src, decl)
	if err != nil {
		return out, err
	}
	ed := &editor{fset: fset, base: base, src: src}
	if err := s.mustEdits(ed, f, cell); err != nil {
		return out, err
	}
	if last && !decl {
		out.unchecked = s.uncheckedEdit(ed, t, f)
	}
	src, sorted := ed.apply()
	out.pos.add(sorted)

	// Pass 1: expressions anywhere (builtins, range over int).
	fset = token.NewFileSet()
	f, base, err = parseChunk(fset, src, decl)
	if err != nil {
		return out, err
	}
	ed = &editor{fset: fset, base: base, src: src}
	s.builtinEdits(ed, t, f)
	src, sorted = ed.apply()
	out.pos.add(sorted)

	// Pass 2: top-level statements and declarations, go statements.
	fset = token.NewFileSet()
	f, base, err = parseChunk(fset, src, decl)
	if err != nil {
		return out, err
	}
	ed = &editor{fset: fset, base: base, src: src}
	if decl {
		s.declEdits(ed, t, f, out.types)
		ed.goStmts(f, cell)
	} else {
		ed.goStmts(f, cell)
		for i, st := range stmtBody(f) {
			ed.insert(ed.off(st.Pos()), atMarker(i)) // see names.go
			s.stmtEdits(ed, t, st, i, out.types)
		}
	}
	out.src, sorted = ed.apply()
	out.pos.add(sorted)
	return out, nil
}

// builtinEdits replaces calls of min, max and clear by the kernel's helpers and ranges over
// integers by ranges over a slice of that length.
func (s *Session) builtinEdits(ed *editor, t *typer, f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			id, ok := x.Fun.(*ast.Ident)
			if !ok || id.Obj != nil || (id.Name != "min" && id.Name != "max" && id.Name != "clear") || s.isGlobal(id.Name) {
				return true
			}
			switch id.Name {
			case "min", "max":
				if k, ok := t.orderedKind(x.Args); ok && len(x.Args) > 0 {
					ed.replace(ed.off(id.Pos()), ed.off(id.End()), hookName+"."+minMaxName(id.Name, k))
				}
			case "clear":
				if len(x.Args) == 1 {
					ed.replace(ed.off(id.Pos()), ed.off(id.End()), hookName+".Clear")
				}
			}
		case *ast.RangeStmt:
			k, _, ok := t.kindOf(x.X)
			if ok && isIntegerKind(k) {
				ed.wrap(x.X, "make([]struct{}, ", ")")
				// The key of a range over n has n's type, the slice's index is an int.
				if id, isID := x.Key.(*ast.Ident); isID && x.Tok == token.DEFINE && id.Name != "_" {
					if name := s.intTypeName(ed, t, x.X, k); name != "" {
						ed.insert(ed.off(x.Body.Lbrace)+1, fmt.Sprintf(" %s := %s(%s);", id.Name, name, id.Name))
						return true // the conversion is already a variable per iteration
					}
				}
			}
			if xt, known := t.typeOf(x.X); known && xt.Kind() == reflect.Pointer && xt.Elem().Kind() == reflect.Array {
				// yaegi fails ranging over a pointer to an array; a slice of it shares the array.
				ed.insert(ed.off(x.X.End()), "[:]")
			}
			if ok && k == reflect.String && x.Key != nil && x.Value == nil {
				// yaegi counts runes for the key alone; with a value it gives byte offsets.
				ed.insert(ed.off(x.Key.End()), ", _")
			}
			if x.Tok == token.DEFINE {
				loopVarCopies(ed, x.Body, []ast.Expr{x.Key, x.Value}, false)
			}
		case *ast.ForStmt:
			if as, ok := x.Init.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
				loopVarCopies(ed, x.Body, as.Lhs, true)
			}
		case *ast.FuncDecl:
			zeroNamedResults(ed, x.Type, x.Body)
		case *ast.FuncLit:
			zeroNamedResults(ed, x.Type, x.Body)
		}
		return true
	})
}

// zeroNamedResults sets a function's named results to their zero values when its body
// starts. yaegi lets a call whose results go straight into variables of the caller (v :=
// f(), xs = append(xs, f()), s += f()) use those variables as the callee's result slots
// without zeroing them: in a loop, a named result starts at what the previous call
// returned (sum += ... accumulates across calls; an err never assigned returns the last
// error).
func zeroNamedResults(ed *editor, ft *ast.FuncType, body *ast.BlockStmt) {
	if ft.Results == nil || body == nil {
		return
	}
	var b strings.Builder
	for _, f := range ft.Results.List {
		typ := ed.src[ed.off(f.Type.Pos()):ed.off(f.Type.End())]
		for _, n := range f.Names {
			if n.Name != "_" {
				// One assignment each: yaegi gets some parallel assignments wrong.
				fmt.Fprintf(&b, " %s = *new(%s);", n.Name, typ)
			}
		}
	}
	if b.Len() > 0 {
		ed.insert(ed.off(body.Lbrace)+1, b.String())
	}
}

// loopVarCopies gives each iteration of a loop its own copy of the loop variables, as Go
// 1.22 does and yaegi does not: a closure created in the body (a goroutine, a callback)
// would otherwise see the variable's last value. Only loops whose body has a function
// literal are touched. A three-clause loop whose body changes its variable (i++ to skip,
// &i) is left alone, since a copy would hide the change from the post statement.
func loopVarCopies(ed *editor, body *ast.BlockStmt, vars []ast.Expr, threeClause bool) {
	objs := map[*ast.Object]bool{}
	var names []string
	for _, v := range vars {
		if id, ok := v.(*ast.Ident); ok && id.Name != "_" && id.Obj != nil {
			objs[id.Obj] = true
			names = append(names, id.Name)
		}
	}
	if len(names) == 0 || body == nil {
		return
	}
	closure, changed := false, false
	isVar := func(e ast.Expr) bool {
		id, ok := e.(*ast.Ident)
		return ok && objs[id.Obj]
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncLit:
			closure = true
		case *ast.AssignStmt:
			for _, l := range x.Lhs {
				changed = changed || isVar(l)
			}
		case *ast.IncDecStmt:
			changed = changed || isVar(x.X)
		case *ast.UnaryExpr:
			changed = changed || (x.Op == token.AND && isVar(x.X))
		case *ast.RangeStmt:
			changed = changed || (x.Tok == token.ASSIGN && (isVar(x.Key) || isVar(x.Value)))
		}
		return true
	})
	if !closure || (threeClause && changed) {
		return
	}
	list := strings.Join(names, ", ")
	ed.insert(ed.off(body.Lbrace)+1, fmt.Sprintf(" %s := %s;", list, list))
}

// intTypeName names the type of an integer range expression for converting the loop key,
// or "" when it is int (no conversion) or cannot be named.
func (s *Session) intTypeName(ed *editor, t *typer, e ast.Expr, k reflect.Kind) string {
	if ty, ok := t.typeOf(e); ok {
		switch {
		case ty == basicTypes["int"]:
			return ""
		case ty.PkgPath() == "" && basicTypes[ty.Name()] == ty:
			return ty.Name()
		case ty.PkgPath() != "":
			return hookName + "." + s.namedType(ty)
		}
	}
	if id, ok := e.(*ast.Ident); ok && id.Obj != nil {
		switch d := id.Obj.Decl.(type) {
		case *ast.Field:
			return ed.text(d.Type)
		case *ast.ValueSpec:
			if d.Type != nil {
				return ed.text(d.Type)
			}
		}
	}
	if k == reflect.Int {
		return ""
	}
	return orderedKinds[k].Name()
}

// orderedKind is the kind the arguments of min or max share: the kind of the typed ones, or
// for constants only the default type of the "largest" constant kind.
func (t *typer) orderedKind(args []ast.Expr) (reflect.Kind, bool) {
	var typed, untyped reflect.Kind
	for _, a := range args {
		k, u, ok := t.kindOf(a)
		if !ok {
			return 0, false
		}
		if u {
			if untyped == 0 || k == reflect.Float64 {
				untyped = k
			}
			continue
		}
		if typed != 0 && typed != k {
			return 0, false
		}
		typed = k
	}
	k := typed
	if k == 0 {
		k = untyped
	}
	_, ok := orderedKinds[k]
	return k, ok
}

// declEdits handles a declaration chunk: var declarations without values (those with values
// run as statements, see splitCell) and the names functions take over.
func (s *Session) declEdits(ed *editor, t *typer, f *ast.File, types map[string]reflect.Type) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			s.varEdits(ed, t, d, types)
		case *ast.FuncDecl:
			if d.Recv == nil {
				types[d.Name.Name] = nil
			}
		}
	}
}

// varEdits wraps indexes in the values of a var declaration (see indexEdits) and notes the
// types it declares.
func (s *Session) varEdits(ed *editor, t *typer, d *ast.GenDecl, types map[string]reflect.Type) {
	if d.Tok != token.VAR {
		return
	}
	for _, sp := range d.Specs {
		vs := sp.(*ast.ValueSpec)
		var declared reflect.Type
		typed := false
		if vs.Type != nil {
			declared, typed = t.resolveType(vs.Type)
		} else {
			for _, v := range vs.Values {
				s.indexEdits(ed, t, v)
			}
		}
		var outs []reflect.Type // the results of var a, b = f()
		if call, isCall := unparen(vs.Values).(*ast.CallExpr); isCall && vs.Type == nil && multiValue(len(vs.Names), vs.Values) {
			if rs, ok := t.results(call); ok && len(rs) == len(vs.Names) {
				outs = rs
			}
		}
		for i, n := range vs.Names {
			ty, ok := declared, typed
			switch {
			case vs.Type == nil && len(vs.Values) == len(vs.Names):
				ty, ok = t.typeOf(vs.Values[i])
			case outs != nil:
				ty, ok = outs[i], true
			}
			s.note(t, types, n, ty, ok)
		}
	}
}

// note records the type of a top-level variable for later statements of the chunk and, on
// success, for later cells.
func (s *Session) note(t *typer, types map[string]reflect.Type, id *ast.Ident, ty reflect.Type, ok bool) {
	if id.Name == "_" {
		return
	}
	if !ok {
		ty = nil
	}
	if id.Obj != nil && ok {
		t.top[id.Obj] = ty
	}
	types[id.Name] = ty
}

// noteDefine records the types of the variables a top-level := defines.
func (s *Session) noteDefine(t *typer, as *ast.AssignStmt, types map[string]reflect.Type) {
	var tys []reflect.Type
	known := false
	if len(as.Rhs) == len(as.Lhs) {
		tys = make([]reflect.Type, len(as.Lhs))
		for i, r := range as.Rhs {
			tys[i], _ = t.typeOf(r)
		}
		known = true
	} else if call, ok := as.Rhs[0].(*ast.CallExpr); ok && len(as.Rhs) == 1 {
		if outs, ok := t.results(call); ok && len(outs) == len(as.Lhs) {
			tys, known = outs, true
		}
	}
	for i, l := range as.Lhs {
		id, ok := l.(*ast.Ident)
		if !ok || (id.Obj != nil && id.Obj.Decl != as) {
			continue // assigned, not defined, here
		}
		var ty reflect.Type
		if known {
			ty = tys[i]
		}
		s.note(t, types, id, ty, ty != nil)
	}
}

// indexEdits works around yaegi's global type analysis, which cannot type an index into a
// value of a compiled type: each largest part of e that contains an index expression (outside
// function literals) and whose type the typer knows is wrapped in __kernel.IdN(...), the
// identity function of that type, whose call the analysis types without looking inside.
// Wrapping whole parts, not the index alone, keeps &xs[i] and pointer-method calls on xs[i]
// valid.
func (s *Session) indexEdits(ed *editor, t *typer, e ast.Expr) {
	if !hasIndex(e) {
		return
	}
	if ty, ok := t.typeOf(e); ok {
		ed.wrap(e, hookName+"."+s.identityFunc(ty)+"(", ")")
		return
	}
	for _, c := range childExprs(e) {
		s.indexEdits(ed, t, c)
	}
}

// hasIndex reports whether e has an index expression outside function literals.
func hasIndex(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		switch n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.IndexExpr:
			found = true
		}
		return !found
	})
	return found
}

// childExprs lists the direct sub-expressions of e.
func childExprs(e ast.Expr) []ast.Expr {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return []ast.Expr{x.X}
	case *ast.SelectorExpr:
		return []ast.Expr{x.X}
	case *ast.IndexExpr:
		return []ast.Expr{x.X, x.Index}
	case *ast.SliceExpr:
		return []ast.Expr{x.X, x.Low, x.High, x.Max}
	case *ast.StarExpr:
		return []ast.Expr{x.X}
	case *ast.UnaryExpr:
		return []ast.Expr{x.X}
	case *ast.BinaryExpr:
		return []ast.Expr{x.X, x.Y}
	case *ast.TypeAssertExpr:
		return []ast.Expr{x.X}
	case *ast.CallExpr:
		return append([]ast.Expr{x.Fun}, x.Args...)
	case *ast.CompositeLit:
		return x.Elts
	case *ast.KeyValueExpr:
		return []ast.Expr{x.Key, x.Value}
	}
	return nil
}

// splitTypedVars turns var x T = v into var x T; x = v. yaegi initialises a global declared
// with a type and a value through a path that, for a call of a generic function, silently
// yields the zero value; a plain assignment is compiled like any statement. The values keep
// their place in the source, so errors in them point at the cell's own columns.
// It reports whether it did, which removes the parentheses of a group.
func splitTypedVars(ed *editor, d *ast.GenDecl) bool {
	if d.Tok != token.VAR {
		return false
	}
	split := false
	for _, sp := range d.Specs {
		vs := sp.(*ast.ValueSpec)
		split = split || (vs.Type != nil && len(vs.Values) > 0)
	}
	if !split {
		return false
	}
	if d.Lparen.IsValid() {
		// var ( a T = 1; b = 2 ) becomes var a T; a = 1; var b = 2.
		ed.replace(ed.off(d.Pos()), ed.off(d.Lparen)+1, "")
		ed.replace(ed.off(d.Rparen), ed.off(d.Rparen)+1, "")
	}
	for _, sp := range d.Specs {
		vs := sp.(*ast.ValueSpec)
		if d.Lparen.IsValid() {
			ed.insert(ed.off(vs.Pos()), "var ")
		}
		if vs.Type == nil || len(vs.Values) == 0 {
			continue
		}
		names := make([]string, len(vs.Names))
		for i, n := range vs.Names {
			names[i] = n.Name
		}
		ed.replace(ed.off(vs.Type.End()), ed.off(vs.Values[0].Pos()), "; "+strings.Join(names, ", ")+" = ")
	}
	return true
}

// multiDefine renames the variables of a top-level definition of several variables from
// one multi-valued expression (a, b := f() or var a, b = f(), the i-th statement of the
// chunk, its spec-th spec) to temporaries, which receive the values; the caller defines each
// variable from its temporary with a single-value definition, so that the variables are
// globals (see the comment at the top of the file). For base, _, err := f() with err already
// defined in the chunk:
//
//	__mv3_0_0, _, __mv3_0_2 := f(); base := __mv3_0_0; err = __mv3_0_2; __kernel.Forget(&__mv3_0_0, &__mv3_0_2)
//
// defines reports whether the statement defines a name (Go's := assigns to a variable the
// same scope already has). It returns the defined names with their temporaries, and the
// statements to run after the definitions: the assignments and the call of Forget, which
// zeroes the temporaries so that they keep nothing alive. The right-hand side keeps its
// place, so errors in it keep their positions.
func multiDefine(ed *editor, names []*ast.Ident, defines func(*ast.Ident) bool, i, spec int) (defs [][2]string, after string) {
	var stmts, refs []string
	for k, id := range names {
		if id.Name == "_" {
			continue
		}
		temp := fmt.Sprintf("__mv%d_%d_%d", i, spec, k)
		if defines(id) {
			defs = append(defs, [2]string{id.Name, temp})
		} else {
			stmts = append(stmts, fmt.Sprintf("%s = %s", id.Name, temp))
		}
		refs = append(refs, "&"+temp)
		ed.replace(ed.off(id.Pos()), ed.off(id.End()), temp)
	}
	stmts = append(stmts, fmt.Sprintf("%s.Forget(%s)", hookName, strings.Join(refs, ", ")))
	return defs, strings.Join(stmts, "; ")
}

// joinDefs renders definitions of names from temporaries in the form format gives
// ("%s := %s", "var %s = %s" or, inside var ( ... ), "%s = %s"), each after a semicolon.
func joinDefs(defs [][2]string, format string) string {
	var b strings.Builder
	for _, d := range defs {
		b.WriteString("; ")
		fmt.Fprintf(&b, format, d[0], d[1])
	}
	return b.String()
}

// unparen returns the only expression of values without parentheses, or nil.
func unparen(values []ast.Expr) ast.Expr {
	if len(values) != 1 {
		return nil
	}
	return ast.Unparen(values[0])
}

// multiValue reports whether a definition of names from values takes several variables from
// one expression.
func multiValue(names int, values []ast.Expr) bool { return names > 1 && len(values) == 1 }

// isCommaOK reports whether a := is one of the two-value forms v, ok := m[k], x.(T), <-ch.
func isCommaOK(as *ast.AssignStmt) bool {
	if len(as.Lhs) != 2 || len(as.Rhs) != 1 {
		return false
	}
	switch r := as.Rhs[0].(type) {
	case *ast.IndexExpr:
		return true
	case *ast.TypeAssertExpr:
		return r.Type != nil
	case *ast.UnaryExpr:
		return r.Op == token.ARROW
	}
	return false
}

// stmtEdits rewrites one top-level statement (the i-th) of a statement chunk and notes the
// types of the variables it defines.
func (s *Session) stmtEdits(ed *editor, t *typer, st ast.Stmt, i int, types map[string]reflect.Type) {
	switch x := st.(type) {
	case *ast.ForStmt, *ast.RangeStmt, *ast.IfStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt,
		*ast.SelectStmt, *ast.BlockStmt, *ast.LabeledStmt:
		ed.wrap(st, "func() { ", " }()")
	case *ast.DeferStmt:
		start, end := ed.has(x)
		ed.replace(start, end, ed.thunk(x.Call, fmt.Sprintf("__defer%d", i), func(call string) string {
			return fmt.Sprintf("%s.Defer(func() { %s })", hookName, call)
		}))
	case *ast.DeclStmt:
		d, ok := x.Decl.(*ast.GenDecl)
		if !ok || d.Tok != token.VAR {
			return
		}
		s.varEdits(ed, t, d, types)
		split := splitTypedVars(ed, d)
		format := "var %s = %s"
		if d.Lparen.IsValid() && !split {
			format = "%s = %s" // a spec of the group
		}
		var after []string // statements, so after the group
		for j, sp := range d.Specs {
			if vs := sp.(*ast.ValueSpec); vs.Type == nil && multiValue(len(vs.Names), vs.Values) {
				defs, stmts := multiDefine(ed, vs.Names, func(*ast.Ident) bool { return true }, i, j)
				ed.insert(ed.off(vs.End()), joinDefs(defs, format))
				after = append(after, stmts)
			}
		}
		if len(after) > 0 {
			ed.insert(ed.off(d.End()), "; "+strings.Join(after, "; "))
		}
	case *ast.AssignStmt:
		if x.Tok != token.DEFINE {
			return
		}
		if isCommaOK(x) {
			s.commaOK(ed, t, x, i, types)
			return
		}
		for _, r := range x.Rhs {
			s.indexEdits(ed, t, r)
		}
		s.noteDefine(t, x, types)
		if multiValue(len(x.Lhs), x.Rhs) {
			s.globalMultiDefine(ed, x, i)
		}
	}
}

// globalMultiDefine applies multiDefine to a top-level a, b := f() that defines at least one
// variable (one that defines none is left for the interpreter to reject).
func (s *Session) globalMultiDefine(ed *editor, as *ast.AssignStmt, i int) {
	defines := func(id *ast.Ident) bool { return id.Obj == nil || id.Obj.Decl == as }
	names := make([]*ast.Ident, 0, len(as.Lhs))
	newVar := false
	for _, l := range as.Lhs {
		id, ok := l.(*ast.Ident)
		if !ok {
			return
		}
		names = append(names, id)
		newVar = newVar || (id.Name != "_" && defines(id))
	}
	if newVar {
		defs, after := multiDefine(ed, names, defines, i, 0)
		ed.insert(ed.off(as.End()), joinDefs(defs, "%s := %s")+"; "+after)
	}
}

// commaOK rewrites a top-level v, ok := X into declarations of v and ok with their types and
// an assignment. When the kernel cannot name v's type (an interpreted map's element), v is
// declared from m[k] and the lookup repeated, with m and k evaluated once into temporaries.
func (s *Session) commaOK(ed *editor, t *typer, as *ast.AssignStmt, i int, types map[string]reflect.Type) {
	start, end := ed.has(as)
	var vType string
	var vt reflect.Type
	var pre []string
	rhs := as.Rhs[0]
	switch r := rhs.(type) {
	case *ast.TypeAssertExpr:
		s.indexEdits(ed, t, r.X)
		vType = ed.text(r.Type)
		vt, _ = t.resolveType(r.Type)
	case *ast.UnaryExpr:
		s.indexEdits(ed, t, r.X)
		if ct, ok := t.typeOf(r.X); ok && ct.Kind() == reflect.Chan {
			vt = ct.Elem()
			vType = hookName + "." + s.namedType(vt)
		} else {
			return // yaegi fails; its error is explained (see explain)
		}
	case *ast.IndexExpr:
		s.indexEdits(ed, t, r.X)
		s.indexEdits(ed, t, r.Index)
		if mt, ok := t.typeOf(r.X); ok && mt.Kind() == reflect.Map {
			vt = mt.Elem()
			vType = hookName + "." + s.namedType(vt)
		}
	}
	var rhsText, xText, kText string
	if r, ok := rhs.(*ast.IndexExpr); ok {
		xText, kText = ed.text(r.X), ed.text(r.Index)
		rhsText = xText + "[" + kText + "]"
	} else {
		rhsText = ed.text(rhs)
	}
	names := make([]string, 2)
	var decls []string
	for k, l := range as.Lhs {
		id := l.(*ast.Ident)
		names[k] = id.Name
		if id.Name == "_" || (id.Obj != nil && id.Obj.Decl != as) {
			continue
		}
		if k == 1 {
			decls = append(decls, fmt.Sprintf("var %s bool", id.Name))
			s.note(t, types, id, basicTypes["bool"], true)
			continue
		}
		s.note(t, types, id, vt, vt != nil)
		if vType != "" {
			decls = append(decls, fmt.Sprintf("var %s %s", id.Name, vType))
			continue
		}
		// An interpreted map: declare v from a plain lookup, which the analysis types.
		m, key := fmt.Sprintf("__ok%dm", i), fmt.Sprintf("__ok%dk", i)
		pre = append(pre, fmt.Sprintf("%s, %s := %s, %s", m, key, xText, kText))
		rhsText = fmt.Sprintf("%s[%s]", m, key)
		decls = append(decls, fmt.Sprintf("%s := %s", id.Name, rhsText))
	}
	text := strings.Join(append(append(pre, decls...), fmt.Sprintf("%s, %s = %s", names[0], names[1], rhsText)), "; ")
	ed.replace(start, end, text)
}

// hookSymbol registers a symbol of the kernel's hook package (already imported by every
// interpreter as __kernel) under a fresh name.
func (s *Session) hookSymbol(prefix string, v reflect.Value) string {
	name := fmt.Sprintf("%s%d", prefix, len(s.hookSyms))
	s.hookSyms[name] = v
	// Use fails only for a path without a package name, which this one has.
	_ = s.it.Use(map[string]map[string]reflect.Value{hookPath + "/kernelhook": {name: v}})
	return name
}

// identityFunc returns the name of the hook's identity function of type func(T) T.
func (s *Session) identityFunc(t reflect.Type) string {
	if name, ok := s.identities[t]; ok {
		return name
	}
	fn := reflect.MakeFunc(reflect.FuncOf([]reflect.Type{t}, []reflect.Type{t}, false),
		func(args []reflect.Value) []reflect.Value { return args })
	name := s.hookSymbol("Id", fn)
	s.identities[t] = name
	return name
}

// namedType returns the name under which the hook package exports type t.
func (s *Session) namedType(t reflect.Type) string {
	if name, ok := s.typeNames[t]; ok {
		return name
	}
	name := s.hookSymbol("T", reflect.Zero(reflect.PointerTo(t)))
	s.typeNames[t] = name
	return name
}

// compileChunk applies the import/main edits and the rewrites to a placed chunk and compiles
// it. When yaegi rejects the rewritten chunk, it is rewritten again with variables of earlier
// cells typed from their current values (see typer.useGlobals) and tried once more. Compile
// errors come back in cell coordinates, with advice for the interpreter's known limits.
func (s *Session) compileChunk(src string, edits []edit, decl bool, cell int, last bool, fset *token.FileSet, f *ast.File) (*interp.Program, rewritten, error) {
	src0, sorted0 := applyEdits(src, edits)
	var mustErr *SyntaxError
	fix := func(useGlobals bool) rewritten {
		fx, err := s.fixChunk(src0, decl, cell, useGlobals, last)
		if errors.As(err, &mustErr) {
			return fx
		}
		if err != nil {
			// The edited chunk always parses (the cell did); should it not, compile it as is.
			fx = rewritten{src: src0, pos: &srcMap{}}
		}
		fx.orig = src
		fx.pos.passes = append([][]edit{sorted0}, fx.pos.passes...)
		return fx
	}
	compile := func(fx rewritten) (*interp.Program, error) {
		if decl {
			return s.compile(fx.src)
		}
		return s.compile(";" + fx.src) // a statement chunk starting with "func(" must not look like a declaration
	}
	fx := fix(false)
	if mustErr != nil {
		return nil, fx, mustErr
	}
	prog, err := compile(fx)
	if err == nil {
		return prog, fx, nil
	}
	s.resync()
	if fx2 := fix(true); fx2.src != fx.src {
		prog, err2 := compile(fx2)
		if err2 == nil {
			return prog, fx2, nil
		}
		s.resync()
	}
	if se := s.undefinedName(fset, f); se != nil {
		return nil, fx, se // clearer than what yaegi says about it
	}
	return nil, fx, fx.explain(err)
}

// resync repairs the interpreter's global frame after a failed compile, which can leave
// global symbols registered with slots past the end of the frame (Globals then panics). A
// successful evaluation resizes the frame to the slots allocated so far; each padding
// variable allocates one more, up to the highest slot the failed compile handed out.
func (s *Session) resync() {
	s.it.Eval(";")
	for i := 0; i < 64 && !s.globalsOK(); i++ {
		s.resyncs++
		s.it.Eval(fmt.Sprintf(";var __resync%d int", s.resyncs))
	}
}

func (s *Session) globalsOK() (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	s.it.Globals()
	return true
}

// compilePanic is a panic of yaegi's compiler (it has several on valid Go).
type compilePanic struct{ value any }

func (p compilePanic) Error() string { return fmt.Sprint(p.value) }

func (s *Session) compile(src string) (prog *interp.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, compilePanic{r}
		}
	}()
	prog, err = s.it.Compile(src)
	if err == nil {
		s.probeIndexes(prog)
	}
	return prog, err
}

// cellPos maps a position yaegi reported in the rewritten chunk (its lines are those of the
// placed chunk) to the placed chunk as the cell wrote it.
func (r rewritten) cellPos(line, col int) (int, int) {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(r.src[off:], '\n')
		if i < 0 {
			off = len(r.src)
			break
		}
		off += i + 1
	}
	off = min(off+col-1, len(r.src))
	o := min(max(r.pos.orig(off), 0), len(r.orig))
	return lineCol(r.orig, o)
}

// explain turns a compile failure into the cell's error: the first message, at the cell's
// position, with what to do instead where the cause is a known limit of the interpreter.
func (r rewritten) explain(err error) error {
	var cp compilePanic
	if errors.As(err, &cp) {
		msg := fmt.Sprintf("the interpreter (yaegi) failed compiling this cell: %v", cp.value)
		if v := fmt.Sprint(cp.value); strings.HasPrefix(v, "nil type") || strings.HasPrefix(v, "nil reflect type") {
			msg += "; known causes: `for i := range n` over an integer the kernel could not type " +
				"(write `for i := 0; i < n; i++`), `v, ok := <-ch` at the top level (declare v with its " +
				"type first: `var v T; v, ok = <-ch`), `x := f(...)` with f a generic function declared " +
				"in a cell (declare x first: `var x T; x = f(...)`)"
		}
		msg += "; moving the code into a function (func f() { ... }) usually avoids it"
		return &Error{Name: "CompileError", Value: msg, Traceback: []string{msg}}
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	m := posRE.FindStringSubmatch(first)
	if m == nil {
		return err
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	line, col = r.cellPos(line, col)
	return &SyntaxError{line - 1, col, advice(cleanMessage(m[3]))}
}

// advice appends what to do instead to yaegi messages whose cause is a known limit.
func advice(msg string) string {
	switch {
	case strings.Contains(msg, "constant definition loop"):
		return "the interpreter cannot work out the type of a variable defined here " +
			"(a limit of its analysis of top-level :=; yaegi says \"constant definition loop\"); " +
			"declare the variable with its type (`var x T = ...`) or compute it inside a function"
	case msg == "undefined: min" || msg == "undefined: max":
		return msg + " (the interpreter lacks Go 1.21's min and max; the kernel provides them when it can " +
			"tell the arguments' type: convert one argument, e.g. min(float64(a), b), or use math.Min)"
	case strings.HasPrefix(msg, "not a generic type"):
		return msg + " (the interpreter cannot type the result of a generic function in a top-level := " +
			"or var: declare the variable first, `var x T; x = f[...](...)`, or call it inside a function)"
	case msg == "undefined: clear":
		return msg + " (the interpreter lacks Go 1.21's clear; the kernel provides it for one map or slice argument)"
	}
	return msg
}
