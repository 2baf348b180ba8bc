"""Checks the kernel's execution path through Debian's jupyter_client, one item per run.

Run by kernel/execution_test.go as `execution_check.py ITEM` with JUPYTER_PATH pointing at a
temporary kernelspec. Prints one line per check; exits non-zero on any failure.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

failures = []


def check(name, ok, detail=""):
    if not ok:
        failures.append(name)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + repr(detail)), flush=True)


def start():
    km = KernelManager(kernel_name="ordermerge")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def run(kc, code, timeout=60):
    """Executes code; returns (reply content, [(msg_type, content)] of its iopub messages)."""
    outs = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: outs.append((m["msg_type"], m["content"])))
    return reply["content"], outs


def stdout(outs):
    return "".join(o[1]["text"] for o in outs if o[0] == "stream" and o[1]["name"] == "stdout")


def results(outs):
    return [o[1]["data"]["text/plain"] for o in outs if o[0] == "execute_result"]


def errors(outs):
    return [o[1] for o in outs if o[0] == "error"]


def drain_iopub(kc, seconds):
    """Returns every iopub message that arrives within seconds."""
    msgs = []
    end = time.time() + seconds
    while time.time() < end:
        try:
            msgs.append(kc.get_iopub_msg(timeout=max(0.05, end - time.time())))
        except Exception:
            pass
    return msgs


def interrupt_blocking_call():
    """Item 1: an interrupt during time.Sleep stops the cell; nothing after it runs."""
    km, kc = start()
    path = os.path.join(tempfile.mkdtemp(), "late.txt")
    run(kc, "x := 1")
    code = 'time.Sleep(2 * time.Second)\nfmt.Println("LATE")\nx = 5\nos.WriteFile(%r, []byte("late"), 0o644)' % path
    code = code.replace("'", '"')
    msg_id = kc.execute(code)
    time.sleep(0.5)  # well inside the sleep
    t0 = time.time()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=10)
    dt = time.time() - t0
    check("interrupted cell answers at once", reply["parent_header"]["msg_id"] == msg_id and reply["content"].get("ename") == "Interrupted" and dt < 1.0,
          (reply["content"].get("ename"), dt))
    early = drain_iopub(kc, 0.1)
    reply, outs = run(kc, 'fmt.Println("next")\nx')
    check("next cell: only its own output", stdout(outs) == "next\n", outs)
    check("next cell: x unchanged", results(outs) == ["1"], outs)
    late = drain_iopub(kc, 2.5)
    texts = [m["content"].get("text", "") for m in early + late if m["msg_type"] == "stream"]
    check("no output after the interrupt point", not any("LATE" in t for t in texts), texts)
    check("no file written after the interrupt point", not os.path.exists(path), path)
    reply, outs = run(kc, "x")
    check("x still 1 after the sleep would have ended", results(outs) == ["1"], outs)
    km.shutdown_kernel(now=True)


def parent_death():
    """Item 2: the kernel exits within 5 s of its parent's SIGKILL (JPY_PARENT_PID)."""
    # The parent is a separate Python that starts the kernel and then is killed with SIGKILL;
    # it reports the kernel's pid on stdout.
    parent_code = r'''
import sys, time
from jupyter_client.manager import KernelManager
km = KernelManager(kernel_name="ordermerge")
km.start_kernel()
kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=60)
kc.execute_interactive("big := make([]byte, 64<<20)\nlen(big)", timeout=60, output_hook=lambda m: None)
print(km.provisioner.pid if hasattr(km, "provisioner") and km.provisioner else km.kernel.pid, flush=True)
time.sleep(600)
'''
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    line = parent.stdout.readline().strip()
    kpid = int(line)
    alive = os.path.exists("/proc/%d" % kpid)
    check("kernel running under its parent", alive, kpid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    t0 = time.time()
    gone = False
    while time.time() - t0 < 5.0:
        try:
            with open("/proc/%d/stat" % kpid) as f:
                state = f.read().split(")")[-1].split()[0]
            if state == "Z":  # exited, waiting for init to reap it
                gone = True
                break
        except FileNotFoundError:
            gone = True
            break
        time.sleep(0.05)
    check("kernel exits within 5 s of its parent's SIGKILL", gone, "%.1fs" % (time.time() - t0))
    if not gone:
        os.kill(kpid, signal.SIGKILL)


def worker_panic():
    """Item 3: a panic on a compiled worker goroutine fails the cell, not the kernel."""
    km, kc = start()
    run(kc, 'kept := "still here"')
    # A bias op given x one element short: the last rows are on a worker goroutine of the
    # CPU backend's parallel-for, which slices past the end.
    code = "cpu.BiasForward(cpu.NewGoBackend(4), make([]float32, 64*16-1), make([]float32, 16), 64, 16)"
    reply, outs = run(kc, code)
    errs = errors(outs)
    check("worker panic is the cell's error", reply["status"] == "error" and len(errs) == 1 and "slice bounds out of range" in errs[0]["evalue"], (reply, outs))
    check("kernel alive after the worker panic", km.is_alive())
    reply, outs = run(kc, "kept")
    check("variables survive the worker panic", results(outs) == ['"still here"'], outs)
    km.shutdown_kernel(now=True)


# Each case: code, the error's evalue must contain this, and the line:col the traceback names.
RUNTIME_ERRORS = [
    ("index in a function", "func get(xs []int, i int) int {\n\treturn xs[i]\n}\nget([]int{1, 2, 3}, 5)",
     "runtime error: index out of range [5] with length 3", "2:9"),
    ("index at the top level", "xs := []int{1, 2, 3}\nfmt.Println(len(xs))\nxs[5]",
     "runtime error: index out of range [5] with length 3", "3:1"),
    ("nil pointer", "type node struct{ next *node; v int }\nvar n *node\nfmt.Println(n.v)",
     "runtime error: invalid memory address or nil pointer dereference", "3:13"),
    ("failed type assertion", "var v any = \"s\"\nk := v.(int)\n_ = k",
     "interface conversion: interface {} is string, not int", "2:6"),
    ("constant overflow", "1 << 70", "cannot use 1 << 70 (untyped int constant 1180591620717411303424)", "1:1"),
    ("constant overflow in a definition", "x := 1 << 70", "cannot use 1 << 70 (untyped int constant 1180591620717411303424) as int value (overflows)", "1:6"),
    ("assignment count", "a, b := 1", "assignment mismatch: 2 variables but 1 value", "1:1"),
]


def runtime_errors():
    """Item 4: runtime errors read like Go's and point at the cell's line and column."""
    km, kc = start()
    for name, code, want, pos in RUNTIME_ERRORS:
        reply, outs = run(kc, code)
        errs = errors(outs)
        ok = reply["status"] == "error" and len(errs) == 1
        tb = "\n".join(errs[0]["traceback"]) if ok else ""
        check(name + ": message", ok and want in errs[0]["evalue"], errs)
        check(name + ": position " + pos, ok and (pos + ":") in tb, tb)
    # A short stack of cell lines and function names for a panic inside nested calls.
    reply, outs = run(kc, "func inner(xs []int) int { return xs[3] }\nfunc outer() int {\n\treturn inner([]int{1})\n}\nouter()")
    errs = errors(outs)
    tb = "\n".join(errs[0]["traceback"]) if errs else ""
    check("stack names the functions", "1:35: in func inner" in tb and "3:15: in func outer" in tb and "5:1: in the cell" in tb, tb)
    # Index operands of any form (calls, map lookups, in loops and closures), each evaluated once.
    run(kc, "calls := 0\nfunc data() []int { calls++; return []int{1, 2, 3} }\nfunc at() int { calls++; return 5 }")
    reply, outs = run(kc, "func pick() int {\n\tfor i := 0; i < 2; i++ {\n\t\t_ = data()[i]\n\t}\n\treturn data()[at()]\n}\npick()")
    errs = errors(outs)
    tb = "\n".join(errs[0]["traceback"]) if errs else ""
    check("index of calls: message", errs and errs[0]["evalue"] == "runtime error: index out of range [5] with length 3", errs)
    check("index of calls: position 5:9", "5:9: in func pick" in tb, tb)
    reply, outs = run(kc, "calls")
    check("index operands ran once", results(outs) == ["4"], outs)
    reply, outs = run(kc, "m := map[string][]int{\"a\": {1}}\nfunc() int {\n\treturn m[\"a\"][at()]\n}()")
    errs = errors(outs)
    tb = "\n".join(errs[0]["traceback"]) if errs else ""
    check("index of a map lookup in a closure: message", errs and errs[0]["evalue"] == "runtime error: index out of range [5] with length 1", errs)
    check("index of a map lookup in a closure: position 3:9", "3:9: in a function literal of the cell" in tb, tb)
    km.shutdown_kernel(now=True)


def failed_cell_names():
    """Item 5: a failed or interrupted cell defines no new names; old ones keep their values."""
    km, kc = start()
    run(kc, "old := 7")
    reply, outs = run(kc, "fresh := 3\nold := 8\nundefinedThing()")
    check("compile error fails the cell", reply["status"] == "error", reply)
    reply, outs = run(kc, "fresh")
    errs = errors(outs)
    check("a failed cell's new name is undefined", len(errs) == 1 and "undefined: fresh" in errs[0]["evalue"], outs)
    reply, outs = run(kc, "old")
    check("an existing name keeps its value", results(outs) == ["7"], outs)
    # interrupted before a definition ran
    msg_id = kc.execute("time.Sleep(2 * time.Second)\nlater := 5\nold = 9")
    time.sleep(0.4)
    km.interrupt_kernel()
    kc.get_shell_msg(timeout=10)
    reply, outs = run(kc, "later")
    errs = errors(outs)
    check("a name defined after the interrupt point is undefined", len(errs) == 1 and "undefined: later" in errs[0]["evalue"], outs)
    reply, outs = run(kc, "old")
    check("an existing name keeps its value after an interrupt", results(outs) == ["7"], outs)
    reply, outs = run(kc, "fresh := \"again\"\nfresh")
    check("the name can be defined again", results(outs) == ['"again"'], outs)
    # A failed cell that declares an existing function or type again leaves the old one.
    run(kc, "func f() int { return 1 }\ntype T struct{ A int }")
    for how, code in [("compile error", "func f() int { return 2 }\ntype T struct{ B string }\nundefinedThing()"),
                      ("panic", "func f() int { return 3 }\ntype T struct{ B string }\npanic(\"boom\")")]:
        reply, outs = run(kc, code)
        check("redefining cell fails (%s)" % how, reply["status"] == "error", reply)
        reply, outs = run(kc, "f()")
        check("old func in force after a %s" % how, results(outs) == ["1"], outs)
        reply, outs = run(kc, "T{A: 4}")
        check("old type in force after a %s" % how, results(outs) == ["{A:4}"], outs)
    # A type only a failed cell declared: the same declaration again defines it, another says why not.
    run(kc, "type V struct{ A int }\nundefinedThing()")
    reply, outs = run(kc, "type V struct{ B string }")
    errs = errors(outs)
    check("a different declaration of a failed cell's type is refused", reply["status"] == "error" and errs and "by a cell that failed" in errs[0]["evalue"], outs)
    reply, outs = run(kc, "type V struct{ A int }\nV{A: 5}")
    check("the same declaration defines it", results(outs) == ["{A:5}"], outs)
    km.shutdown_kernel(now=True)


def unchecked_error():
    """Item 8: a cell's final call whose error result nothing checks fails the cell when the error is not nil."""
    km, kc = start()
    run(kc, "func load(name string) ([]byte, error) { return os.ReadFile(name) }")
    reply, outs = run(kc, "path := \"/nonexistent/ordermerge\"\nload(path)")
    errs = errors(outs)
    tb = "\n".join(errs[0]["traceback"]) if errs else ""
    check("unchecked final error is an error reply", reply["status"] == "error" and len(errs) == 1, (reply, outs))
    check("its name and message are the error's", errs and errs[0]["ename"] == "*fs.PathError" and "no such file or directory" in errs[0]["evalue"], errs)
    check("it points at the call", "line 2, column 1" in tb and "nothing checked it" in tb, tb)
    reply, outs = run(kc, "strconv.Atoi(\"12\")")
    check("a nil final error is a quiet success", reply["status"] == "ok" and not errors(outs) and not results(outs), outs)
    reply, outs = run(kc, "must(load(path))")
    errs = errors(outs)
    tb = "\n".join(errs[0]["traceback"]) if errs else ""
    check("must(...) cells are as before", reply["status"] == "error" and errs and "no such file" in errs[0]["evalue"] and "nothing checked it" not in tb, errs)
    reply, outs = run(kc, "fmt.Errorf(\"a value %d\", 1)")
    check("a single error result is still shown as the value", reply["status"] == "ok" and results(outs) == ["a value 1"], outs)
    km.shutdown_kernel(now=True)


def kernel_info():
    """Item 9: kernel_info reports the Go version the interpreter implements."""
    km, kc = start()
    info = kc.kernel_info(reply=True)["content"]
    want = sys.argv[2]
    check("language_info.version", info["language_info"]["version"] == want, (info["language_info"], want))
    km.shutdown_kernel(now=True)


ITEMS = {f.__name__: f for f in [interrupt_blocking_call, parent_death, worker_panic, runtime_errors, failed_cell_names, unchecked_error, kernel_info]}

if __name__ == "__main__":
    ITEMS[sys.argv[1]]()
    print("%d failed" % len(failures), flush=True)
    sys.exit(1 if failures else 0)
