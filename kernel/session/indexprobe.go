package session

import (
	"fmt"
	"go/token"
	"reflect"
	"sync/atomic"
	"unsafe" // for go:linkname and the node fields below

	"github.com/traefik/yaegi/interp"
)

// Go says which index failed and how long the slice was ("index out of range [5] with
// length 3"); yaegi's index operation is reflect.Value.Index, whose panic says neither. The
// operands cannot be evaluated again after the panic (f()[g()] would call f and g twice),
// but yaegi has them already: every operand's value sits in a slot of the running frame, and
// the index node knows which. Two things are needed when an index panics: the frame, and
// which node of it was running.
//
// The frame: yaegi runs the code of a function body (or a chunk's top level) in runCfg, a
// loop over the generated code of its nodes. Between a chunk's Compile and its Execute, the
// session replaces the code of each body's first node by entryExec, which runs that same
// loop itself (the one runCfg would run, run id checks included; runCfg then has nothing left
// to do), with the frame at hand and the node's code that is running in a variable: a
// deferred call sees both when a panic leaves the loop.
//
// The node: the code yaegi generates for each slice, array and string index (its generator
// getIndexArray) is registered under its code pointer, with readers of its operands' values
// (yaegi's own genValue) and its exact source position. When the running code is one of those,
// the panic is that index's: its index and length are read from the frame and recorded
// (indexFailure). The panic itself goes on unchanged. yaegi generates function literals and a
// chunk's top level during Compile, and declared functions during Execute; for the latter the
// session wraps the generators, which do the same once the code exists. The node before a
// loop's back edge can hold a trampoline to the index instead of its code (yaegi generates
// loops that way); then the frame's indexes are read, and the one out of range is the failure
// (noteIndexFailure).
//
// This reaches into yaegi v0.16.1's internals: the generator and genValue by go:linkname (the
// build fails if a newer yaegi renames them), and fields of its node, Program, Interpreter and
// frame types by name through reflect, whose kinds are checked once (indexProbeLayout); should
// any differ, nothing is wrapped and messages lose the "[i] with length n" part. The cost is
// one deferred call per interpreted function call (BenchmarkIndexProbe).

//go:linkname yaegiGetIndexArray github.com/traefik/yaegi/interp.getIndexArray
func yaegiGetIndexArray(node unsafe.Pointer)

//go:linkname yaegiGenValue github.com/traefik/yaegi/interp.genValue
func yaegiGenValue(node unsafe.Pointer) func(frame unsafe.Pointer) reflect.Value

// yaegiExec has the representation of yaegi's bltn (func(*frame) bltn), yaegiGen that of its
// bltnGenerator (func(*node)): a pointer to a Go closure.
type yaegiExec func(frame unsafe.Pointer) yaegiExec
type yaegiGen func(node unsafe.Pointer)

// nodeLayout is where the fields the probe uses are in yaegi's node, Program and
// Interpreter; the run ids of an Interpreter and a frame are their first fields.
type nodeLayout struct {
	ok                                 bool
	root                               uintptr // Program.root
	child, start, pos, kind, exec, gen uintptr
	funcDecl, funcLit                  uint64  // the node kinds of function bodies
	getIndexArray                      uintptr // the generator's code pointer
}

