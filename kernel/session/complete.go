package session

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"path"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/ordermerge/ordermerge/kernel/display"
)

var goKeywords = []string{"break", "case", "chan", "const", "continue", "default", "defer", "else",
	"fallthrough", "for", "func", "go", "goto", "if", "import", "interface", "map", "package",
	"range", "return", "select", "struct", "switch", "type", "var"}

var goBuiltins = []string{"append", "bool", "byte", "cap", "close", "complex", "complex128",
	"complex64", "copy", "delete", "error", "false", "float32", "float64", "imag", "int", "int16",
	"int32", "int64", "int8", "iota", "len", "make", "new", "nil", "panic", "print", "println",
	"real", "recover", "rune", "string", "true", "uint", "uint16", "uint32", "uint64", "uint8",
	"uintptr", "any"}

var magicNames = append(append([]string(nil), lineMagics...), cellMagics...)

func isIdentRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// exprAt returns the dotted identifier chain that ends at cursor (in code points) and where it
// starts.
func exprAt(code []rune, cursor int) (string, int) {
	if cursor > len(code) {
		cursor = len(code)
	}
	if cursor < 0 {
		cursor = 0
	}
	i := cursor
	for i > 0 && (isIdentRune(code[i-1]) || code[i-1] == '.') {
		i--
	}
	for n := 0; n < 2 && i > 0 && code[i-1] == '%'; n++ {
		i-- // a line magic (%time) or a cell magic (%%time)
	}
	return string(code[i:cursor]), i
}

// Complete returns the completions for the identifier before cursor (in Unicode code points)
// and the code-point range they replace. Matches is never nil.
func (s *Session) Complete(code string, cursor int) (matches []string, start, end int) {
	rs := []rune(code)
	if cursor > len(rs) {
		cursor = len(rs)
	}
	expr, from := exprAt(rs, cursor)
	matches = []string{}
	prefix := expr
	if strings.HasPrefix(expr, "%") {
		for _, m := range magicNames {
			if strings.HasPrefix(m, expr) {
				matches = append(matches, m)
			}
		}
		return matches, from, cursor
	}
	if i := strings.LastIndexByte(expr, '.'); i >= 0 {
		base := expr[:i]
		prefix = expr[i+1:]
		start = from + len([]rune(expr[:i+1]))
		for _, n := range s.membersOf(base) {
			if strings.HasPrefix(n, prefix) {
				matches = append(matches, n)
			}
		}
		sort.Strings(matches)
		return matches, start, cursor
	}
	seen := map[string]bool{}
	add := func(n string) {
		if strings.HasPrefix(n, prefix) && !seen[n] && !strings.HasPrefix(n, "__") {
			seen[n] = true
			matches = append(matches, n)
		}
	}
	for n := range s.globals() {
		add(n)
	}
	for n := range s.funcs {
		add(n)
	}
	for n := range s.types {
		add(n)
	}
	for n := range s.imported {
		add(n)
	}
	for n := range s.packages {
		add(n)
	}
	for _, n := range goKeywords {
		add(n)
	}
	for _, n := range goBuiltins {
		add(n)
	}
	sort.Strings(matches)
	return matches, from, cursor
}

// packagePath returns the import path a name refers to in cells, if it names a package.
func (s *Session) packagePath(name string) (string, bool) {
	if p, ok := s.imported[name]; ok {
		return p, true
	}
	if s.isGlobal(name) {
		return "", false
	}
	p, ok := s.packages[name]
	return p, ok
}

// membersOf lists what can follow "base.": a package's exported symbols, or the fields and
// methods of a variable's value.
func (s *Session) membersOf(base string) []string {
	if p, ok := s.packagePath(base); ok {
		var out []string
		for n := range s.members[p+"/"+path.Base(s.nameOf(p))] {
			if !strings.HasPrefix(n, "_") {
				out = append(out, n)
			}
		}
		return out
	}
	v, ok := s.valueOf(base)
	if !ok {
		return nil
	}
	out := fieldsAndMethods(v.Type())
	for _, names := range s.cellMethods(v.Type()) {
		for n := range names {
			out = append(out, n)
		}
	}
	return out
}

// noteMethod records a method declared in a cell: the interpreter's reflect types of cell
// types have no methods, so completion and inspection look them up here.
func (s *Session) noteMethod(d *ast.FuncDecl, decl string) {
	if len(d.Recv.List) == 0 {
		return
	}
	t := d.Recv.List[0].Type
	if st, ok := t.(*ast.StarExpr); ok {
		t = st.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok { // a generic type's receiver T[P]
		t = ix.X
	}
	id, ok := t.(*ast.Ident)
	if !ok {
		return
	}
	if s.methods[id.Name] == nil {
		s.methods[id.Name] = map[string]string{}
	}
	s.methods[id.Name][d.Name.Name] = strings.TrimSpace(decl)
}

// cellMethods returns the methods declared in cells (name -> declaration) of the cell types
// whose reflect type is t or *t's element. Cell types of the same structure share a reflect
// type in the interpreter; then the methods of each are listed.
func (s *Session) cellMethods(t reflect.Type) []map[string]string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []map[string]string
	for name, ms := range s.methods {
		if rt := s.cellType(name); rt != nil && rt == t {
			out = append(out, ms)
		}
	}
	return out
}

