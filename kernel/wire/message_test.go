package wire

import (
	"errors"
	"testing"
)

func TestEncodeDecodeRoundTripAndSignature(t *testing.T) {
	s := NewSigner("k")
	m := Message{Identities: [][]byte{[]byte("id1")}, Header: NewHeader("execute_request", "sess"),
		Content: []byte(`{"code":"1+1"}`), Buffers: [][]byte{[]byte("buf")}}
	frames := s.Encode(m)
	got, err := s.Decode(frames)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Identities[0]) != "id1" || got.Header.MsgType != "execute_request" || string(got.Content) != `{"code":"1+1"}` ||
		len(got.Buffers) != 1 || got.Header.Version != ProtocolVersion {
		t.Fatalf("round trip: %+v", got)
	}
	// Any change to a signed frame invalidates the message.
	for i := 3; i < 7; i++ {
		bad := append([][]byte(nil), frames...)
		bad[i] = append(append([]byte(nil), bad[i]...), ' ')
		if _, err := s.Decode(bad); !errors.Is(err, ErrBadSignature) {
			t.Errorf("frame %d altered: %v", i, err)
		}
	}
	if _, err := NewSigner("other").Decode(frames); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong key accepted: %v", err)
	}
	// An empty key signs nothing and accepts unsigned messages.
	if _, err := NewSigner("").Decode(NewSigner("").Encode(m)); err != nil {
		t.Errorf("unsigned: %v", err)
	}
}

func TestDecodeMalformed(t *testing.T) {
	s := NewSigner("")
	for _, frames := range [][][]byte{
		nil,
		{[]byte("x")},
		{[]byte(Delimiter), []byte(""), []byte("{}")},
		{[]byte(Delimiter), []byte(""), []byte("not json"), []byte("{}"), []byte("{}"), []byte("{}")},
		{[]byte(Delimiter), []byte(""), []byte(`{"msg_id":"1"}`), []byte("{}"), []byte("{}"), []byte("{}")},
		{[]byte(Delimiter), []byte(""), []byte(`{"msg_type":"x"}`), []byte("{"), []byte("{}"), []byte("{}")},
	} {
		if _, err := s.Decode(frames); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", frames, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	s := NewSigner("key")
	f.Add([]byte(Delimiter), []byte("sig"), []byte("{}"))
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		s.Decode([][]byte{a, b, c, a, b, c}) // must not panic
	})
}