// indexProbeLayout finds the fields by name and checks their kinds; ok is false when yaegi's
// types are not what the probe expects.
var indexProbeLayout = func() nodeLayout {
	var l nodeLayout
	rootField, ok := reflect.TypeFor[interp.Program]().FieldByName("root")
	if !ok || rootField.Type.Kind() != reflect.Pointer || rootField.Type.Elem().Kind() != reflect.Struct {
		return l
	}
	nodePtr := rootField.Type
	nt := nodePtr.Elem()
	all := true
	field := func(t reflect.Type, name string, check func(reflect.Type) bool) uintptr {
		f, ok := t.FieldByName(name)
		all = all && ok && len(f.Index) == 1 && check(f.Type)
		return f.Offset
	}
	is := func(k reflect.Kind) func(reflect.Type) bool {
		return func(t reflect.Type) bool { return t.Kind() == k }
	}
	l.root = rootField.Offset
	l.child = field(nt, "child", func(t reflect.Type) bool { return t.Kind() == reflect.Slice && t.Elem() == nodePtr })
	l.start = field(nt, "start", func(t reflect.Type) bool { return t == nodePtr })
	l.pos = field(nt, "pos", func(t reflect.Type) bool { return t == reflect.TypeFor[token.Pos]() })
	l.kind = field(nt, "kind", is(reflect.Uint))
	l.exec = field(nt, "exec", is(reflect.Func))
	l.gen = field(nt, "gen", is(reflect.Func))
	if id := field(reflect.TypeFor[interp.Interpreter](), "id", is(reflect.Uint64)); id != 0 || !all {
		return l
	}
	// The frame type is the argument of exec's function type.
	ft, _ := nt.FieldByName("exec")
	if ft.Type.NumIn() != 1 || ft.Type.In(0).Kind() != reflect.Pointer {
		return l
	}
	if id := field(ft.Type.In(0).Elem(), "id", is(reflect.Uint64)); id != 0 || !all {
		return l
	}
	// The kinds' values, from their names.
	kt, _ := nt.FieldByName("kind")
	found := 0
	for k := uint64(0); k < 256 && found < 2; k++ {
		v := reflect.New(kt.Type).Elem()
		v.SetUint(k)
		switch fmt.Sprint(v.Interface()) {
		case "funcDecl":
			l.funcDecl, found = k, found+1
		case "funcLit":
			l.funcLit, found = k, found+1
		}
	}
	l.getIndexArray = reflect.ValueOf(yaegiGetIndexArray).Pointer()
	l.ok = found == 2
	return l
}()

// indexFailure is the last failed index of the running evaluation.
type indexFailure struct {
	pos           token.Pos // in the interpreter's file set
	index, length int64
}

// text is what Go adds to "index out of range".
func (f *indexFailure) text() string {
	if f.index < 0 {
		return fmt.Sprintf(" [%d]", f.index)
	}
	return fmt.Sprintf(" [%d] with length %d", f.index, f.length)
}

// indexNode is the registered code of an index node.
type indexNode struct {
	pos  token.Pos // in the interpreter's file set
	x, i func(frame unsafe.Pointer) reflect.Value
	// code is the node's code, kept so that the address it is registered under is not
	// reused for other code while the registration lasts.
	code yaegiExec
}

// probeIndexes prepares prog's function bodies and index nodes (see the comment above); it
// must run after Compile and before the program's first Execute.
func (s *Session) probeIndexes(prog *interp.Program) {
	l := indexProbeLayout
	if !l.ok || prog == nil {
		return
	}
	root := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(prog), l.root))
	seen := map[unsafe.Pointer]bool{}
	var walk func(n unsafe.Pointer, body *indexBody)
	walk = func(n unsafe.Pointer, body *indexBody) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		children := *(*[]unsafe.Pointer)(unsafe.Add(n, l.child))
		if fv := *(**uintptr)(unsafe.Add(n, l.gen)); fv != nil && *fv == l.getIndexArray && len(children) == 2 {
			s.afterGen(n, func(n unsafe.Pointer) { s.registerIndex(n, children, body) })
		}
		k := uint64(*(*uint)(unsafe.Add(n, l.kind)))
		if (k != l.funcDecl && k != l.funcLit) || len(children) != 4 || children[3] == nil {
			for _, c := range children {
				walk(c, body)
			}
			return
		}
		// A function: its own body, prepared after its nodes (its first node can be an
		// index, registered first).
		own := &indexBody{}
		for _, c := range children {
			walk(c, own)
		}
		if start := *(*unsafe.Pointer)(unsafe.Add(children[3], l.start)); start != nil {
			s.afterGen(start, func(n unsafe.Pointer) { s.wrapEntry(n, own) })
		}
	}
	top := &indexBody{}
	walk(root, top)
	if start := *(*unsafe.Pointer)(unsafe.Add(root, l.start)); start != nil {
		s.afterGen(start, func(n unsafe.Pointer) { s.wrapEntry(n, top) })
	}
}

// indexBody lists the index nodes of one function body (or top level), those in function
// literals in it excepted (guarded by Session.mu).
type indexBody struct{ nodes []indexNode }

// afterGen runs fn on node n once yaegi has generated its code: now if it has, otherwise
// right after its generator.
func (s *Session) afterGen(n unsafe.Pointer, fn func(n unsafe.Pointer)) {
	l := indexProbeLayout
	if *(*yaegiExec)(unsafe.Add(n, l.exec)) != nil {
		fn(n)
		return
	}
	gen := (*yaegiGen)(unsafe.Add(n, l.gen))
	orig := *gen
	*gen = func(n unsafe.Pointer) {
		orig(n)
		if *(*yaegiExec)(unsafe.Add(n, l.exec)) != nil {
			fn(n)
		}
	}
}

