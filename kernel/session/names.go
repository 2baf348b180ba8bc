package session

import (
	"fmt"
	"go/ast"
	"go/scanner"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// A cell that fails to compile, or stops (interrupt, panic) before some of its definitions
// ran, must leave the names it would have defined as they were: yaegi declares a chunk's
// top-level names when it compiles the chunk, before anything runs and whether or not the
// compile succeeds, so without this a failed `x := f()` left x defined with a zero value (or
// none: later uses failed with reflect errors), and a failed redefinition of an existing x
// replaced x's value with zero.
//
// Each top-level statement is preceded, in the source yaegi runs, by a call that records its
// index (atMarker), so the session knows which statement a failure stopped in: the
// definitions before it ran, and the position of a panic at the top level is in it. When
// a cell fails, the names of the definitions that did not run are rolled back: an existing
// variable gets its value (and type) back, an existing function or type its recorded
// declaration, and a name the cell introduced is forgotten (dead): the kernel reports it as
// undefined until a cell defines it again, and it is left out of the globals that
// completion, %who and the rewrites see. (yaegi offers no way to delete a global, so the
// name stays in its scope.)
//
// A function that a failed cell declared again, whatever the failure (compile error, panic,
// interrupt) and whether or not its declaration ran, gets its old definition back: yaegi
// installs a function when it compiles its declaration, so the kernel compiles the old
// declaration again (reinstate), from the chunk that declared it, at the same lines and
// columns (a panic in it still points at the earlier cell). A type keeps its old definition
// by itself: yaegi keeps a type's first declaration (and its methods' first), so only the
// kernel's record of the declaration is restored. (A type that only a failed cell declared
// stays declared that way in the interpreter, unknown to the cells, which a later
// declaration of the name cannot change: the same declaration again defines it, a different
// one is an error that says so, see deadTypeChanged.)

// definition is one top-level statement (or a declaration chunk) and the names it defines.
type definition struct {
	stmt  int // index among the chunk's top-level statements; -1 for a declaration chunk
	names []string
}

// cellNames is what the session knew before a cell ran, for rolling its names back.
type cellNames struct {
	values   map[string]reflect.Value // the variables and constants, as they were
	funcs    map[string]string
	types    map[string]string
	varTypes map[string]reflect.Type
	notRun   []string // names of definitions that did not run, filled as chunks fail
	decls    []string // names declared by the cell's declaration chunks that compiled
	// funcChunks are where the functions were compiled, redeclared the functions and types
	// that existed before the cell and that it declared again, methods the kernel's record of
	// the methods (receiver -> method -> declaration).
	funcChunks map[string]funcChunk
	redeclared []string
	methods    map[string]map[string]string
}

// snapshotNames records the state a failed cell rolls back to.
func (s *Session) snapshotNames() *cellNames {
	c := &cellNames{values: map[string]reflect.Value{}, funcs: map[string]string{}, types: map[string]string{}, varTypes: map[string]reflect.Type{}}
	for n, v := range s.globals() {
		c.values[n] = v
	}
	for n, d := range s.funcs {
		c.funcs[n] = d
	}
	for n, d := range s.types {
		c.types[n] = d
	}
	for n, t := range s.varTypes {
		c.varTypes[n] = t
	}
	c.funcChunks = make(map[string]funcChunk, len(s.funcChunks))
	for n, fc := range s.funcChunks {
		c.funcChunks[n] = fc
	}
	c.methods = make(map[string]map[string]string, len(s.methods))
	for r, ms := range s.methods {
		c.methods[r] = make(map[string]string, len(ms))
		for m, d := range ms {
			c.methods[r][m] = d
		}
	}
	return c
}

// chunkDefinitions lists the top-level definitions of a parsed chunk, in order.
func chunkDefinitions(f *ast.File, decl bool) []definition {
	if decl {
		var names []string
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				names = append(names, specNames(d)...)
			case *ast.FuncDecl:
				if d.Recv == nil {
					names = append(names, d.Name.Name)
				}
			}
		}
		return []definition{{stmt: -1, names: names}}
	}
	var defs []definition
	for i, st := range stmtBody(f) {
		if names := stmtNames(st); len(names) > 0 {
			defs = append(defs, definition{stmt: i, names: names})
		}
	}
	return defs
}

