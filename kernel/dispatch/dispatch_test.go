package dispatch

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/ordermerge/ordermerge/kernel/wire"
)

func TestKernelInfoOnShellAndControl(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	for _, s := range []zmq4.Socket{c.shell, c.control} {
		id := c.request(s, "kernel_info_request", map[string]any{})
		r := c.mustRecv(s, "kernel_info_reply")
		if r["protocol_version"] != "5.3" || r["status"] != "ok" || r["language_info"].(map[string]any)["name"] != "go" {
			t.Errorf("kernel_info_reply %v", r)
		}
		if got := types(c.ioFor(id, 5*time.Second)); strings.Join(got, ",") != "status,status" {
			t.Errorf("iopub around kernel_info: %v", got)
		}
	}
}

func TestExecuteMessagesAndCounts(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	reply, io := c.execute("1+1", nil)
	if reply["status"] != "ok" || reply["execution_count"] != 1.0 {
		t.Fatalf("reply %v", reply)
	}
	if got := strings.Join(types(io), ","); got != "status,execute_input,execute_result,status" {
		t.Fatalf("iopub %s", got)
	}
	if d := content(io[2])["data"].(map[string]any); d["text/plain"] != "2" {
		t.Errorf("result %v", d)
	}
	// silent: no execute_input, no result, count unchanged.
	reply, io = c.execute("x := 5\nx", map[string]any{"silent": true})
	if reply["execution_count"] != 1.0 || strings.Join(types(io), ",") != "status,status" {
		t.Errorf("silent: %v %v", reply, types(io))
	}
	// store_history false: runs, shows, count unchanged.
	reply, io = c.execute("x * 2", map[string]any{"store_history": false})
	if reply["execution_count"] != 1.0 || content(io[2])["data"].(map[string]any)["text/plain"] != "10" {
		t.Errorf("store_history=false: %v %v", reply, types(io))
	}
	reply, io = c.execute("fmt.Println(\"hi\")", nil)
	if reply["execution_count"] != 2.0 || strings.Join(types(io), ",") != "status,execute_input,stream,status" {
		t.Errorf("println: %v %v", reply, types(io))
	}
	if s := content(io[2]); s["name"] != "stdout" || s["text"] != "hi\n" {
		t.Errorf("stream %v", s)
	}
	// exit asks a terminal front end to end the session, as ipykernel's exit does.
	reply, _ = c.execute("exit", nil)
	if p, _ := reply["payload"].([]any); reply["status"] != "ok" || len(p) != 1 || p[0].(map[string]any)["source"] != "ask_exit" {
		t.Errorf("exit: %v", reply)
	}
}

func TestErrorsAndStopOnError(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	reply, io := c.execute("a := 1\nb := a +* 2", nil)
	if reply["status"] != "error" || reply["ename"] != "CompileError" {
		t.Fatalf("reply %v", reply)
	}
	var errs []map[string]any
	for _, m := range io {
		if m.Header.MsgType == "error" {
			errs = append(errs, content(m))
		}
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0]["evalue"].(string), "2:") {
		t.Fatalf("want exactly one error at line 2, got %v", errs)
	}
	// Queued cells after a failing one are aborted, not run.
	bad := c.request(c.shell, "execute_request", map[string]any{"code": "time.Sleep(200*time.Millisecond)\npanic(\"first\")", "stop_on_error": true})
	c.request(c.shell, "execute_request", map[string]any{"code": "ran := true", "stop_on_error": true})
	r1 := c.mustRecv(c.shell, "execute_reply")
	r2 := c.mustRecv(c.shell, "execute_reply")
	if r1["status"] != "error" || r2["status"] != "aborted" {
		t.Fatalf("replies %v / %v", r1, r2)
	}
	c.ioFor(bad, 5*time.Second)
	reply, _ = c.execute("ran", nil)
	if reply["status"] != "error" {
		t.Errorf("aborted cell ran: %v", reply)
	}
}

func TestBadSignatureIsDroppedWithoutEffect(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	h := wire.NewHeader("execute_request", "attacker")
	m := wire.Message{Header: h, Content: []byte(`{"code":"pwned := 1","silent":false}`)}
	frames := wire.NewSigner("wrong-key").Encode(m)
	if err := c.shell.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		t.Fatal(err)
	}
	// Malformed messages: no delimiter, too few frames, non-JSON header, empty.
	for _, fr := range [][][]byte{
		{[]byte("garbage")},
		{[]byte(wire.Delimiter), []byte("sig")},
		{[]byte(wire.Delimiter), []byte(""), []byte("{not json"), []byte("{}"), []byte("{}"), []byte("{}")},
		{[]byte(wire.Delimiter), []byte("00"), []byte("{}"), []byte("{}"), []byte("{}"), []byte("{}")},
	} {
		c.shell.SendMulti(zmq4.NewMsgFrom(fr...))
	}
	if m, ok := c.recv(c.shell, 500*time.Millisecond); ok {
		t.Fatalf("forged message got a reply: %s", m.Header.MsgType)
	}
	for _, m := range c.messages() {
		if parentID(m) == h.MsgID {
			t.Fatalf("forged message caused iopub %s", m.Header.MsgType)
		}
	}
	reply, _ := c.execute("pwned", nil)
	if reply["status"] != "error" || !strings.Contains(fmt.Sprint(reply["evalue"]), "undefined: pwned") {
		t.Fatalf("forged cell had an effect: %v", reply)
	}
}

