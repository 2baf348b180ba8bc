package session

import (
	"go/ast"
	"go/constant"
	"go/token"
	"path"
	"reflect"
	"strconv"
)

// typer works out, from a chunk's syntax and reflection, the Go types of expressions whose
// values come from compiled code: calls of preloaded functions and methods, their fields,
// package variables, composite literals of preloaded types, and variables earlier cells
// defined from those. Interpreted types (declared in cells) have no reflect type that names
// them, so the typer answers "unknown" for anything that involves one; the rewrites that use
// it then leave the code alone.
//
// yaegi needs this help because its global type analysis, which types every top-level :=
// before running the cell, cannot type an index into a value of a compiled type
// (results[1] with results from sft.TrainVariants) and gives up with "constant definition
// loop"; see indexEdits.
type typer struct {
	s *Session
	// top holds the types of the variables the chunk itself defines at its top level, filled
	// in statement order as the rewrite walks the chunk.
	top map[*ast.Object]reflect.Type
	// useGlobals also types identifiers of earlier cells that have no recorded type from the
	// interpreter's current values (a retry after yaegi failed; the value's type may then be
	// an interpreted type's reflect stand-in).
	useGlobals bool
	depth      int // guards declType's recursion
}

func newTyper(s *Session) *typer {
	return &typer{s: s, top: map[*ast.Object]reflect.Type{}}
}

var (
	errorType = reflect.TypeOf((*error)(nil)).Elem()
	anyType   = reflect.TypeOf((*any)(nil)).Elem()
)

// basicTypes are the predeclared type names.
var basicTypes = map[string]reflect.Type{
	"bool": reflect.TypeOf(false), "string": reflect.TypeOf(""),
	"int": reflect.TypeOf(0), "int8": reflect.TypeOf(int8(0)), "int16": reflect.TypeOf(int16(0)),
	"int32": reflect.TypeOf(int32(0)), "int64": reflect.TypeOf(int64(0)),
	"uint": reflect.TypeOf(uint(0)), "uint8": reflect.TypeOf(uint8(0)), "uint16": reflect.TypeOf(uint16(0)),
	"uint32": reflect.TypeOf(uint32(0)), "uint64": reflect.TypeOf(uint64(0)), "uintptr": reflect.TypeOf(uintptr(0)),
	"float32": reflect.TypeOf(float32(0)), "float64": reflect.TypeOf(float64(0)),
	"complex64": reflect.TypeOf(complex64(0)), "complex128": reflect.TypeOf(complex128(0)),
	"byte": reflect.TypeOf(byte(0)), "rune": reflect.TypeOf(rune(0)),
	"error": errorType, "any": anyType,
}

// member returns the exported symbol name of the package a cell refers to as pkg, when pkg
// names a package there (not shadowed by a variable, function or type of the cells).
func (t *typer) member(pkg *ast.Ident, name string) (reflect.Value, bool) {
	if pkg.Obj != nil {
		return reflect.Value{}, false
	}
	if pkg.Name == hookName {
		v, ok := t.s.hookSyms[name]
		return v, ok
	}
	if _, ok := t.s.varTypes[pkg.Name]; ok {
		return reflect.Value{}, false
	}
	p, ok := t.s.imported[pkg.Name]
	if !ok {
		if t.s.isGlobal(pkg.Name) {
			return reflect.Value{}, false
		}
		if p, ok = t.s.packages[pkg.Name]; !ok {
			return reflect.Value{}, false
		}
	}
	v, ok := t.s.members[p+"/"+path.Base(t.s.nameOf(p))][name]
	return v, ok && v.IsValid()
}

// isTypeValue reports whether a symbol table entry stands for a type: yaegi's tables encode
// a type as a typed nil pointer, and a variable as an addressable value.
func isTypeValue(v reflect.Value) bool {
	return v.Kind() == reflect.Pointer && v.IsNil() && !v.CanAddr()
}

