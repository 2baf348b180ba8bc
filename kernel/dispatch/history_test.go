package dispatch

import (
	"fmt"
	"testing"
)

// The expectations are IPython 8's HistoryManager answers for the same inputs (the real
// kernels are compared in kernel/testdata/jupyter_editor_check.py).
func TestSelectHistory(t *testing.T) {
	var h []historyEntry
	for i, code := range []string{"1+1", "2+2", "1+1", "10+1", "3*3", "1+1"} {
		h = append(h, historyEntry{i + 1, code})
	}
	n := func(v int) *int { return &v }
	for _, c := range []struct {
		q    historyQuery
		want string
	}{
		{historyQuery{Access: "search", Pattern: "1*"}, "[1 3 4 6]"},
		{historyQuery{Access: "search", Pattern: "1*", Unique: true}, "[4 6]"},
		{historyQuery{Access: "search", Pattern: "1*", N: n(2)}, "[4 6]"},
		{historyQuery{Access: "search", Pattern: "*+1", Unique: true, N: n(1)}, "[6]"},
		{historyQuery{Access: "search", Pattern: "?+?"}, "[1 2 3 6]"},
		{historyQuery{Access: "search", Pattern: "[23]*"}, "[2 5]"},
		{historyQuery{Access: "search", Pattern: "[^1]*"}, "[2 5]"},
		{historyQuery{Access: "search", Pattern: "1+1"}, "[1 3 6]"},
		{historyQuery{Access: "search"}, "[1 2 3 4 5 6]"},
		{historyQuery{Access: "range", Start: 2, Stop: n(5)}, "[2 3 4]"},
		{historyQuery{Access: "range", Start: 4}, "[4 5 6]"},
		{historyQuery{Access: "range", Start: 4, Stop: n(0)}, "[4 5 6]"},
		{historyQuery{Access: "range", Session: -1, Start: 1}, "[]"},
		{historyQuery{Access: "tail", N: n(2)}, "[5 6]"},
		{historyQuery{Access: "tail"}, "[1 2 3 4 5 6]"},
	} {
		var lines []int
		for _, e := range selectHistory(h, c.q) {
			lines = append(lines, e.line)
		}
		if got := fmt.Sprint(lines); got != c.want {
			t.Errorf("%+v: lines %s, want %s", c.q, got, c.want)
		}
	}
}
