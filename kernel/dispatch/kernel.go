package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"

	"github.com/google/uuid"

	"github.com/ordermerge/ordermerge/kernel/output"
	"github.com/ordermerge/ordermerge/kernel/session"
	"github.com/ordermerge/ordermerge/kernel/wire"
)

// Config configures a kernel.
type Config struct {
	Conn    wire.ConnectionInfo
	Session session.Options
	// Log receives the kernel's own log lines (never the notebook).
	Log io.Writer
	// CaptureFDs replaces file descriptors 1 and 2 with pipes while the kernel runs so that
	// output of compiled code reaches the notebook. The real kernel sets it; in-process tests
	// leave it off except when they test it.
	CaptureFDs bool
	// Version is reported in kernel_info_reply.
	Version string
}

// Kernel is a running kernel.
type Kernel struct {
	cfg     Config
	sockets *wire.Sockets
	signer  wire.Signer
	session string // the kernel's session id, in every header it sends
	log     *log.Logger
	sess    *session.Session
	capture *output.Capture

	shellCh chan *wire.Message
	inputCh chan *wire.Message
	stop    context.CancelFunc
	ctx     context.Context

	mu          sync.Mutex
	cancelCell  context.CancelFunc
	count       int                   // execution_count
	cellParents map[int]*wire.Message // session cell number -> its execute_request
	cellSeq     int
	history     []historyEntry
	shutdown    bool
}

type historyEntry struct {
	line int
	code string
}

// New binds the sockets and creates the session.
func New(ctx context.Context, cfg Config) (*Kernel, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	ctx, stop := context.WithCancel(ctx)
	k := &Kernel{
		cfg:         cfg,
		signer:      wire.NewSigner(cfg.Conn.Key),
		session:     uuid.NewString(),
		shellCh:     make(chan *wire.Message, 256),
		inputCh:     make(chan *wire.Message, 4),
		cellParents: map[int]*wire.Message{},
		stop:        stop,
		ctx:         ctx,
	}
	if cfg.CaptureFDs {
		c, err := output.StartCapture()
		if err != nil {
			fmt.Fprintf(cfg.Log, "kernel: output of compiled code will not reach the notebook: %v\n", err)
		} else {
			k.capture = c
			cfg.Log = c.Log()
			k.cfg.Log = cfg.Log
		}
	}
	k.log = log.New(cfg.Log, "kernel: ", log.LstdFlags|log.Lmicroseconds)
	opts := cfg.Session
	late := opts.LatePanic
	opts.LatePanic = func(cell int, e *session.Error) {
		k.latePanic(cell, e)
		if late != nil {
			late(cell, e)
		}
	}
	sess, err := session.New(opts)
	if err != nil {
		k.close()
		stop()
		return nil, fmt.Errorf("start session: %w", err)
	}
	k.sess = sess
	s, err := wire.Bind(ctx, cfg.Conn)
	if err != nil {
		k.close()
		stop()
		return nil, err
	}
	k.sockets = s
	return k, nil
}

func (k *Kernel) close() {
	if k.sockets != nil {
		k.sockets.Close()
	}
	if k.capture != nil {
		k.capture.Stop()
		k.capture = nil
	}
}

