package dispatch

import (
	"context"
	"encoding/json"
	"io"
	"sync"

	"github.com/ordermerge/ordermerge/kernel/output"
	"github.com/ordermerge/ordermerge/kernel/wire"
)

type executeRequest struct {
	Code         string          `json:"code"`
	Silent       bool            `json:"silent"`
	StoreHistory *bool           `json:"store_history"`
	UserExpr     json.RawMessage `json:"user_expressions"`
	AllowStdin   bool            `json:"allow_stdin"`
	StopOnError  *bool           `json:"stop_on_error"`
}

// execute runs one execute_request.
func (k *Kernel) execute(m *wire.Message) {
	var req executeRequest
	if err := json.Unmarshal(m.Content, &req); err != nil {
		k.log.Printf("execute_request: bad content: %v", err)
		k.reply(k.sockets.Shell, m, "execute_reply", map[string]any{"status": "error", "ename": "BadRequest",
			"evalue": err.Error(), "traceback": []string{err.Error()}, "execution_count": k.count})
		return
	}
	store := !req.Silent && (req.StoreHistory == nil || *req.StoreHistory)
	stopOnError := req.StopOnError == nil || *req.StopOnError
	k.mu.Lock()
	if store {
		k.count++
		k.history = append(k.history, historyEntry{k.count, req.Code})
	}
	count := k.count
	k.cellSeq++
	k.cellParents[k.cellSeq] = m
	delete(k.cellParents, k.cellSeq-64)
	ctx, cancel := context.WithCancel(k.ctx)
	k.cancelCell = cancel
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.cancelCell = nil
		k.mu.Unlock()
		cancel()
	}()
	if !req.Silent {
		k.publish(m, "execute_input", map[string]any{"code": req.Code, "execution_count": count})
	}
	h := k.newCellHost(m, req.Silent, req.AllowStdin, ctx)
	// The compiled call of an interrupted cell may still be running; what it writes to fds 1
	// and 2 until it returns must not be captured into this cell.
	_ = k.sess.Settle(ctx, h.stderr) // when ctx ends first, Execute reports the interrupt
	if k.capture != nil {
		k.capture.SetTargets(h.stdout, h.stderr)
	}
	res := k.sess.Execute(ctx, req.Code, h)
	if k.capture != nil {
		k.capture.Sync() // compiled code's last lines belong to this cell
		k.capture.SetTargets(nil, nil)
	}
	h.close()
	if res.Data != nil && !req.Silent {
		k.publish(m, "execute_result", map[string]any{"execution_count": count, "data": res.Data, "metadata": map[string]any{}})
	}
	if res.Err != nil {
		e := res.Err
		if !req.Silent {
			k.publish(m, "error", map[string]any{"ename": e.Name, "evalue": e.Value, "traceback": e.Traceback})
		}
		// stop_on_error aborts the requests that were waiting when the cell failed, not one
		// the client sends after it has read this reply (it may arrive before the queue is
		// drained): count them before replying.
		waiting := len(k.shellCh)
		k.reply(k.sockets.Shell, m, "execute_reply", map[string]any{"status": "error", "execution_count": count,
			"ename": e.Name, "evalue": e.Value, "traceback": e.Traceback})
		if stopOnError {
			k.abortQueued(waiting)
		}
		return
	}
	payload := []any{}
	if res.Exit {
		// What ipykernel sends for exit: terminal front ends end the session (and the kernel).
		payload = append(payload, map[string]any{"source": "ask_exit", "keepkernel": false})
	}
	k.reply(k.sockets.Shell, m, "execute_reply", map[string]any{"status": "ok", "execution_count": count,
		"user_expressions": map[string]any{}, "payload": payload})
}

// abortQueued answers the first n waiting requests: execute_requests with status "aborted"
// instead of running them, as stop_on_error asks; other requests are handled normally.
func (k *Kernel) abortQueued(n int) {
	for ; n > 0; n-- {
		select {
		case m := <-k.shellCh:
			if m.Header.MsgType != "execute_request" {
				k.handleShell(m)
				continue
			}
			done := k.busy(m)
			k.mu.Lock()
			count := k.count
			k.mu.Unlock()
			k.reply(k.sockets.Shell, m, "execute_reply", map[string]any{"status": "aborted", "execution_count": count})
			done()
		default:
			return
		}
	}
}

// cellHost is the session.Host of one execute_request: streams, displays and input all
// carry the request as their parent.
type cellHost struct {
	k          *Kernel
	parent     *wire.Message
	silent     bool
	allowStdin bool
	ctx        context.Context
	stdout     *output.Stream
	stderr     *output.Stream
	inputMu    sync.Mutex
}

func (k *Kernel) newCellHost(m *wire.Message, silent, allowStdin bool, ctx context.Context) *cellHost {
	h := &cellHost{k: k, parent: m, silent: silent, allowStdin: allowStdin, ctx: ctx}
	send := func(name, text string) {
		if !silent {
			k.publish(m, "stream", map[string]any{"name": name, "text": text})
		}
	}
	h.stdout = output.NewStream("stdout", send)
	h.stderr = output.NewStream("stderr", send)
	return h
}

func (h *cellHost) Stdout() io.Writer { return h.stdout }
func (h *cellHost) Stderr() io.Writer { return h.stderr }

// flushText sends pending text first so outputs keep the order in which the cell made them.
func (h *cellHost) flushText() {
	h.stdout.Flush()
	h.stderr.Flush()
}

func (h *cellHost) close() {
	h.stdout.Close()
	h.stderr.Close()
}

func (h *cellHost) PublishDisplay(data, metadata map[string]any, id string, update bool) error {
	if h.silent {
		return nil
	}
	h.flushText()
	msgType := "display_data"
	if update {
		msgType = "update_display_data"
	}
	content := map[string]any{"data": data, "metadata": metadata, "transient": map[string]any{}}
	if id != "" {
		content["transient"] = map[string]any{"display_id": id}
	}
	h.k.publish(h.parent, msgType, content)
	return nil
}

// Input sends an input_request on the stdin socket to the requester and waits for the
// reply, or for the cell to be interrupted.
func (h *cellHost) Input(prompt string, password bool) (string, error) {
	if !h.allowStdin {
		return "", errNoStdin
	}
	h.inputMu.Lock()
	defer h.inputMu.Unlock()
	h.flushText()
	// Drop a reply left over from an earlier, interrupted request.
	select {
	case <-h.k.inputCh:
	default:
	}
	h.k.reply(h.k.sockets.Stdin, h.parent, "input_request", map[string]any{"prompt": prompt, "password": password})
	select {
	case r := <-h.k.inputCh:
		var c struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(r.Content, &c); err != nil {
			return "", err
		}
		return c.Value, nil
	case <-h.ctx.Done():
		return "", h.ctx.Err()
	}
}
