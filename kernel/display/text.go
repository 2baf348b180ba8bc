package display

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// The text/plain form of a value follows numpy's print options: a value with more than
// summaryThreshold elements in all (numbers, strings, struct fields, map entries, ...) is
// summarised, every slice, array and map in it shown by its first and last edgeItems
// elements around "...", so showing a 1000x1000 image or a million-element slice sends a line
// rather than megabytes (the PNG beside it is the real view). Whatever the value, the text
// is at most maxText bytes. fmt.Println(v) prints all of it.
const (
	summaryThreshold = 1000
	edgeItems        = 3
	maxText          = 64 << 10
	maxSummaryString = 200 // runes of a string inside a summarised value
)

// Text is the text/plain form of v: its String (or Error) method if it has one, strings
// quoted as Go would write them (so "" and " " are visible), structs with their field names
// (fmt's %+v), and large values summarised as numpy summarises arrays (see summaryThreshold).
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case reflect.Value: // before Stringer: a reflect.Value's String method names its type
		if x.IsValid() && x.CanInterface() {
			return Text(x.Interface())
		}
		return fmt.Sprint(x)
	case fmt.Stringer:
		return capText(x.String())
	case error:
		return capText(x.Error())
	case string:
		if len(x) > maxText {
			return capText(fmt.Sprintf("%q", x))
		}
		return fmt.Sprintf("%q", x)
	}
	rv := reflect.ValueOf(v)
	budget := summaryThreshold
	w := textWriter{summary: !countElements(rv, &budget, 0)}
	w.value(rv, 0)
	return capText(w.b.String())
}

// textWriter writes a value as fmt's %+v does, except that fields of types declared in cells
// have the names the cell gave them (the interpreter stores a field "rows" as "Xrows"), and,
// in a summary, long slices, arrays and maps are cut to their edges and long strings shortened.
type textWriter struct {
	b       strings.Builder
	summary bool
}

// capText keeps the first and last parts of a text longer than maxText.
func capText(s string) string {
	if len(s) <= maxText {
		return s
	}
	head, tail := s[:maxText*3/4], s[len(s)-maxText/8:]
	return fmt.Sprintf("%s\n... (%d bytes left out; fmt.Print shows all of it) ...\n%s", head, len(s)-len(head)-len(tail), tail)
}

// countElements takes one from budget for every element of v (numbers, strings, ...; a long
// string counts one per 64 bytes) and reports whether v fits in it.
func countElements(v reflect.Value, budget *int, depth int) bool {
	if *budget < 0 {
		return false
	}
	if depth > 8 {
		return true // deep (or cyclic) pointers: fmt prints addresses below the top
	}
	switch v.Kind() {
	case reflect.String:
		*budget -= 1 + v.Len()/64
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return true
		}
		if n := v.Len(); n > *budget {
			*budget -= n
			return false
		}
		if isScalar(v.Type().Elem().Kind()) {
			*budget -= v.Len()
			break
		}
		for i := 0; i < v.Len() && *budget >= 0; i++ {
			countElements(v.Index(i), budget, depth+1)
		}
	case reflect.Map:
		if n := v.Len(); n > *budget {
			*budget -= n
			return false
		}
		it := v.MapRange()
		for it.Next() && *budget >= 0 {
			countElements(it.Key(), budget, depth+1)
			countElements(it.Value(), budget, depth+1)
		}
	case reflect.Struct:
		if hasTextMethod(v) {
			break
		}
		for i := 0; i < v.NumField() && *budget >= 0; i++ {
			countElements(v.Field(i), budget, depth+1)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() && (depth == 0 || v.Kind() == reflect.Interface) && !hasTextMethod(v) {
			countElements(v.Elem(), budget, depth+1)
		}
	default:
		*budget-- // one number, or what fmt prints in one piece
	}
	return *budget >= 0
}

func isScalar(k reflect.Kind) bool {
	return k >= reflect.Bool && k <= reflect.Complex128
}