func TestGoroutinePanicKeepsKernel(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	reply, io := c.execute("ch := make(chan int)\ngo func() { var m map[string]int; m[\"x\"] = 1; ch <- 1 }()\n<-ch", nil)
	if reply["status"] != "error" || reply["ename"] != "GoroutinePanic" {
		t.Fatalf("reply %v", reply)
	}
	n := 0
	for _, m := range io {
		if m.Header.MsgType == "error" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d error messages", n)
	}
	// A goroutine that panics after its cell ended is reported under that cell.
	reply, _ = c.execute("go func() { time.Sleep(100 * time.Millisecond); panic(\"late\") }()", nil)
	if reply["status"] != "ok" {
		t.Fatalf("reply %v", reply)
	}
	time.Sleep(400 * time.Millisecond)
	found := false
	for _, m := range c.messages() {
		if m.Header.MsgType == "error" && strings.Contains(string(m.Content), "late") {
			found = true
		}
	}
	if !found {
		t.Error("late goroutine panic not reported")
	}
	if reply, _ := c.execute("40 + 2", nil); reply["status"] != "ok" {
		t.Fatalf("kernel unusable: %v", reply)
	}
}

func TestInterruptInfiniteLoopWithinOneSecond(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	c.execute("n := 0", nil)
	id := c.request(c.shell, "execute_request", map[string]any{"code": "for { n++ }", "stop_on_error": true})
	// Wait until the cell runs (execute_input seen), then interrupt over control.
	waitFor(t, c, id, "execute_input")
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	c.request(c.control, "interrupt_request", map[string]any{})
	c.mustRecv(c.control, "interrupt_reply")
	reply := c.mustRecv(c.shell, "execute_reply")
	if d := time.Since(start); d > time.Second {
		t.Errorf("interrupt took %v", d)
	}
	if reply["status"] != "error" || reply["ename"] != "Interrupted" {
		t.Errorf("reply %v", reply)
	}
	r, io := c.execute("n > 0", nil)
	if r["status"] != "ok" || content(io[2])["data"].(map[string]any)["text/plain"] != "true" {
		t.Errorf("state after interrupt: %v", r)
	}
}

func waitFor(t *testing.T, c *testClient, id, msgType string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.messages() {
			if parentID(m) == id && m.Header.MsgType == msgType {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s for %s", msgType, id)
}

// slowTrain stands in for a long compiled call (sft training): one step per stepMS, checking
// ctx before each step and printing progress to the process's stdout as compiled code does.
type slowTrain struct{ steps atomic.Int64 }

func (s *slowTrain) run(ctx context.Context, n, stepMS int) (int, error) {
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return i, err
		}
		time.Sleep(time.Duration(stepMS) * time.Millisecond)
		s.steps.Add(1)
		fmt.Fprintf(os.Stdout, "step %d\n", i)
	}
	return n, nil
}

func slowTrainSymbols(s *slowTrain) map[string]map[string]reflect.Value {
	return map[string]map[string]reflect.Value{
		"ordermerge.test/slowtrain/slowtrain": {"Train": reflect.ValueOf(s.run)},
	}
}

func TestInterruptCompiledCallWithinOneStep(t *testing.T) {
	st := &slowTrain{}
	_, c, _ := startKernel(t, slowTrainSymbols(st), true)
	id := c.request(c.shell, "execute_request", map[string]any{"code": "import \"ordermerge.test/slowtrain\"\nn, err := slowtrain.Train(display.Context(), 1000, 100)"})
	waitFor(t, c, id, "execute_input")
	for st.steps.Load() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	c.request(c.control, "interrupt_request", map[string]any{})
	c.mustRecv(c.control, "interrupt_reply")
	at := st.steps.Load()
	reply := c.mustRecv(c.shell, "execute_reply")
	if reply["status"] != "error" {
		t.Errorf("reply %v", reply)
	}
	time.Sleep(300 * time.Millisecond)
	if after := st.steps.Load(); after > at+1 {
		t.Errorf("training ran %d more steps after the interrupt (want at most 1)", after-at)
	}
	io := c.ioFor(id, 5*time.Second)
	var text strings.Builder
	for _, m := range io {
		if m.Header.MsgType == "stream" {
			text.WriteString(content(m)["text"].(string))
		}
	}
	if !strings.Contains(text.String(), "step 0\nstep 1\n") {
		t.Errorf("compiled output not captured: %q", text.String())
	}
}

func TestTenMegabytesOfOutput(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	reply, io := c.execute("line := strings.Repeat(\"x\", 99)\nfor i := 0; i < 100000; i++ { fmt.Println(line) }", nil)
	if reply["status"] != "ok" {
		t.Fatalf("reply %v", reply)
	}
	total, msgs := 0, 0
	for _, m := range io {
		if m.Header.MsgType == "stream" {
			total += len(content(m)["text"].(string))
			msgs++
		}
	}
	if total != 10_000_000 {
		t.Errorf("received %d bytes, want 10000000", total)
	}
	if msgs > 1000 {
		t.Errorf("%d stream messages: output not coalesced", msgs)
	}
	if r, _ := c.execute("1", nil); r["status"] != "ok" {
		t.Errorf("kernel after flood: %v", r)
	}
}