// cellType asks the interpreter for the reflect type it uses for the cell type name.
func (s *Session) cellType(name string) reflect.Type {
	if t, ok := s.typeOf[name]; ok {
		return t
	}
	if _, ok := s.imported["reflect"]; !ok {
		if _, err := s.it.Eval(`import reflect "reflect"`); err != nil {
			return nil
		}
		s.imported["reflect"] = "reflect"
	}
	v, err := s.it.Eval(fmt.Sprintf(";reflect.TypeOf((*%s)(nil)).Elem()", name))
	if err != nil || !v.IsValid() || !v.CanInterface() {
		return nil
	}
	t, _ := v.Interface().(reflect.Type)
	s.typeOf[name] = t
	return t
}

// valueOf evaluates an identifier chain (no calls, so no side effects).
func (s *Session) valueOf(expr string) (reflect.Value, bool) {
	for _, part := range strings.Split(expr, ".") {
		if part == "" {
			return reflect.Value{}, false
		}
		for _, r := range part {
			if !isIdentRune(r) {
				return reflect.Value{}, false
			}
		}
	}
	root := strings.Split(expr, ".")[0]
	if !s.isGlobal(root) {
		return reflect.Value{}, false
	}
	v, err := s.it.Eval(";" + expr)
	if err != nil || !v.IsValid() {
		return reflect.Value{}, false
	}
	return v, true
}

func fieldsAndMethods(t reflect.Type) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, tt := range []reflect.Type{t, reflect.PointerTo(t)} {
		for i := 0; i < tt.NumMethod(); i++ {
			add(tt.Method(i).Name)
		}
	}
	st := t
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
		for i := 0; i < t.NumMethod(); i++ {
			add(t.Method(i).Name)
		}
	}
	if st.Kind() == reflect.Struct {
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			switch {
			case !f.IsExported():
			case len(f.Name) > 1 && f.Name[0] == 'X' && unicode.IsLower(rune(f.Name[1])):
				add(f.Name[1:]) // yaegi exports an interpreted struct's field f as Xf
			default:
				add(f.Name)
			}
		}
	}
	return out
}

// Inspect describes the identifier at or before cursor: declaration, doc comment, and for a
// variable its type and value. found is false when there is nothing to say.
func (s *Session) Inspect(code string, cursor int) (data map[string]any, found bool) {
	rs := []rune(code)
	if cursor > len(rs) {
		cursor = len(rs)
	}
	expr := tokenAtCursor(rs, cursor)
	if expr == "" {
		return map[string]any{}, false
	}
	var text string
	if i := strings.LastIndexByte(expr, '.'); i >= 0 {
		if v, ok := s.valueOf(expr[:i]); ok {
			for _, ms := range s.cellMethods(v.Type()) {
				if d, ok := ms[expr[i+1:]]; ok {
					text = d
				}
			}
		}
	}
	if i := strings.IndexByte(expr, '.'); i >= 0 && text == "" {
		if p, ok := s.packagePath(expr[:i]); ok {
			text = s.describeMember(p, expr[:i], expr[i+1:])
		}
	}
	if text == "" {
		switch {
		case s.funcs[expr] != "":
			text = s.funcs[expr]
		case s.types[expr] != "":
			text = "type " + s.types[expr]
		default:
			if v, ok := s.valueOf(expr); ok {
				val := display.Text(v) // summarised: a million elements do not become megabytes
				if len(val) > 2000 {
					val = val[:2000] + "..."
				}
				text = fmt.Sprintf("%s %s = %s", expr, v.Type(), val)
			} else if p, ok := s.packagePath(expr); ok {
				text = "package " + s.nameOf(p) + " // import \"" + p + "\""
				if d, ok := s.doc(p); ok && d.Text != "" {
					text += "\n\n" + d.Text
				}
			}
		}
	}
	if text == "" {
		return map[string]any{}, false
	}
	return map[string]any{"text/plain": text, "text/markdown": "```go\n" + text + "\n```"}, true
}

