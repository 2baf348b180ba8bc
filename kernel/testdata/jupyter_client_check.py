"""Drives the installed ordermerge kernelspec with Debian's jupyter_client.

Run by kernel/jupyter_test.go with JUPYTER_PATH pointing at a temporary kernelspec. Prints one
line per check and a final "N passed, M failed" line; exits non-zero on any failure.
"""
import json
import os
import queue
import shutil
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)


def run(kc, code, timeout=30, **kw):
    """Executes code, returns (reply content, [(msg_type, content)] of iopub)."""
    outs = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: outs.append((m["msg_type"], m["content"])), **kw)
    return reply["content"], outs


km = KernelManager(kernel_name="ordermerge")
t0 = time.time()
km.start_kernel()
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=60)
print("started in %.3fs" % (time.time() - t0), flush=True)
check("kernel_info", kc.kernel_info(reply=True)["content"]["language_info"]["name"] == "go")

reply, outs = run(kc, "1+1")
check("execute 1+1", reply["status"] == "ok" and ("execute_result", ) == tuple(o[0] for o in outs if o[0] == "execute_result")
      and [o[1]["data"]["text/plain"] for o in outs if o[0] == "execute_result"] == ["2"], outs)

reply, outs = run(kc, 'x := 21\nfmt.Println("hello", x*2)')
check("stream", [o[1]["text"] for o in outs if o[0] == "stream"] == ["hello 42\n"], outs)

reply, outs = run(kc, 'display.HTML("<b>bold</b>")\ndisplay.Markdown("# title")')
data = [o[1]["data"] for o in outs if o[0] == "display_data"]
check("display", len(data) == 2 and data[0]["text/html"] == "<b>bold</b>" and data[1]["text/markdown"] == "# title", outs)

plot_code = """p := plot.New()
p.Title.Text = "loss"
pts := make(plotter.XYs, 20)
for i := range pts { pts[i].X = float64(i); pts[i].Y = 1 / float64(i+1) }
l, err := plotter.NewLine(pts)
if err != nil { panic(err) }
p.Add(l)
w, err := p.WriterTo(4*vg.Inch, 3*vg.Inch, "png")
if err != nil { panic(err) }
var buf bytes.Buffer
w.WriteTo(&buf)
display.PNG(buf.Bytes())"""
reply, outs = run(kc, plot_code, timeout=60)
pngs = [o[1]["data"].get("image/png", "") for o in outs if o[0] == "display_data"]
check("gonum plot as PNG", reply["status"] == "ok" and len(pngs) == 1 and pngs[0].startswith("iVBOR"), (reply, [o[0] for o in outs]))

c = kc.complete("strings.ToU", 11, reply=True)["content"]
check("complete", c["matches"] == ["ToUpper", "ToUpperSpecial"] and c["cursor_start"] == 8, c)
c = kc.inspect("strings.ToUpper(", 12, reply=True)["content"]
check("inspect", c["found"] and "ToUpper" in c["data"]["text/plain"], c)
kc.is_complete("func f() {")
c = kc.get_shell_msg(timeout=10)["content"]
check("is_complete incomplete", c["status"] == "incomplete", c)
kc.is_complete("y := 1")
c = kc.get_shell_msg(timeout=10)["content"]
check("is_complete complete", c["status"] == "complete", c)

# input via stdin
msg_id = kc.execute('name, _ := display.Input("name? ")\nfmt.Println("hi " + name)', allow_stdin=True)
req = kc.get_stdin_msg(timeout=10)
check("input_request", req["content"]["prompt"] == "name? ", req["content"])
kc.input("Ada")
texts = []
while True:
    m = kc.get_iopub_msg(timeout=10)
    if m["parent_header"].get("msg_id") != msg_id:
        continue
    if m["msg_type"] == "stream":
        texts.append(m["content"]["text"])
    if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
        break
reply = kc.get_shell_msg(timeout=10)
check("input_reply reaches the cell", "".join(texts) == "hi Ada\n" and reply["content"]["status"] == "ok", texts)

# interrupt (interrupt_mode message: an interrupt_request on the control channel)
msg_id = kc.execute("n := 0\nfor { n++ }")
time.sleep(0.5)
t1 = time.time()
km.interrupt_kernel()
reply = kc.get_shell_msg(timeout=10)
dt = time.time() - t1
check("interrupt for{} within 1s", reply["content"]["status"] == "error" and dt < 1.0, (reply["content"].get("ename"), dt))
reply, outs = run(kc, "n > 0")
check("state survives interrupt", [o[1]["data"]["text/plain"] for o in outs if o[0] == "execute_result"] == ["true"], outs)

# interrupt of a real training call: sft.Train on a tiny Llama model, interrupted once it has
# reported progress (printed by the interpreted callback, streamed from the kernel). The
# trainer stops at its next step boundary and writes a checkpoint saying where it stopped.
ckpt = tempfile.mkdtemp()
setup = open(os.path.join(os.path.dirname(__file__), "train_setup.cell")).read()
reply, outs = run(kc, setup.replace("CHECKPOINT_DIR", json.dumps(ckpt + "/run")), timeout=60)
check("training setup", reply["status"] == "ok", (reply, outs))
msg_id = kc.execute("res, err := sft.Train(display.Context(), model, examples, tc)")
printed = ""
deadline = time.time() + 60
while "step 2\n" not in printed and time.time() < deadline:
    try:
        m = kc.get_iopub_msg(timeout=1)
    except queue.Empty:
        continue
    if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "stream":
        printed += m["content"]["text"]
t1 = time.time()
km.interrupt_kernel()
reply = kc.get_shell_msg(timeout=10)
dt = time.time() - t1
while True:  # the rest of the cell's output, up to idle
    m = kc.get_iopub_msg(timeout=10)
    if m["parent_header"].get("msg_id") == msg_id:
        if m["msg_type"] == "stream":
            printed += m["content"]["text"]
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
check("interrupt of sft.Train answers", reply["content"].get("ename") == "Interrupted" and dt < 1.0, (reply["content"].get("ename"), dt))
state = ckpt + "/run/trainer_state.json"
deadline = time.time() + 30
while not os.path.exists(state) and time.time() < deadline:
    time.sleep(0.01)
time.sleep(0.2)
reported = printed.count("step ")
try:
    stopped = json.load(open(state))["step"]
except (OSError, ValueError) as e:
    stopped = e
check("sft.Train stopped within one step", isinstance(stopped, int) and 2 <= stopped <= reported + 1, (stopped, reported))
reply, outs = run(kc, "len(examples) + tc.Epochs")
check("variables survive the interrupt", [o[1]["data"]["text/plain"] for o in outs if o[0] == "execute_result"] == ["1064"], outs)
shutil.rmtree(ckpt, ignore_errors=True)

# restart: state is gone, kernel answers
km.restart_kernel(now=False)
kc.wait_for_ready(timeout=60)
reply, outs = run(kc, "x")
check("restart clears state", reply["status"] == "error", reply)
reply, outs = run(kc, "2*3")
check("restart answers", [o[1]["data"]["text/plain"] for o in outs if o[0] == "execute_result"] == ["6"], outs)

kc.stop_channels()
km.shutdown_kernel(now=False)
check("shutdown", not km.is_alive())

passed = sum(results)
print("%d passed, %d failed" % (passed, len(results) - passed), flush=True)
sys.exit(0 if passed == len(results) else 1)