// resolveType returns the reflect type a type expression denotes, when it is built only
// from predeclared and preloaded types.
func (t *typer) resolveType(e ast.Expr) (reflect.Type, bool) {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return t.resolveType(x.X)
	case *ast.Ident:
		if x.Obj != nil {
			return nil, false // declared in the chunk: an interpreted type
		}
		if _, ok := t.s.types[x.Name]; ok {
			return nil, false
		}
		bt, ok := basicTypes[x.Name]
		return bt, ok
	case *ast.SelectorExpr:
		pkg, ok := x.X.(*ast.Ident)
		if !ok {
			return nil, false
		}
		v, ok := t.member(pkg, x.Sel.Name)
		if !ok || !isTypeValue(v) {
			return nil, false
		}
		return v.Type().Elem(), true
	case *ast.StarExpr:
		el, ok := t.resolveType(x.X)
		if !ok {
			return nil, false
		}
		return reflect.PointerTo(el), true
	case *ast.ArrayType:
		el, ok := t.resolveType(x.Elt)
		if !ok {
			return nil, false
		}
		if x.Len == nil {
			return reflect.SliceOf(el), true
		}
		lit, ok := x.Len.(*ast.BasicLit)
		if !ok || lit.Kind != token.INT {
			return nil, false
		}
		n, err := strconv.ParseInt(lit.Value, 0, 64)
		if err != nil || n < 0 {
			return nil, false
		}
		return reflect.ArrayOf(int(n), el), true
	case *ast.MapType:
		k, ok1 := t.resolveType(x.Key)
		v, ok2 := t.resolveType(x.Value)
		if !ok1 || !ok2 || !k.Comparable() {
			return nil, false
		}
		return reflect.MapOf(k, v), true
	case *ast.ChanType:
		el, ok := t.resolveType(x.Value)
		if !ok {
			return nil, false
		}
		dir := reflect.BothDir
		switch x.Dir {
		case ast.SEND:
			dir = reflect.SendDir
		case ast.RECV:
			dir = reflect.RecvDir
		}
		return reflect.ChanOf(dir, el), true
	case *ast.InterfaceType:
		if x.Methods == nil || len(x.Methods.List) == 0 {
			return anyType, true
		}
	}
	return nil, false
}

// typeOf returns the type of the value of e, when the typer can tell it (see typer).
func (t *typer) typeOf(e ast.Expr) (reflect.Type, bool) {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return t.typeOf(x.X)
	case *ast.Ident:
		return t.ident(x)
	case *ast.SelectorExpr:
		if pkg, ok := x.X.(*ast.Ident); ok {
			if v, ok := t.member(pkg, x.Sel.Name); ok {
				if isTypeValue(v) {
					return nil, false
				}
				if _, untyped := v.Interface().(constant.Value); untyped {
					return nil, false
				}
				return v.Type(), true
			}
		}
		xt, ok := t.typeOf(x.X)
		if !ok {
			return nil, false
		}
		return selectType(xt, x.Sel.Name)
	case *ast.IndexExpr:
		xt, ok := t.typeOf(x.X)
		if !ok {
			return nil, false
		}
		return elemType(xt)
	case *ast.SliceExpr:
		xt, ok := t.typeOf(x.X)
		if !ok {
			return nil, false
		}
		switch xt.Kind() {
		case reflect.Slice, reflect.String:
			return xt, true
		case reflect.Array:
			return reflect.SliceOf(xt.Elem()), true
		case reflect.Pointer:
			if xt.Elem().Kind() == reflect.Array {
				return reflect.SliceOf(xt.Elem().Elem()), true
			}
		}
		return nil, false
	case *ast.StarExpr:
		xt, ok := t.typeOf(x.X)
		if !ok || xt.Kind() != reflect.Pointer {
			return nil, false
		}
		return xt.Elem(), true
	case *ast.UnaryExpr:
		switch x.Op {
		case token.AND:
			xt, ok := t.typeOf(x.X)
			if !ok {
				return nil, false
			}
			return reflect.PointerTo(xt), true
		case token.ARROW:
			xt, ok := t.typeOf(x.X)
			if !ok || xt.Kind() != reflect.Chan {
				return nil, false
			}
			return xt.Elem(), true
		}
		return nil, false
	case *ast.CompositeLit:
		if x.Type == nil {
			return nil, false
		}
		return t.resolveType(x.Type)
	case *ast.TypeAssertExpr:
		if x.Type == nil {
			return nil, false
		}
		return t.resolveType(x.Type)
	case *ast.CallExpr:
		outs, ok := t.results(x)
		if !ok || len(outs) != 1 {
			return nil, false
		}
		return outs[0], true
	}
	return nil, false
}