// Interrupt cancels the running cell, if any (SIGINT and interrupt_request).
func (k *Kernel) Interrupt() {
	k.mu.Lock()
	cancel := k.cancelCell
	k.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Run serves requests until a shutdown_request arrives or ctx is cancelled.
func (k *Kernel) Run() error {
	defer k.close()
	defer k.stop()
	k.publish(nil, "status", map[string]any{"execution_state": "starting"})
	go k.heartbeat()
	go k.readLoop(k.sockets.Control, k.handleControl)
	go k.readLoop(k.sockets.Stdin, func(m *wire.Message) {
		if m.Header.MsgType == "input_reply" {
			select {
			case k.inputCh <- m:
			default:
				k.log.Printf("input_reply with no input_request waiting: dropped")
			}
		}
	})
	go k.readLoop(k.sockets.Shell, func(m *wire.Message) {
		select {
		case k.shellCh <- m:
		case <-k.ctx.Done():
		}
	})
	for {
		select {
		case <-k.ctx.Done():
			return nil
		case m := <-k.shellCh:
			k.handleShell(m)
		}
	}
}

// heartbeat echoes pings on its own goroutine.
func (k *Kernel) heartbeat() {
	for {
		frames, err := k.sockets.HB.RecvFrames()
		if err != nil {
			return
		}
		if err := k.sockets.HB.SendRaw(frames); err != nil {
			return
		}
	}
}

// readLoop receives, verifies and hands on messages of one socket.
func (k *Kernel) readLoop(s *wire.Socket, handle func(*wire.Message)) {
	for {
		frames, err := s.RecvFrames()
		if err != nil {
			if k.ctx.Err() == nil {
				k.log.Printf("%v; %s socket closed", err, s.Name)
			}
			return
		}
		m, err := k.signer.Decode(frames)
		if err != nil {
			k.log.Printf("%s: dropped message: %v", s.Name, err)
			continue
		}
		handle(&m)
	}
}

// reply answers req on socket s.
func (k *Kernel) reply(s *wire.Socket, req *wire.Message, msgType string, content any) {
	m, err := wire.Reply(req, msgType, k.session, content)
	if err != nil {
		k.log.Print(err)
		return
	}
	if err := s.Send(k.signer, m); err != nil {
		k.log.Print(err)
	}
}

// publish sends an iopub message with parent as its parent (nil: none).
func (k *Kernel) publish(parent *wire.Message, msgType string, content any) {
	m, err := wire.Reply(parent, msgType, k.session, content)
	if err != nil {
		k.log.Print(err)
		return
	}
	m.Identities = [][]byte{[]byte("kernel." + k.session + "." + msgType)}
	if err := k.sockets.IOPub.Send(k.signer, m); err != nil {
		k.log.Print(err)
	}
}

func (k *Kernel) busy(req *wire.Message) func() {
	k.publish(req, "status", map[string]any{"execution_state": "busy"})
	return func() { k.publish(req, "status", map[string]any{"execution_state": "idle"}) }
}

func (k *Kernel) handleControl(m *wire.Message) {
	defer k.busy(m)()
	switch m.Header.MsgType {
	case "interrupt_request":
		k.Interrupt()
		k.reply(k.sockets.Control, m, "interrupt_reply", map[string]any{"status": "ok"})
	case "shutdown_request":
		k.shutdownRequest(k.sockets.Control, m)
	case "kernel_info_request":
		k.reply(k.sockets.Control, m, "kernel_info_reply", k.kernelInfo())
	case "debug_request":
		k.reply(k.sockets.Control, m, "debug_reply", map[string]any{})
	default:
		k.log.Printf("control: unhandled message type %q", m.Header.MsgType)
	}
}

func (k *Kernel) shutdownRequest(s *wire.Socket, m *wire.Message) {
	var c struct {
		Restart bool `json:"restart"`
	}
	_ = json.Unmarshal(m.Content, &c)
	k.mu.Lock()
	k.shutdown = true
	k.mu.Unlock()
	k.Interrupt()
	k.reply(s, m, "shutdown_reply", map[string]any{"status": "ok", "restart": c.Restart})
	k.publish(m, "status", map[string]any{"execution_state": "idle"})
	k.stop()
}

func (k *Kernel) kernelInfo() map[string]any {
	return map[string]any{
		"status":                 "ok",
		"protocol_version":       wire.ProtocolVersion,
		"implementation":         "ordermerge",
		"implementation_version": k.cfg.Version,
		"language_info": map[string]any{
			"name":               "go",
			"version":            session.LanguageVersion(), // what cells may use, not the Go that built the kernel
			"mimetype":           "text/x-go",
			"file_extension":     ".go",
			"pygments_lexer":     "go",
			"codemirror_mode":    "go",
			"nbconvert_exporter": "script",
		},
		"banner":     "ordermerge Go kernel (yaegi) — %help for help",
		"help_links": []any{},
		"debugger":   false,
	}
}

func (k *Kernel) handleShell(m *wire.Message) {
	done := k.busy(m)
	defer done()
	sh := k.sockets.Shell
	if m.Header.MsgType != "kernel_info_request" {
		// The symbol tables load at the first request that needs them (session.Options.LazyLoad).
		if err := k.sess.Load(); err != nil {
			k.log.Print(err)
		}
	}
	switch m.Header.MsgType {
	case "kernel_info_request":
		k.reply(sh, m, "kernel_info_reply", k.kernelInfo())
	case "execute_request":
		k.execute(m)
	case "complete_request":
		var c struct {
			Code      string `json:"code"`
			CursorPos int    `json:"cursor_pos"`
		}
		_ = json.Unmarshal(m.Content, &c)
		if k.sess.Busy() { // an interrupted cell's compiled call holds the interpreter
			k.reply(sh, m, "complete_reply", map[string]any{"status": "ok", "matches": []string{},
				"cursor_start": c.CursorPos, "cursor_end": c.CursorPos, "metadata": map[string]any{}})
			return
		}
		matches, start, end := k.sess.Complete(c.Code, c.CursorPos)
		k.reply(sh, m, "complete_reply", map[string]any{"status": "ok", "matches": matches,
			"cursor_start": start, "cursor_end": end, "metadata": map[string]any{}})
	case "inspect_request":
		var c struct {
			Code      string `json:"code"`
			CursorPos int    `json:"cursor_pos"`
		}
		_ = json.Unmarshal(m.Content, &c)
		if k.sess.Busy() {
			k.reply(sh, m, "inspect_reply", map[string]any{"status": "ok", "found": false, "data": map[string]any{}, "metadata": map[string]any{}})
			return
		}
		data, found := k.sess.Inspect(c.Code, c.CursorPos)
		k.reply(sh, m, "inspect_reply", map[string]any{"status": "ok", "found": found, "data": data, "metadata": map[string]any{}})
	case "is_complete_request":
		var c struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(m.Content, &c)
		status, indent := k.sess.IsComplete(c.Code)
		content := map[string]any{"status": status}
		if status == "incomplete" {
			content["indent"] = indent
		}
		k.reply(sh, m, "is_complete_reply", content)
	case "history_request":
		k.historyRequest(m)
	case "comm_info_request":
		k.reply(sh, m, "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}})
	case "comm_open":
		// No comm targets exist: close the comm at once so the front end does not wait.
		var c struct {
			CommID string `json:"comm_id"`
		}
		_ = json.Unmarshal(m.Content, &c)
		k.publish(m, "comm_close", map[string]any{"comm_id": c.CommID, "data": map[string]any{}})
	case "comm_msg", "comm_close":
		// Nothing listens; the busy/idle pair is the whole answer.
	case "shutdown_request":
		k.shutdownRequest(sh, m)
	case "interrupt_request":
		k.Interrupt()
		k.reply(sh, m, "interrupt_reply", map[string]any{"status": "ok"})
	default:
		k.log.Printf("shell: unhandled message type %q", m.Header.MsgType)
	}
}

// latePanic reports a goroutine panic that happened after its cell finished, under that
// cell's request so the front end attaches it to the right cell.
func (k *Kernel) latePanic(cell int, e *session.Error) {
	k.mu.Lock()
	parent := k.cellParents[cell]
	k.mu.Unlock()
	k.publish(parent, "error", map[string]any{"ename": e.Name, "evalue": e.Value, "traceback": e.Traceback})
}

// errNoStdin is returned to a cell asking for input when the request forbade it.
var errNoStdin = errors.New("input is not available: the front end sent allow_stdin=false")