// stmtNames lists the names a top-level statement defines.
func stmtNames(st ast.Stmt) []string {
	var names []string
	switch x := st.(type) {
	case *ast.AssignStmt:
		if x.Tok == token.DEFINE {
			for _, l := range x.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name != "_" && (id.Obj == nil || id.Obj.Decl == x) {
					names = append(names, id.Name)
				}
			}
		}
	case *ast.DeclStmt:
		if d, ok := x.Decl.(*ast.GenDecl); ok {
			names = specNames(d)
		}
	}
	return names
}

func specNames(d *ast.GenDecl) []string {
	var names []string
	for _, sp := range d.Specs {
		switch sp := sp.(type) {
		case *ast.ValueSpec:
			for _, n := range sp.Names {
				if n.Name != "_" {
					names = append(names, n.Name)
				}
			}
		case *ast.TypeSpec:
			names = append(names, sp.Name.Name)
		}
	}
	return names
}

// atMarker is the call that precedes the i-th top-level statement in the source yaegi runs.
func atMarker(i int) string { return hookName + ".At(" + strconv.Itoa(i) + "); " }

// atStatement is the hook behind atMarker.
func (s *Session) atStatement(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = i
}

// runningStatement is the index of the top-level statement of the chunk that was running
// last (-1: none yet).
func (s *Session) runningStatement() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at
}

// chunkFailed notes the names of a failed chunk's definitions that did not run: all of them
// when it did not compile, otherwise those from statement at (where it stopped) on. The
// names of those that ran are alive again, if an earlier failure had forgotten them.
func (s *Session) chunkFailed(c *cellNames, defs []definition, compiled bool, at int) {
	if !compiled {
		// A cell that fails to compile declares nothing: its earlier declaration chunks
		// (functions, types, variables without values) go too. Statements that ran stay.
		c.notRun = append(c.notRun, c.decls...)
	}
	for _, d := range defs {
		if compiled && d.stmt >= 0 && d.stmt < at {
			s.revive(d.names)
			continue
		}
		c.notRun = append(c.notRun, d.names...)
	}
}

// revive makes names defined again.
func (s *Session) revive(names []string) {
	for _, n := range names {
		delete(s.dead, n)
		delete(s.deadTypes, n)
	}
}

// rollBack restores or forgets the names of the failed cell's definitions that did not run.
func (s *Session) rollBack(c *cellNames) {
	for _, n := range c.redeclared {
		s.reinstate(c, n)
	}
	for r, ms := range c.methods {
		for m, d := range ms {
			if s.methods[r] == nil {
				s.methods[r] = map[string]string{}
			}
			s.methods[r][m] = d // a method's first declaration stays in force
		}
	}
	if len(c.notRun) == 0 {
		return
	}
	now := s.globals()
	for _, n := range c.notRun {
		if t, ok := c.varTypes[n]; ok {
			s.varTypes[n] = t
		} else {
			delete(s.varTypes, n)
		}
		if d, ok := c.funcs[n]; ok {
			s.funcs[n] = d
		} else {
			delete(s.funcs, n)
		}
		if d, ok := c.types[n]; ok {
			s.types[n] = d
		} else if d, ok := s.types[n]; ok {
			s.deadTypes[n] = d // yaegi keeps it (see deadTypeChanged)
			delete(s.types, n)
		}
		old, existed := c.values[n]
		_, wasFunc := c.funcs[n]
		_, wasType := c.types[n]
		switch {
		case existed:
			// The failed compile may have given the name a new, zero slot, or a new type.
			s.restore(n, now[n], old)
		case wasFunc || wasType:
		default:
			s.dead[n] = true
		}
	}
}

// restore gives variable name its value old again; cur is what it holds now. When the
// failed cell changed its type, name is defined again from a hook variable holding old.
func (s *Session) restore(name string, cur, old reflect.Value) {
	defer func() { _ = recover() }() // what the reflect package refuses stays as it is
	if !old.IsValid() {
		return
	}
	if cur.IsValid() && cur.CanSet() && cur.Type() == old.Type() {
		cur.Set(old)
		return
	}
	keep := reflect.New(old.Type())
	keep.Elem().Set(old)
	v := s.hookSymbol("Keep", keep)
	_, _ = s.it.Eval(";" + name + " := *" + hookName + "." + v)
	keep.Elem().SetZero() // the variable holds the value now, not the hook
}