// results returns the result types of a call (for a conversion, the converted-to type).
func (t *typer) results(call *ast.CallExpr) ([]reflect.Type, bool) {
	if id, ok := call.Fun.(*ast.Ident); ok && id.Obj == nil && !t.s.isGlobal(id.Name) {
		switch id.Name {
		case "len", "cap", "copy":
			return []reflect.Type{basicTypes["int"]}, true
		case "append":
			if len(call.Args) > 0 {
				if at, ok := t.typeOf(call.Args[0]); ok {
					return []reflect.Type{at}, true
				}
			}
			return nil, false
		case "new":
			if len(call.Args) == 1 {
				if at, ok := t.resolveType(call.Args[0]); ok {
					return []reflect.Type{reflect.PointerTo(at)}, true
				}
			}
			return nil, false
		case "make":
			if len(call.Args) > 0 {
				if at, ok := t.resolveType(call.Args[0]); ok {
					return []reflect.Type{at}, true
				}
			}
			return nil, false
		}
	}
	if ct, ok := t.resolveType(call.Fun); ok && len(call.Args) == 1 {
		return []reflect.Type{ct}, true // a conversion
	}
	ft, ok := t.typeOf(call.Fun)
	if !ok || ft.Kind() != reflect.Func {
		return nil, false
	}
	outs := make([]reflect.Type, ft.NumOut())
	for i := range outs {
		outs[i] = ft.Out(i)
	}
	return outs, true
}

// ident types a variable: one the chunk defined above, or one an earlier cell defined.
func (t *typer) ident(id *ast.Ident) (reflect.Type, bool) {
	if id.Obj != nil {
		if ty, ok := t.top[id.Obj]; ok {
			return ty, true
		}
		return t.declType(id)
	}
	if ty, ok := t.s.varTypes[id.Name]; ok {
		return ty, true
	}
	if t.useGlobals {
		if v, ok := t.s.globals()[id.Name]; ok && v.IsValid() && compiledClean(v.Type(), 0) {
			return v.Type(), true
		}
	}
	return nil, false
}

