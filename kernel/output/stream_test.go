package output

import (
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

type sink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *sink) send(name, text string) {
	s.mu.Lock()
	s.msgs = append(s.msgs, text)
	s.mu.Unlock()
}

func (s *sink) all() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.msgs, ""), len(s.msgs)
}

func TestStreamCoalescesByteWrites(t *testing.T) {
	var k sink
	st := NewStream("stdout", k.send)
	for i := 0; i < 10000; i++ {
		st.Write([]byte{'a' + byte(i%26)})
	}
	st.Close()
	text, n := k.all()
	if len(text) != 10000 || n > 3 {
		t.Fatalf("%d bytes in %d messages", len(text), n)
	}
}

func TestStreamTimerFlushes(t *testing.T) {
	var k sink
	st := NewStream("stdout", k.send)
	st.Write([]byte("tick\n"))
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if text, _ := k.all(); text == "tick\n" {
			st.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("buffered text not flushed by the timer")
}

func TestStreamKeepsUTF8Whole(t *testing.T) {
	var k sink
	st := NewStream("stdout", k.send)
	st.flushSize = 7
	for i := 0; i < 100; i++ {
		st.Write([]byte("é€"))
	}
	st.Close()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, m := range k.msgs {
		if !utf8.ValidString(m) {
			t.Fatalf("message splits a character: %q", m)
		}
	}
}

func TestStreamLimitNotes(t *testing.T) {
	var k sink
	st := NewStream("stdout", k.send)
	st.SetLimit(100)
	st.Write([]byte(strings.Repeat("x", 150)))
	st.Close()
	text, _ := k.all()
	if !strings.HasPrefix(text, strings.Repeat("x", 100)+"\n[output truncated: 50 bytes discarded") {
		t.Fatalf("%q", text)
	}
}
