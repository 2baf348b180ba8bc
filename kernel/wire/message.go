package wire

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ProtocolVersion is the messaging protocol version this kernel speaks and puts in every
// header.
const ProtocolVersion = "5.3"

// Delimiter separates the routing identities from the signed part of a message.
const Delimiter = "<IDS|MSG>"

var (
	// ErrMalformed marks a multipart message that does not follow the wire format.
	ErrMalformed = errors.New("malformed message")
	// ErrBadSignature marks a message whose HMAC does not match its frames.
	ErrBadSignature = errors.New("bad message signature")
)

// Header is a message header.
type Header struct {
	MsgID    string `json:"msg_id"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// Message is one Jupyter message. Header and ParentHeader are kept as raw JSON as well as
// parsed so a reply can echo the request's header byte for byte as its parent_header.
type Message struct {
	Identities   [][]byte
	Header       Header
	RawHeader    json.RawMessage
	ParentHeader json.RawMessage
	Metadata     json.RawMessage
	Content      json.RawMessage
	Buffers      [][]byte
}

// Signer computes and checks message signatures. A zero Signer (empty key) signs nothing and
// accepts everything, as the protocol says for an empty key.
type Signer struct {
	key []byte
}

// NewSigner returns a signer for the connection file's key.
func NewSigner(key string) Signer { return Signer{key: []byte(key)} }

// Sign returns the hex HMAC-SHA256 of the four JSON frames.
func (s Signer) Sign(header, parent, metadata, content []byte) string {
	if len(s.key) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(header)
	m.Write(parent)
	m.Write(metadata)
	m.Write(content)
	return hex.EncodeToString(m.Sum(nil))
}

// verify checks sig in constant time against the frames as received.
func (s Signer) verify(sig []byte, header, parent, metadata, content []byte) bool {
	if len(s.key) == 0 {
		return true
	}
	want := s.Sign(header, parent, metadata, content)
	got := make([]byte, len(sig))
	copy(got, sig)
	return hmac.Equal(bytes.ToLower(got), []byte(want))
}

// Decode parses a multipart message and verifies its signature. It never panics on bad
// input: anything that is not a well-formed, correctly signed message is an error wrapping
// ErrMalformed or ErrBadSignature.
func (s Signer) Decode(frames [][]byte) (Message, error) {
	var m Message
	delim := -1
	for i, f := range frames {
		if string(f) == Delimiter {
			delim = i
			break
		}
	}
	if delim < 0 {
		return m, fmt.Errorf("%w: no %s delimiter in %d frames", ErrMalformed, Delimiter, len(frames))
	}
	rest := frames[delim+1:]
	if len(rest) < 5 {
		return m, fmt.Errorf("%w: %d frames after the delimiter, want at least 5", ErrMalformed, len(rest))
	}
	if !s.verify(rest[0], rest[1], rest[2], rest[3], rest[4]) {
		return m, ErrBadSignature
	}
	m.Identities = frames[:delim]
	m.RawHeader = json.RawMessage(rest[1])
	if err := json.Unmarshal(rest[1], &m.Header); err != nil {
		return m, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if m.Header.MsgType == "" {
		return m, fmt.Errorf("%w: header has no msg_type", ErrMalformed)
	}
	for i, f := range rest[2:5] {
		if !json.Valid(f) {
			return m, fmt.Errorf("%w: frame %d is not JSON", ErrMalformed, i+3)
		}
	}
	m.ParentHeader = json.RawMessage(rest[2])
	m.Metadata = json.RawMessage(rest[3])
	m.Content = json.RawMessage(rest[4])
	m.Buffers = rest[5:]
	return m, nil
}

// Encode returns the multipart frames of m, signed.
func (s Signer) Encode(m Message) [][]byte {
	parent := []byte(m.ParentHeader)
	if len(parent) == 0 {
		parent = []byte("{}")
	}
	meta := []byte(m.Metadata)
	if len(meta) == 0 {
		meta = []byte("{}")
	}
	content := []byte(m.Content)
	if len(content) == 0 {
		content = []byte("{}")
	}
	header := []byte(m.RawHeader)
	if len(header) == 0 {
		header, _ = json.Marshal(m.Header) // a struct of strings always marshals
	}
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	frames = append(frames, []byte(Delimiter), []byte(s.Sign(header, parent, meta, content)),
		header, parent, meta, content)
	frames = append(frames, m.Buffers...)
	return frames
}

// NewHeader returns a fresh header for a message of type msgType in session.
func NewHeader(msgType, session string) Header {
	return Header{
		MsgID:    uuid.NewString(),
		Session:  session,
		Username: "kernel",
		Date:     time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		MsgType:  msgType,
		Version:  ProtocolVersion,
	}
}

// Reply builds a message answering (or published on behalf of) parent: same identities,
// parent's header as parent_header, content marshalled from v.
func Reply(parent *Message, msgType, session string, content any) (Message, error) {
	c, err := json.Marshal(content)
	if err != nil {
		return Message{}, fmt.Errorf("encode %s content: %w", msgType, err)
	}
	m := Message{Header: NewHeader(msgType, session), Content: c, Metadata: json.RawMessage("{}")}
	if parent != nil {
		m.Identities = parent.Identities
		m.ParentHeader = parent.RawHeader
	}
	return m, nil
}
