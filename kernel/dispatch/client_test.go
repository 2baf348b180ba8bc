package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/ordermerge/ordermerge/kernel/session"
	"github.com/ordermerge/ordermerge/kernel/wire"
)

// testClient is a minimal Jupyter client over zmq4, enough to drive every message type.
type testClient struct {
	t                     *testing.T
	signer                wire.Signer
	shell, control, stdin zmq4.Socket
	iopub, hb             zmq4.Socket
	session               string

	mu      sync.Mutex
	readers map[zmq4.Socket]chan zmq4.Msg
	iomsg   []wire.Message
	ioCh    chan struct{}
}

func freePorts(t *testing.T, n int) []int {
	var ports []int
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startKernel runs a kernel in-process and connects a client to it.
func startKernel(t *testing.T, extra map[string]map[string]reflect.Value, capture bool) (*Kernel, *testClient, chan error) {
	t.Helper()
	p := freePorts(t, 5)
	ci := wire.ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", ShellPort: p[0], ControlPort: p[1],
		StdinPort: p[2], IOPubPort: p[3], HBPort: p[4], SignatureScheme: "hmac-sha256", Key: "secret-key"}
	opts := session.Options{}
	if extra != nil {
		opts.Symbols = append(opts.Symbols, extra)
	}
	k, err := New(context.Background(), Config{Conn: ci, Session: opts, Log: testLog{t}, CaptureFDs: capture, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- k.Run() }()
	ctx := context.Background()
	id := zmq4.WithID(zmq4.SocketIdentity("client-" + fmt.Sprint(p[0])))
	c := &testClient{t: t, signer: wire.NewSigner(ci.Key), session: "test-session", ioCh: make(chan struct{}, 1),
		shell: zmq4.NewDealer(ctx, id), control: zmq4.NewDealer(ctx), stdin: zmq4.NewDealer(ctx, id),
		iopub: zmq4.NewSub(ctx), hb: zmq4.NewReq(ctx)}
	for _, d := range []struct {
		s    zmq4.Socket
		port int
	}{{c.shell, p[0]}, {c.control, p[1]}, {c.stdin, p[2]}, {c.iopub, p[3]}, {c.hb, p[4]}} {
		if err := d.s.Dial(ci.Endpoint(d.port)); err != nil {
			t.Fatal(err)
		}
	}
	c.iopub.SetOption(zmq4.OptionSubscribe, "")
	go c.readIOPub()
	// PUB drops messages until the subscription arrives: ask for kernel_info until a status
	// message shows up on iopub.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.request(c.shell, "kernel_info_request", map[string]any{})
		c.recv(c.shell, 5*time.Second)
		if len(c.messages()) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no iopub messages")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	c.reset()
	t.Cleanup(func() {
		k.stop()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("kernel did not stop")
		}
		for _, s := range []zmq4.Socket{c.shell, c.control, c.stdin, c.iopub, c.hb} {
			s.Close()
		}
	})
	return k, c, done
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) { l.t.Logf("%s", p); return len(p), nil }

func (c *testClient) readIOPub() {
	for {
		msg, err := c.iopub.Recv()
		if err != nil {
			return
		}
		m, err := c.signer.Decode(msg.Frames)
		if err != nil {
			c.t.Errorf("iopub: %v", err)
			continue
		}
		c.mu.Lock()
		c.iomsg = append(c.iomsg, m)
		c.mu.Unlock()
		select {
		case c.ioCh <- struct{}{}:
		default:
		}
	}
}

func (c *testClient) messages() []wire.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wire.Message(nil), c.iomsg...)
}

func (c *testClient) reset() {
	c.mu.Lock()
	c.iomsg = nil
	c.mu.Unlock()
}

// request sends a signed request and returns its msg_id.
func (c *testClient) request(s zmq4.Socket, msgType string, content any) string {
	c.t.Helper()
	h := wire.NewHeader(msgType, c.session)
	m := wire.Message{Header: h}
	m.Content, _ = json.Marshal(content)
	if err := s.SendMulti(zmq4.NewMsgFrom(c.signer.Encode(m)...)); err != nil {
		c.t.Fatal(err)
	}
	return h.MsgID
}

// recv waits for the next message on a dealer socket. One reader goroutine per socket feeds
// a channel, so a timed-out wait never leaves a reader behind to steal the next message.
func (c *testClient) recv(s zmq4.Socket, timeout time.Duration) (*wire.Message, bool) {
	c.mu.Lock()
	if c.readers == nil {
		c.readers = map[zmq4.Socket]chan zmq4.Msg{}
	}
	ch, ok := c.readers[s]
	if !ok {
		ch = make(chan zmq4.Msg, 64)
		c.readers[s] = ch
		go func() {
			for {
				m, err := s.Recv()
				if err != nil {
					close(ch)
					return
				}
				ch <- m
			}
		}()
	}
	c.mu.Unlock()
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, false
		}
		m, err := c.signer.Decode(r.Frames)
		if err != nil {
			c.t.Errorf("reply: %v", err)
			return nil, false
		}
		return &m, true
	case <-time.After(timeout):
		return nil, false
	}
}

func (c *testClient) mustRecv(s zmq4.Socket, msgType string) map[string]any {
	c.t.Helper()
	m, ok := c.recv(s, 20*time.Second)
	if !ok {
		c.t.Fatalf("no %s", msgType)
	}
	if m.Header.MsgType != msgType {
		c.t.Fatalf("got %s, want %s: %s", m.Header.MsgType, msgType, m.Content)
	}
	var content map[string]any
	json.Unmarshal(m.Content, &content)
	return content
}

func parentID(m wire.Message) string {
	var h wire.Header
	json.Unmarshal(m.ParentHeader, &h)
	return h.MsgID
}

// ioFor waits until the iopub status idle for request id has arrived and returns the iopub
// messages of that request, in order.
func (c *testClient) ioFor(id string, timeout time.Duration) []wire.Message {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var out []wire.Message
		idle := false
		for _, m := range c.messages() {
			if parentID(m) != id {
				continue
			}
			out = append(out, m)
			if m.Header.MsgType == "status" && string(m.Content) == `{"execution_state":"idle"}` {
				idle = true
			}
		}
		if idle {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no idle for %s; got %d messages", id, len(out))
		}
		select {
		case <-c.ioCh:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func types(ms []wire.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Header.MsgType)
	}
	return out
}

func content(m wire.Message) map[string]any {
	var c map[string]any
	json.Unmarshal(m.Content, &c)
	return c
}

// execute runs code and returns the reply and the iopub messages of the request.
func (c *testClient) execute(code string, extra map[string]any) (map[string]any, []wire.Message) {
	c.t.Helper()
	req := map[string]any{"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{},
		"allow_stdin": false, "stop_on_error": true}
	for k, v := range extra {
		req[k] = v
	}
	id := c.request(c.shell, "execute_request", req)
	reply := c.mustRecv(c.shell, "execute_reply")
	return reply, c.ioFor(id, 20*time.Second)
}
