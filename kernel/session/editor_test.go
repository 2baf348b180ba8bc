package session

import (
	"strings"
	"testing"
)

// Inspection follows IPython's token_at_cursor: inside a call's parentheses the callable is
// inspected, wherever the cursor is among its arguments.
func TestInspectInsideCallParentheses(t *testing.T) {
	s := newSession(t)
	run(t, s, "word := \"go\"\n// double doubles n.\nfunc double(n int) int { return 2 * n }")
	for _, c := range []struct {
		code   string
		cursor int // -1: the end
		want   string
	}{
		{"strings.ToUpper()", 16, "ToUpper"},
		{"strings.ToUpper(word)", 20, "ToUpper"},
		{"x := strings.ToUpper(strings.TrimSpace(w", -1, "TrimSpace"},
		{"strings.ToUpper(strings.TrimSpace(word), ", -1, "ToUpper"},
		{"double(", -1, "func double(n int) int"},
		{"fmt.Println(word)\nword", -1, "word string"},
		{"[]string{word", -1, "word string"},
	} {
		cur := c.cursor
		if cur < 0 {
			cur = len([]rune(c.code))
		}
		data, found := s.Inspect(c.code, cur)
		if !found || !strings.Contains(data["text/plain"].(string), c.want) {
			t.Errorf("inspect %q at %d: %v %v, want %q", c.code, cur, found, data["text/plain"], c.want)
		}
	}
}

func TestCompleteAndInspectMethodsOfCellTypes(t *testing.T) {
	s := newSession(t)
	run(t, s, "type counter struct{ N int }\nfunc (c counter) Twice() int { return 2 * c.N }\nfunc (c *counter) Bump() { c.N++ }\nc := counter{3}\npc := &c")
	for _, v := range []string{"c", "pc"} {
		m, start, _ := s.Complete(v+".", len(v)+1)
		if strings.Join(m, " ") != "Bump N Twice" || start != len(v)+1 {
			t.Errorf("complete %s.: %v from %d", v, m, start)
		}
	}
	if m, _, _ := s.Complete("c.Tw", 4); strings.Join(m, " ") != "Twice" {
		t.Errorf("complete c.Tw: %v", m)
	}
	data, found := s.Inspect("c.Twice", 7)
	if !found || data["text/plain"] != "func (c counter) Twice() int" {
		t.Errorf("inspect c.Twice: %v", data)
	}
}