// deadTypeChanged finds a type declaration of a chunk whose name only a failed cell declared,
// differently: yaegi would keep the failed cell's declaration and report errors about it.
// The same declaration again is fine: the name is defined again.
func (s *Session) deadTypeChanged(fset *token.FileSet, f *ast.File, src string, base int) *SyntaxError {
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, sp := range g.Specs {
			ts := sp.(*ast.TypeSpec)
			old, ok := s.deadTypes[ts.Name.Name]
			if !ok {
				continue
			}
			decl := src[fset.Position(ts.Pos()).Offset-base : fset.Position(ts.End()).Offset-base]
			if sameTokens(decl, old) {
				continue
			}
			p := fset.Position(ts.Name.Pos())
			return &SyntaxError{p.Line - 1, p.Column, fmt.Sprintf("type %s was declared as %q by a cell that failed, and the interpreter keeps "+
				"a type's first declaration: declare it as before, use a new name, or %%reset", ts.Name.Name, "type "+strings.Join(strings.Fields(old), " "))}
		}
	}
	return nil
}

// sameTokens reports whether two declarations are the same tokens, semicolons aside (layout
// and comments do not matter).
func sameTokens(a, b string) bool {
	tokens := func(src string) []string {
		var sc scanner.Scanner
		fs := token.NewFileSet()
		sc.Init(fs.AddFile("", -1, len(src)), []byte(src), nil, 0)
		var out []string
		for {
			_, tok, lit := sc.Scan()
			if tok == token.EOF {
				return out
			}
			if tok != token.SEMICOLON {
				out = append(out, tok.String()+" "+lit)
			}
		}
	}
	return slices.Equal(tokens(a), tokens(b))
}

// deadName finds the first identifier of a chunk that names a forgotten name, which the
// kernel reports as undefined (yaegi would find its zero value).
func (s *Session) deadName(fset *token.FileSet, f *ast.File) *SyntaxError {
	if len(s.dead) == 0 {
		return nil
	}
	for _, id := range f.Unresolved {
		if s.dead[id.Name] {
			pos := fset.Position(id.Pos())
			return &SyntaxError{pos.Line - 1, pos.Column, "undefined: " + id.Name}
		}
	}
	return nil
}

// reinstate gives function or type n, which existed before failed cell c declared it again,
// its old definition back.
func (s *Session) reinstate(c *cellNames, n string) {
	delete(s.dead, n)
	if d, ok := c.types[n]; ok {
		s.types[n] = d
	}
	d, ok := c.funcs[n]
	if !ok {
		return
	}
	s.funcs[n] = d
	fc, ok := c.funcChunks[n]
	if !ok {
		return
	}
	s.funcChunks[n] = fc
	if src, ok := funcSource(fc.fx.src, n); ok {
		s.evalQuiet(src)
	}
}

// funcSource is the declaration of function name in chunk (a compiled declaration chunk),
// alone, at its place: everything else is blanked out, line breaks kept.
func funcSource(chunk, name string) (string, bool) {
	fset := token.NewFileSet()
	f, base, err := parseChunk(fset, chunk, true)
	if err != nil {
		return "", false
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || fd.Name.Name != name {
			continue
		}
		start, end := fset.Position(fd.Pos()).Offset-base, fset.Position(fd.End()).Offset-base
		b := []byte(chunk)
		for i := range b {
			if (i < start || i >= end) && b[i] != '\n' {
				b[i] = ' '
			}
		}
		return string(b), true
	}
	return "", false
}

// evalQuiet compiles and runs src for the kernel's bookkeeping, directly (it may run on the
// goroutine of an evaluation that is ending, see whenSettled); a failure changes nothing.
func (s *Session) evalQuiet(src string) {
	defer func() {
		if recover() != nil {
			s.resync()
		}
	}()
	prog, err := s.compile(src)
	if err != nil {
		s.resync() // a failed compile can leave the global frame short (see resync)
		return
	}
	_, _ = s.it.Execute(prog)
}
