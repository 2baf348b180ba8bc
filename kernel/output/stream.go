package output

import (
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	// DefaultFlushSize is the buffered size that triggers an immediate flush.
	DefaultFlushSize = 64 << 10
	// DefaultDelay is how long the first byte of a batch may wait before it is sent: short
	// enough to feel live, long enough to batch a burst of small writes.
	DefaultDelay = 50 * time.Millisecond
	// DefaultLimit is the most bytes one stream forwards before it starts discarding.
	DefaultLimit = 32 << 20
)

// Stream is an io.Writer that batches text for one named stream ("stdout" or "stderr") and
// hands each batch to send. It is safe for concurrent use. Close flushes what is left.
type Stream struct {
	name      string
	send      func(name, text string)
	flushSize int
	delay     time.Duration
	limit     int64

	mu        sync.Mutex
	sendMu    sync.Mutex // keeps batches in order when a timer flush races a size flush
	buf       []byte
	timer     *time.Timer
	written   int64
	discarded int64
	closed    bool
}

// NewStream returns a stream with the default batching parameters.
func NewStream(name string, send func(name, text string)) *Stream {
	return &Stream{name: name, send: send, flushSize: DefaultFlushSize, delay: DefaultDelay, limit: DefaultLimit}
}

// SetLimit changes the discard threshold (tests use small ones).
func (s *Stream) SetLimit(n int64) {
	s.mu.Lock()
	s.limit = n
	s.mu.Unlock()
}

// Write buffers p. It blocks only while a full batch is being sent, which slows a flood of
// output down to what the socket can take instead of dropping it.
func (s *Stream) Write(p []byte) (int, error) {
	n := len(p)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return n, nil
	}
	if room := s.limit - s.written; int64(len(p)) > room {
		if room < 0 {
			room = 0
		}
		s.discarded += int64(len(p)) - room
		p = p[:room]
	}
	s.written += int64(len(p))
	s.buf = append(s.buf, p...)
	if len(s.buf) >= s.flushSize {
		batch := s.take(false)
		s.sendMu.Lock()
		s.mu.Unlock()
		s.deliver(batch)
		s.sendMu.Unlock()
		return n, nil
	}
	if len(s.buf) > 0 && s.timer == nil {
		s.timer = time.AfterFunc(s.delay, s.Flush)
	}
	s.mu.Unlock()
	return n, nil
}

// take removes the buffered text, keeping back an incomplete UTF-8 sequence at the end unless
// final is set (a character split across two messages would turn into two U+FFFD).
// s.mu is held.
func (s *Stream) take(final bool) []byte {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	cut := len(s.buf)
	if !final {
		cut = completeUTF8(s.buf)
	}
	batch := make([]byte, cut)
	copy(batch, s.buf[:cut])
	s.buf = append(s.buf[:0], s.buf[cut:]...)
	return batch
}

func (s *Stream) deliver(batch []byte) {
	if len(batch) > 0 {
		s.send(s.name, string(batch))
	}
}

// Flush sends whatever is buffered now.
func (s *Stream) Flush() {
	s.mu.Lock()
	batch := s.take(false)
	s.sendMu.Lock()
	s.mu.Unlock()
	s.deliver(batch)
	s.sendMu.Unlock()
}

// Close sends the rest, then a note if anything was discarded. Later writes are ignored.
func (s *Stream) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	batch := s.take(true)
	discarded := s.discarded
	s.sendMu.Lock()
	s.mu.Unlock()
	s.deliver(batch)
	if discarded > 0 {
		s.send(s.name, fmt.Sprintf("\n[output truncated: %d bytes discarded after the first %d bytes of this cell's %s]\n",
			discarded, s.limit, s.name))
	}
	s.sendMu.Unlock()
}

// completeUTF8 returns the length of the longest prefix of b that does not end inside a
// multi-byte UTF-8 sequence.
func completeUTF8(b []byte) int {
	n := len(b)
	for i := 1; i <= utf8.UTFMax && i <= n; i++ {
		c := b[n-i]
		if c < 0x80 {
			return n // ASCII: nothing pending
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[n-i:]) {
				return n
			}
			return n - i
		}
	}
	return n
}
