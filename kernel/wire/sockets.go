package wire

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zeromq/zmq4"
)

// Socket is one bound ZeroMQ socket with a mutex around Send: the iopub socket is written
// from several goroutines (stream flushers, status messages) and zmq4 sockets are not meant
// for concurrent writers.
type Socket struct {
	Name string
	sck  zmq4.Socket
	mu   sync.Mutex
}

// Send signs and sends m.
func (s *Socket) Send(signer Signer, m Message) error {
	frames := signer.Encode(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.sck.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		return fmt.Errorf("send %s on %s: %w", m.Header.MsgType, s.Name, err)
	}
	return nil
}

// RecvFrames receives one multipart message.
func (s *Socket) RecvFrames() ([][]byte, error) {
	msg, err := s.sck.Recv()
	if err != nil {
		return nil, fmt.Errorf("receive on %s: %w", s.Name, err)
	}
	return msg.Frames, nil
}

// SendRaw sends frames as they are (the heartbeat echo).
func (s *Socket) SendRaw(frames [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sck.SendMulti(zmq4.NewMsgFrom(frames...))
}

// Sockets are the five sockets of a kernel.
type Sockets struct {
	Shell, Control, Stdin, IOPub, HB *Socket
}

// Bind creates and binds the five sockets described by ci. They live until Close or until
// ctx is cancelled.
func Bind(ctx context.Context, ci ConnectionInfo) (*Sockets, error) {
	s := &Sockets{
		Shell:   &Socket{Name: "shell", sck: zmq4.NewRouter(ctx)},
		Control: &Socket{Name: "control", sck: zmq4.NewRouter(ctx)},
		Stdin:   &Socket{Name: "stdin", sck: zmq4.NewRouter(ctx)},
		IOPub:   &Socket{Name: "iopub", sck: zmq4.NewPub(ctx)},
		HB:      &Socket{Name: "heartbeat", sck: zmq4.NewRep(ctx)},
	}
	for _, b := range []struct {
		s    *Socket
		port int
	}{{s.Shell, ci.ShellPort}, {s.Control, ci.ControlPort}, {s.Stdin, ci.StdinPort},
		{s.IOPub, ci.IOPubPort}, {s.HB, ci.HBPort}} {
		if err := b.s.sck.Listen(ci.Endpoint(b.port)); err != nil {
			s.Close()
			return nil, fmt.Errorf("bind %s socket to %s: %w", b.s.Name, ci.Endpoint(b.port), err)
		}
	}
	return s, nil
}

// Close closes all five sockets.
func (s *Sockets) Close() error {
	var errs []error
	for _, x := range []*Socket{s.Shell, s.Control, s.Stdin, s.IOPub, s.HB} {
		if x != nil {
			if err := x.sck.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", x.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