// tokenAtCursor is what inspecting at cursor looks at, as IPython's token_at_cursor decides
// it: the callable of the innermost call whose parentheses hold the cursor (strings.ToUpper
// in strings.ToUpper(|) or strings.ToUpper(s|)), otherwise the dotted name at the cursor.
func tokenAtCursor(rs []rune, cursor int) string {
	src := string(rs[:cursor])
	var fset token.FileSet
	file := fset.AddFile("", -1, len(src))
	var sc scanner.Scanner
	sc.Init(file, []byte(src), func(token.Position, string) {}, 0)
	type open struct{ callee string }
	var stack []open
	var chain []string // the dotted name the last tokens form
	lastWasDot := false
	for {
		_, tok, lit := sc.Scan()
		if tok == token.EOF {
			break
		}
		switch tok {
		case token.IDENT:
			if !lastWasDot {
				chain = nil
			}
			chain = append(chain, lit)
			lastWasDot = false
			continue
		case token.PERIOD:
			lastWasDot = len(chain) > 0
			continue
		case token.LPAREN:
			stack = append(stack, open{strings.Join(chain, ".")})
		case token.LBRACK, token.LBRACE:
			stack = append(stack, open{})
		case token.RPAREN, token.RBRACK, token.RBRACE:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
		chain, lastWasDot = nil, false
	}
	// Inside a composite literal, an index or a block, the name at the cursor.
	if n := len(stack); n > 0 && stack[n-1].callee != "" {
		return stack[n-1].callee
	}
	end := cursor
	for end < len(rs) && isIdentRune(rs[end]) {
		end++
	}
	expr, _ := exprAt(rs, end)
	return strings.Trim(expr, ".")
}

func (s *Session) doc(key string) (Doc, bool) {
	if s.opts.Docs == nil {
		return Doc{}, false
	}
	return s.opts.Docs(key)
}

// describeMember documents pkg.Name (or pkg.Type.Method).
func (s *Session) describeMember(p, pkgName, rest string) string {
	if d, ok := s.doc(p + "." + rest); ok {
		out := d.Decl
		if d.Text != "" {
			out += "\n\n" + strings.TrimSpace(d.Text)
		}
		return out
	}
	name := strings.Split(rest, ".")[0]
	v, ok := s.members[p+"/"+s.nameOf(p)][name]
	if !ok {
		return ""
	}
	full := pkgName + "." + name
	switch {
	case v.Kind() == reflect.Func:
		return "func " + full + strings.TrimPrefix(v.Type().String(), "func")
	case v.Kind() == reflect.Pointer && v.IsNil():
		return "type " + full + " " + v.Type().Elem().Kind().String()
	case v.CanAddr():
		return "var " + full + " " + v.Type().String()
	default:
		return "const " + full + " = " + fmt.Sprint(v)
	}
}

// IsComplete says whether code is ready to run: "complete", "incomplete" (with the indent for
// the next line), or "invalid".
func (s *Session) IsComplete(code string) (status, indent string) {
	code, _ = parseMagics(code)
	if strings.TrimSpace(code) == "" {
		return "complete", ""
	}
	// Unclosed brackets or a raw string that is still open mean more lines are coming.
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(code))
	var sc scanner.Scanner
	var scanErr string
	sc.Init(file, []byte(code), func(_ token.Position, msg string) {
		if scanErr == "" {
			scanErr = msg
		}
	}, 0)
	depth := 0
	for {
		_, tok, _ := sc.Scan()
		if tok == token.EOF {
			break
		}
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
		}
	}
	if scanErr == "raw string literal not terminated" || scanErr == "comment not terminated" {
		return "incomplete", ""
	}
	if scanErr != "" {
		return "invalid", ""
	}
	if depth > 0 {
		return "incomplete", strings.Repeat("    ", depth)
	}
	if depth < 0 {
		return "invalid", ""
	}
	chunks, err := splitCell(code)
	if err != nil {
		return "invalid", ""
	}
	for _, c := range chunks {
		src := placed(code[c.start:c.end], c.line, c.col)
		var err error
		if c.decl {
			_, err = parser.ParseFile(token.NewFileSet(), "", declPrefix+src, 0)
		} else {
			_, err = parser.ParseFile(token.NewFileSet(), "", stmtPrefix+src+"\n}", 0)
		}
		if err != nil {
			// An error at the end of the input (EOF, or the wrapper's closing brace on the
			// line after the chunk) means the code stops in the middle of something.
			atEnd := strings.Contains(err.Error(), "found 'EOF'")
			if list, ok := err.(scanner.ErrorList); ok && len(list) > 0 {
				last := strings.Count(src, "\n") + 1
				atEnd = atEnd || list[0].Pos.Line > last ||
					list[0].Pos.Line == last && strings.HasSuffix(list[0].Msg, "found newline")
			}
			if atEnd || endsWithOperator(code) {
				return "incomplete", ""
			}
			return "invalid", ""
		}
	}
	return "complete", ""
}

func endsWithOperator(code string) bool {
	t := strings.TrimSpace(code)
	if t == "" {
		return false
	}
	return strings.ContainsAny(t[len(t)-1:], "+-*/%&|^<>=!,.:")
}