// compiledClean reports whether t is built only from compiled types, as far as reflection
// tells: yaegi gives the values of types declared in cells unnamed struct (or interface)
// stand-ins, which must not become the declared type of a variable.
func compiledClean(t reflect.Type, depth int) bool {
	if depth > 8 {
		return false
	}
	if t.Name() != "" {
		return t.PkgPath() != "" || basicTypes[t.Name()] == t
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
		return compiledClean(t.Elem(), depth+1)
	case reflect.Map:
		return compiledClean(t.Key(), depth+1) && compiledClean(t.Elem(), depth+1)
	case reflect.Func:
		for i := 0; i < t.NumIn(); i++ {
			if !compiledClean(t.In(i), depth+1) {
				return false
			}
		}
		for i := 0; i < t.NumOut(); i++ {
			if !compiledClean(t.Out(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Interface:
		return t.NumMethod() == 0
	}
	return false // an unnamed struct
}

// selectType is the type of x.name for x of type xt: a field (through pointers and embedded
// structs) or a method value.
func selectType(xt reflect.Type, name string) (reflect.Type, bool) {
	if m, ok := xt.MethodByName(name); ok {
		if xt.Kind() == reflect.Interface {
			return m.Type, true
		}
		return withoutReceiver(m.Type), true
	}
	if xt.Kind() != reflect.Pointer && xt.Kind() != reflect.Interface {
		if m, ok := reflect.PointerTo(xt).MethodByName(name); ok {
			return withoutReceiver(m.Type), true
		}
	}
	st := xt
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() != reflect.Struct {
		return nil, false
	}
	f, ok := st.FieldByName(name)
	if !ok || !f.IsExported() {
		return nil, false
	}
	return f.Type, true
}

func withoutReceiver(ft reflect.Type) reflect.Type {
	in := make([]reflect.Type, 0, ft.NumIn())
	for i := 1; i < ft.NumIn(); i++ {
		in = append(in, ft.In(i))
	}
	out := make([]reflect.Type, ft.NumOut())
	for i := range out {
		out[i] = ft.Out(i)
	}
	return reflect.FuncOf(in, out, ft.IsVariadic())
}

// elemType is the type of x[i] for x of type xt.
func elemType(xt reflect.Type) (reflect.Type, bool) {
	switch xt.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return xt.Elem(), true
	case reflect.String:
		return basicTypes["byte"], true
	case reflect.Pointer:
		if xt.Elem().Kind() == reflect.Array {
			return xt.Elem().Elem(), true
		}
	}
	return nil, false
}

// kindOf returns the basic kind of e's value where the syntax and the earlier cells tell it
// (for range over an integer and for min/max): untyped constants report the kind of their
// default type with untyped set.
func (t *typer) kindOf(e ast.Expr) (kind reflect.Kind, untyped, ok bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		switch x.Kind {
		case token.INT, token.CHAR:
			return reflect.Int, true, true
		case token.FLOAT:
			return reflect.Float64, true, true
		case token.STRING:
			return reflect.String, true, true
		}
		return 0, false, false
	case *ast.ParenExpr:
		return t.kindOf(x.X)
	case *ast.UnaryExpr:
		if x.Op == token.SUB || x.Op == token.ADD || x.Op == token.XOR {
			return t.kindOf(x.X)
		}
	case *ast.BinaryExpr:
		switch x.Op {
		case token.SHL, token.SHR:
			return t.kindOf(x.X)
		case token.ADD, token.SUB, token.MUL, token.QUO, token.REM, token.AND, token.OR, token.XOR, token.AND_NOT:
			kx, ux, okx := t.kindOf(x.X)
			ky, uy, oky := t.kindOf(x.Y)
			switch {
			case okx && !ux:
				return kx, false, true
			case oky && !uy:
				return ky, false, true
			case okx && oky: // both untyped: the "larger" constant kind wins
				if kx == reflect.Float64 || ky == reflect.Float64 {
					return reflect.Float64, true, true
				}
				return kx, true, true
			}
		}
		return 0, false, false
	case *ast.Ident:
		if x.Obj != nil {
			return t.localKind(x)
		}
		if x.Name == "true" || x.Name == "false" {
			return reflect.Bool, true, true
		}
	case *ast.CallExpr:
		// A conversion to a basic type says its kind, whatever the operand.
		if id, ok := x.Fun.(*ast.Ident); ok && id.Obj == nil {
			if bt, ok := basicTypes[id.Name]; ok && len(x.Args) == 1 && !t.s.isGlobal(id.Name) {
				return bt.Kind(), false, true
			}
		}
	}
	if ty, ok := t.typeOf(e); ok {
		return ty.Kind(), false, true
	}
	if id, ok := e.(*ast.Ident); ok && id.Obj == nil {
		// A variable or constant of an earlier cell: its current value has the right kind
		// even when its type is an interpreted one.
		if v, ok := t.s.globals()[id.Name]; ok && v.IsValid() {
			return v.Kind(), false, true
		}
	}
	return 0, false, false
}

// declType types a variable declared inside the chunk from its declaration: a parameter, a
// var, a := (single, multi-value call, comma-ok) or a range clause.
func (t *typer) declType(id *ast.Ident) (reflect.Type, bool) {
	if t.depth > 16 || id.Obj.Kind != ast.Var {
		return nil, false
	}
	t.depth++
	defer func() { t.depth-- }()
	switch d := id.Obj.Decl.(type) {
	case *ast.Field:
		return t.resolveType(d.Type)
	case *ast.ValueSpec:
		if d.Type != nil {
			return t.resolveType(d.Type)
		}
		for i, n := range d.Names {
			if n.Obj == id.Obj {
				return t.valueType(d.Values, i, len(d.Names))
			}
		}
	case *ast.AssignStmt:
		if d.Tok != token.DEFINE {
			return nil, false
		}
		for i, l := range d.Lhs {
			if l, ok := l.(*ast.Ident); ok && l.Obj == id.Obj {
				return t.valueType(d.Rhs, i, len(d.Lhs))
			}
		}
	}
	return nil, false
}

// valueType is the type of the i-th of n variables initialised from values.
func (t *typer) valueType(values []ast.Expr, i, n int) (reflect.Type, bool) {
	if len(values) == n {
		return t.typeOf(values[i])
	}
	if len(values) != 1 {
		return nil, false
	}
	switch v := values[0].(type) {
	case *ast.CallExpr:
		outs, ok := t.results(v)
		if !ok || len(outs) != n {
			return nil, false
		}
		return outs[i], true
	case *ast.UnaryExpr:
		if v.Op == token.RANGE { // the resolver's stand-in for a range clause
			xt, ok := t.typeOf(v.X)
			if !ok {
				return nil, false
			}
			return rangeType(xt, i)
		}
	}
	if n == 2 && i == 1 {
		return basicTypes["bool"], true // the ok of a comma-ok form
	}
	if n == 2 && i == 0 {
		return t.typeOf(values[0])
	}
	return nil, false
}

// rangeType is the type of the key (i == 0) or value of a range over a value of type xt.
func rangeType(xt reflect.Type, i int) (reflect.Type, bool) {
	if xt.Kind() == reflect.Pointer && xt.Elem().Kind() == reflect.Array {
		xt = xt.Elem()
	}
	switch xt.Kind() {
	case reflect.Slice, reflect.Array:
		if i == 0 {
			return basicTypes["int"], true
		}
		return xt.Elem(), true
	case reflect.String:
		if i == 0 {
			return basicTypes["int"], true
		}
		return basicTypes["rune"], true
	case reflect.Map:
		if i == 0 {
			return xt.Key(), true
		}
		return xt.Elem(), true
	case reflect.Chan:
		if i == 0 {
			return xt.Elem(), true
		}
	}
	if isIntegerKind(xt.Kind()) && i == 0 {
		return xt, true
	}
	return nil, false
}

// localKind types an identifier declared inside the chunk from its declaration, also when
// it is initialised from an untyped constant (n := 3).
func (t *typer) localKind(id *ast.Ident) (reflect.Kind, bool, bool) {
	if t.depth > 16 {
		return 0, false, false
	}
	t.depth++
	defer func() { t.depth-- }()
	if ty, ok := t.ident(id); ok {
		return ty.Kind(), false, true
	}
	switch d := id.Obj.Decl.(type) {
	case *ast.ValueSpec:
		if d.Type != nil {
			return 0, false, false
		}
		for i, n := range d.Names {
			if n.Obj == id.Obj && i < len(d.Values) && len(d.Values) == len(d.Names) {
				k, untyped, ok := t.kindOf(d.Values[i])
				if id.Obj.Kind == ast.Con {
					return k, untyped, ok
				}
				return defaultKind(k, untyped, ok)
			}
		}
	case *ast.AssignStmt:
		if d.Tok != token.DEFINE || len(d.Lhs) != len(d.Rhs) {
			return 0, false, false
		}
		for i, l := range d.Lhs {
			if l, ok := l.(*ast.Ident); ok && l.Obj == id.Obj {
				return defaultKind(t.kindOf(d.Rhs[i]))
			}
		}
	}
	return 0, false, false
}

// defaultKind gives a variable initialised from an untyped constant the constant's default
// type (x := 3 is an int).
func defaultKind(k reflect.Kind, _ bool, ok bool) (reflect.Kind, bool, bool) {
	return k, false, ok
}

func isIntegerKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}