// registerIndex registers the code of index node n of body, whose operands are children.
func (s *Session) registerIndex(n unsafe.Pointer, children []unsafe.Pointer, body *indexBody) {
	l := indexProbeLayout
	x, i, ok := operandValues(children[0], children[1])
	if !ok {
		return
	}
	exec := (*yaegiExec)(unsafe.Add(n, l.exec))
	code := *(*uintptr)(unsafe.Pointer(exec))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.indexNodes == nil {
		s.indexNodes = map[uintptr]indexNode{}
	}
	in := indexNode{pos: *(*token.Pos)(unsafe.Add(n, l.pos)), x: x, i: i, code: *exec}
	s.indexNodes[code] = in
	body.nodes = append(body.nodes, in)
}

// wrapEntry replaces the code of n, the first node of a function body or a top level, by
// entryExec.
func (s *Session) wrapEntry(n unsafe.Pointer, body *indexBody) {
	exec := (*yaegiExec)(unsafe.Add(n, indexProbeLayout.exec))
	*exec = s.entryExec(*exec, unsafe.Pointer(s.it), body)
}

// entryExec runs the body whose first node's code is first the way runCfg does (until the
// code ends or the interpreter's run id changes); when a panic leaves it while an index
// node's code was running, the index is recorded.
func (s *Session) entryExec(first yaegiExec, it unsafe.Pointer, body *indexBody) yaegiExec {
	return func(f unsafe.Pointer) yaegiExec {
		var cur yaegiExec
		done := false
		defer func() {
			if !done {
				s.noteIndexFailure(*(*uintptr)(unsafe.Pointer(&cur)), f, body)
			}
		}()
		for cur = first; cur != nil && atomic.LoadUint64((*uint64)(f)) == atomic.LoadUint64((*uint64)(it)); {
			cur = cur(f)
		}
		done = true
		return nil
	}
}

// operandValues returns yaegi's readers of the two operands' values in a frame.
func operandValues(x, i unsafe.Pointer) (xv, iv func(unsafe.Pointer) reflect.Value, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return yaegiGenValue(x), yaegiGenValue(i), true
}

// noteIndexFailure records the operands of the index whose code (code pointer) is panicking
// in frame f of body, if code is an index's. Otherwise, when code is yaegi's trampoline to
// an index (the target of a loop's back edge, generated before the index's own code), the
// body's indexes are read from the frame: the failing one is out of range, so when exactly one
// is, it is that one. That reading is done only in the first frame a panic leaves since the
// evaluation began, the innermost (the outer ones are running calls, and an index of theirs
// that ran before may read as out of range now). (An index panic that the cell recovered
// leaves its record, which a later failure through a trampoline does not replace.)
func (s *Session) noteIndexFailure(code uintptr, f unsafe.Pointer, body *indexBody) {
	s.mu.Lock()
	n, ok := s.indexNodes[code]
	var candidates []indexNode
	if !ok && !s.indexNoted {
		candidates = append(candidates, body.nodes...)
	}
	s.indexNoted = true
	s.mu.Unlock()
	var rec indexFailure
	if ok {
		if rec, ok = readIndex(n.x, n.i, f); !ok {
			return
		}
		rec.pos = n.pos
	}
	for _, c := range candidates {
		r, read := readIndex(c.x, c.i, f)
		if !read || r.index >= 0 && r.index < r.length {
			continue
		}
		if ok {
			return // two are out of range
		}
		rec, ok = r, true
		rec.pos = c.pos
	}
	if !ok {
		return
	}
	s.mu.Lock()
	s.indexFail = &rec
	s.mu.Unlock()
}

func readIndex(x, i func(unsafe.Pointer) reflect.Value, f unsafe.Pointer) (rec indexFailure, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	xv, iv := x(f), i(f)
	for xv.Kind() == reflect.Pointer || xv.Kind() == reflect.Interface {
		xv = xv.Elem()
	}
	for iv.Kind() == reflect.Interface {
		iv = iv.Elem()
	}
	switch {
	case iv.CanInt():
		rec.index = iv.Int()
	case iv.CanUint():
		rec.index = int64(iv.Uint())
	default:
		return rec, false
	}
	rec.length = int64(xv.Len())
	return rec, true
}

// takeIndexFailure returns and clears the recorded index failure.
func (s *Session) takeIndexFailure() *indexFailure {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.indexFail
	s.indexFail, s.indexNoted = nil, false
	return f
}
