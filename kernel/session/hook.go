package session

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
)

// The hook package ("__kernel" in every interpreter) holds what the rewritten cells call:
// GoPanic for goroutines, Defer for top-level defers, Clear, Min*/Max* for the builtins yaegi
// lacks, Forget for the temporaries of multi-value definitions, and the identity functions and
// type names of fixes.go (added on demand).

// orderedKinds are the kinds min and max accept, with their types.
var orderedKinds = map[reflect.Kind]reflect.Type{
	reflect.Int: basicTypes["int"], reflect.Int8: basicTypes["int8"], reflect.Int16: basicTypes["int16"],
	reflect.Int32: basicTypes["int32"], reflect.Int64: basicTypes["int64"],
	reflect.Uint: basicTypes["uint"], reflect.Uint8: basicTypes["uint8"], reflect.Uint16: basicTypes["uint16"],
	reflect.Uint32: basicTypes["uint32"], reflect.Uint64: basicTypes["uint64"], reflect.Uintptr: basicTypes["uintptr"],
	reflect.Float32: basicTypes["float32"], reflect.Float64: basicTypes["float64"],
	reflect.String: basicTypes["string"],
}

// minMaxName is the hook function for min or max of kind k: MinInt, MaxFloat64, ...
func minMaxName(builtin string, k reflect.Kind) string {
	name := orderedKinds[k].Name()
	return strings.ToUpper(builtin[:1]) + builtin[1:] + strings.ToUpper(name[:1]) + name[1:]
}

// hookSymbols returns the fixed symbols of the hook package for a session.
func (s *Session) hookSymbols() map[string]reflect.Value {
	syms := map[string]reflect.Value{
		"GoPanic":      reflect.ValueOf(s.goPanic),
		"Defer":        reflect.ValueOf(s.deferCall),
		"Clear":        reflect.ValueOf(clearValue),
		"Forget":       reflect.ValueOf(forget),
		"At":           reflect.ValueOf(s.atStatement),
		"Failure":      reflect.ValueOf(failure),
		"LastError":    reflect.ValueOf(lastError),
		"UncheckedErr": reflect.ValueOf(&s.unchecked).Elem(),
	}
	for k, t := range orderedKinds {
		for _, b := range []string{"min", "max"} {
			syms[minMaxName(b, k)] = minMaxFunc(t, b == "max")
		}
	}
	return syms
}

// minMaxFunc makes func(x T, y ...T) T returning the least (or greatest) argument with the
// builtins' rules: a NaN argument gives NaN, and -0 is less than +0.
func minMaxFunc(t reflect.Type, greatest bool) reflect.Value {
	ft := reflect.FuncOf([]reflect.Type{t, reflect.SliceOf(t)}, []reflect.Type{t}, true)
	return reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		best := args[0]
		rest := args[1]
		for i := 0; i < rest.Len(); i++ {
			v := rest.Index(i)
			switch {
			case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
				a, b := best.Float(), v.Float()
				r := math.Min(a, b)
				if greatest {
					r = math.Max(a, b)
				}
				best = reflect.ValueOf(r).Convert(t)
			case t.Kind() == reflect.String:
				if (v.String() < best.String()) != greatest && v.String() != best.String() {
					best = v
				}
			case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
				if (v.Int() < best.Int()) != greatest && v.Int() != best.Int() {
					best = v
				}
			default:
				if (v.Uint() < best.Uint()) != greatest && v.Uint() != best.Uint() {
					best = v
				}
			}
		}
		return []reflect.Value{best}
	})
}

// clearValue is the clear builtin: it deletes every entry of a map or zeroes every element of
// a slice (the interpreter passes the map or slice itself, not a copy of its contents).
func clearValue(x any) {
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Map, reflect.Slice:
		v.Clear()
	default:
		panic(fmt.Sprintf("invalid argument: clear(%v): argument must be a map or slice, not %T", x, x))
	}
}

// forget sets the variables its arguments point to to their zero values. The kernel's
// rewrite of a top-level multi-value definition calls it on the temporaries that received the
// values (see multiDefine), so that they do not keep what the cell's variables held alive.
func forget(ptrs ...any) {
	for _, p := range ptrs {
		if v := reflect.ValueOf(p); v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().CanSet() {
			v.Elem().SetZero()
		}
	}
}

// deferCall registers a top-level defer of the running cell; runDefers calls it when the
// cell ends.
func (s *Session) deferCall(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defers = append(s.defers, f)
}

// runDefers runs the running cell's deferred calls, last first, as a function's defers run
// when it returns. A panic in one is returned as an error (the others still run).
func (s *Session) runDefers() error {
	var first error
	for {
		s.mu.Lock()
		n := len(s.defers)
		if n == 0 {
			s.mu.Unlock()
			return first
		}
		f := s.defers[n-1]
		s.defers = s.defers[:n-1]
		s.mu.Unlock()
		if err := callRecovered(f); err != nil && first == nil {
			first = err
		}
	}
}

// errDeferPanic marks a panic in a deferred call.
var errDeferPanic = errors.New("panic in a deferred call")

func callRecovered(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errDeferPanic, r)
		}
	}()
	f()
	return nil
}