func TestCompleteInspectIsCompleteHistoryComms(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	c.execute("counterValue := 7", nil)
	c.request(c.shell, "complete_request", map[string]any{"code": "x := counterV", "cursor_pos": 13})
	r := c.mustRecv(c.shell, "complete_reply")
	if fmt.Sprint(r["matches"]) != "[counterValue]" || r["cursor_start"] != 5.0 || r["cursor_end"] != 13.0 {
		t.Errorf("complete %v", r)
	}
	c.request(c.shell, "complete_request", map[string]any{"code": "qqqq", "cursor_pos": 4})
	if r := c.mustRecv(c.shell, "complete_reply"); r["matches"] == nil || r["status"] != "ok" {
		t.Errorf("no-match complete %v", r)
	}
	c.request(c.shell, "inspect_request", map[string]any{"code": "counterValue", "cursor_pos": 3, "detail_level": 0})
	r = c.mustRecv(c.shell, "inspect_reply")
	if r["found"] != true || !strings.Contains(fmt.Sprint(r["data"]), "counterValue int = 7") {
		t.Errorf("inspect %v", r)
	}
	for code, want := range map[string]string{"x := 1": "complete", "if x {": "incomplete", "x := )": "invalid"} {
		c.request(c.shell, "is_complete_request", map[string]any{"code": code})
		if r := c.mustRecv(c.shell, "is_complete_reply"); r["status"] != want {
			t.Errorf("is_complete(%q) = %v", code, r)
		}
	}
	c.request(c.shell, "history_request", map[string]any{"hist_access_type": "tail", "n": 10, "output": false, "raw": true})
	if r := c.mustRecv(c.shell, "history_reply"); !strings.Contains(fmt.Sprint(r["history"]), "counterValue := 7") {
		t.Errorf("history %v", r)
	}
	c.request(c.shell, "comm_info_request", map[string]any{})
	if r := c.mustRecv(c.shell, "comm_info_reply"); r["status"] != "ok" {
		t.Errorf("comm_info %v", r)
	}
	id := c.request(c.shell, "comm_open", map[string]any{"comm_id": "c1", "target_name": "nope", "data": map[string]any{}})
	io := c.ioFor(id, 5*time.Second)
	if got := strings.Join(types(io), ","); got != "status,comm_close,status" {
		t.Errorf("comm_open: %s", got)
	}
	id = c.request(c.shell, "comm_msg", map[string]any{"comm_id": "c1", "data": map[string]any{}})
	c.ioFor(id, 5*time.Second)
}

func TestDisplayAndStdin(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	id := c.request(c.shell, "execute_request", map[string]any{"code": `name, err := display.Input("who? ")
id := display.NewID()
display.ShowID(id, "v1")
display.Update(id, "v2")
display.HTML("<b>" + name + "</b>")`, "allow_stdin": true})
	req := c.mustRecv(c.stdin, "input_request")
	if req["prompt"] != "who? " {
		t.Errorf("input_request %v", req)
	}
	c.request(c.stdin, "input_reply", map[string]any{"value": "Ada"})
	if r := c.mustRecv(c.shell, "execute_reply"); r["status"] != "ok" {
		t.Fatalf("reply %v", r)
	}
	io := c.ioFor(id, 5*time.Second)
	got := strings.Join(types(io), ",")
	if got != "status,execute_input,display_data,update_display_data,display_data,status" {
		t.Fatalf("iopub %s", got)
	}
	if tr := content(io[3])["transient"].(map[string]any); tr["display_id"] == "" {
		t.Errorf("update without display_id")
	}
	if d := content(io[4])["data"].(map[string]any); d["text/html"] != "<b>Ada</b>" {
		t.Errorf("html %v", d)
	}
	// Without allow_stdin, input fails instead of hanging.
	r, _ := c.execute("_, err := display.Input(\"x\")\nerr != nil", nil)
	if r["status"] != "ok" {
		t.Errorf("input without stdin: %v", r)
	}
}

func TestShutdown(t *testing.T) {
	_, c, done := startKernel(t, nil, false)
	c.request(c.control, "shutdown_request", map[string]any{"restart": true})
	r := c.mustRecv(c.control, "shutdown_reply")
	if r["restart"] != true || r["status"] != "ok" {
		t.Errorf("shutdown_reply %v", r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
		done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("kernel still running after shutdown")
	}
}

func TestHeartbeat(t *testing.T) {
	_, c, _ := startKernel(t, nil, false)
	if err := c.hb.Send(zmq4.NewMsgString("ping")); err != nil {
		t.Fatal(err)
	}
	m, err := c.hb.Recv()
	if err != nil || string(m.Frames[0]) != "ping" {
		t.Fatalf("heartbeat: %v %v", m, err)
	}
}