// hasTextMethod reports whether fmt would print v with its String or Error method.
func hasTextMethod(v reflect.Value) bool {
	if !v.CanInterface() {
		return false
	}
	switch v.Interface().(type) {
	case fmt.Stringer, error:
		return true
	}
	return false
}

func (w *textWriter) value(v reflect.Value, depth int) {
	b := &w.b
	if b.Len() > maxText {
		return
	}
	if !v.IsValid() {
		b.WriteString("<nil>")
		return
	}
	if hasTextMethod(v) && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		s := fmt.Sprint(v.Interface())
		if w.summary && len(s) > 4*maxSummaryString {
			s = s[:4*maxSummaryString] + "..."
		}
		b.WriteString(s)
		return
	}
	switch v.Kind() {
	case reflect.String:
		r := []rune(v.String())
		if w.summary && len(r) > maxSummaryString {
			fmt.Fprintf(b, "%s...(%d bytes)", string(r[:maxSummaryString]), v.Len())
			return
		}
		b.WriteString(v.String())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		w.edges(v.Len(), func(i int) { w.value(v.Index(i), depth+1) })
		b.WriteByte(']')
	case reflect.Map:
		keys := v.MapKeys()
		sortKeys(keys)
		b.WriteString("map[")
		w.edges(len(keys), func(i int) {
			w.value(keys[i], depth+1)
			b.WriteByte(':')
			w.value(v.MapIndex(keys[i]), depth+1)
		})
		b.WriteByte(']')
	case reflect.Struct:
		b.WriteByte('{')
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(fieldName(t, i))
			b.WriteByte(':')
			w.value(v.Field(i), depth+1)
		}
		b.WriteByte('}')
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("<nil>")
			return
		}
		switch v.Elem().Kind() {
		case reflect.Struct, reflect.Slice, reflect.Array, reflect.Map:
			if depth == 0 {
				b.WriteByte('&')
				w.value(v.Elem(), depth+1)
				return
			}
		}
		fmt.Fprintf(b, "%p", v.Interface())
	case reflect.Interface:
		if v.IsNil() {
			b.WriteString("<nil>")
			return
		}
		w.value(v.Elem(), depth)
	default:
		if v.CanInterface() {
			fmt.Fprintf(b, "%v", v.Interface())
		} else {
			fmt.Fprintf(b, "%v", v)
		}
	}
}

// edges writes elements 0..n-1 with write, separated by spaces; in a summary, of more than
// 2*edgeItems only the first and last edgeItems around "...".
func (w *textWriter) edges(n int, write func(i int)) {
	for i := 0; i < n; i++ {
		if i > 0 {
			w.b.WriteByte(' ')
		}
		if w.summary && n > 2*edgeItems && i == edgeItems {
			w.b.WriteString("... ")
			i = n - edgeItems
		}
		write(i)
	}
}

// fieldName is the name of field i of t as the source declared it: the interpreter builds the
// struct types of cells with reflect.StructOf, exporting a field "rows" as "Xrows". (A field
// a cell names "Xrows" itself is shown as "rows": the types are indistinguishable.)
func fieldName(t reflect.Type, i int) string {
	n := t.Field(i).Name
	if t.Name() == "" && len(n) > 1 && n[0] == 'X' && n[1] >= 'a' && n[1] <= 'z' {
		return n[1:]
	}
	return n
}

// sortKeys orders map keys as fmt does for the common key kinds (numbers, strings, bools);
// others by their text.
func sortKeys(keys []reflect.Value) {
	if len(keys) == 0 {
		return
	}
	k := keys[0].Kind()
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		switch {
		case k >= reflect.Int && k <= reflect.Int64:
			return a.Int() < b.Int()
		case k >= reflect.Uint && k <= reflect.Uintptr:
			return a.Uint() < b.Uint()
		case k == reflect.Float32 || k == reflect.Float64:
			return a.Float() < b.Float()
		case k == reflect.String:
			return a.String() < b.String()
		case k == reflect.Bool:
			return !a.Bool() && b.Bool()
		}
		return fmt.Sprint(a) < fmt.Sprint(b)
	})
}
