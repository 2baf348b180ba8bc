"""Editor help, magics, history and output size of the installed ordermerge kernel, checked
with Debian's jupyter_client; history replies are compared with ipykernel's (the reference)
for the same inputs when ipykernel is installed.

Run by kernel/editor_jupyter_test.go with JUPYTER_PATH pointing at a temporary kernelspec.
Prints one line per check and a final "N passed, M failed" line; exits non-zero on any failure.
"""
import json
import os
import sys
import tempfile

from jupyter_client.manager import KernelManager

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)[:2000]), flush=True)


def run(kc, code, timeout=60):
    outs = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: outs.append((m["msg_type"], m["content"])))
    return reply["content"], outs


def start(name, env=None):
    km = KernelManager(kernel_name=name)
    km.start_kernel(env=env if env is not None else dict(os.environ))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def results_of(outs, kind="execute_result"):
    return [o[1]["data"]["text/plain"] for o in outs if o[0] == kind]


def stream(outs):
    return "".join(o[1]["text"] for o in outs if o[0] == "stream")


km, kc = start("ordermerge")

# Inspect inside a call's parentheses, and the standard library's docs.
c = kc.inspect("strings.ToUpper()", 16, reply=True)["content"]
text = c["data"].get("text/plain", "")
check("inspect inside parentheses: signature with parameter names", c["found"] and "func ToUpper(s string) string" in text, c)
check("inspect: standard-library doc text", "ToUpper returns s with all Unicode letters mapped to their upper case." in text, text)
c = kc.inspect("x := strings.Split(s, ", 21, reply=True)["content"]
check("inspect among the arguments", c["found"] and "func Split(s, sep string) []string" in c["data"]["text/plain"], c)
c = kc.inspect("time.Duration", 13, reply=True)["content"]
check("inspect a standard-library type", c["found"] and "type Duration int64" in c["data"]["text/plain"], c)

# Methods of a type declared in a cell.
reply, outs = run(kc, "type acc struct{ Total int }\nfunc (a *acc) Add(n int) { a.Total += n }\nfunc (a acc) Mean(k int) float64 { return float64(a.Total) / float64(k) }\nsum := &acc{}")
c = kc.complete("sum.", 4, reply=True)["content"]
check("complete methods of a cell type", reply["status"] == "ok" and c["matches"] == ["Add", "Mean", "Total"], c)
c = kc.inspect("sum.Mean(", 9, reply=True)["content"]
check("inspect a cell method", c["found"] and c["data"]["text/plain"] == "func (a acc) Mean(k int) float64", c)

# Structs with field names.
reply, outs = run(kc, "type pt struct{ X, Y int; label string }\npt{1, 2, \"a\"}")
check("struct shows field names", results_of(outs) == ["{X:1 Y:2 label:a}"], outs)

# Magics.
reply, outs = run(kc, '%time strings.Repeat("ab", 3)')
out = stream(outs)
check("%time shows the value", results_of(outs) == ['"ababab"'] and out.startswith("CPU times: user ") and "\nWall time: " in out, outs)
reply, outs = run(kc, "%%time\nn := 0\nfor i := 0; i < 1000; i++ { n += i }\nn")
check("%%time", results_of(outs) == ["499500"] and "Wall time: " in stream(outs), outs)
d = tempfile.mkdtemp()
path = os.path.join(d, "notes.txt")
reply, outs = run(kc, "%%writefile " + path + "\nfirst line\nsecond line")
check("%%writefile", stream(outs) == "Writing %s\n" % path and open(path).read() == "first line\nsecond line\n", (outs, open(path).read() if os.path.exists(path) else None))
reply, outs = run(kc, "%%writefile -a " + path + "\nthird")
check("%%writefile -a", stream(outs) == "Appending to %s\n" % path and open(path).read().endswith("second line\nthird\n"), outs)
reply, outs = run(kc, "%lsmagic")
out = stream(outs)
check("%lsmagic", all(m in out for m in ("%time", "%env", "%who", "%%time", "%%writefile", "%lsmagic")), out)
reply, outs = run(kc, "%env ORDERMERGE_EDITOR_CHECK=on")
reply2, outs2 = run(kc, 'os.Getenv("ORDERMERGE_EDITOR_CHECK")')
check("%env", stream(outs) == "env: ORDERMERGE_EDITOR_CHECK=on\n" and results_of(outs2) == ['"on"'], (outs, outs2))
for cell in ("?strings.ToUpper", "strings.ToUpper?"):
    reply, outs = run(kc, cell)
    shown = results_of(outs, "display_data")
    check(cell, reply["status"] == "ok" and len(shown) == 1 and "func ToUpper(s string) string" in shown[0], outs)

# text/plain is summarised: a million-element slice and a 1000x1000 image.
reply, outs = run(kc, "big := make([]float64, 1000000)\nbig")
check("1M-element slice: short text/plain", results_of(outs) == ["[0 0 0 ... 0 0 0]"], [str(o)[:300] for o in outs])
reply, outs = run(kc, "image.NewRGBA(image.Rect(0, 0, 1000, 1000))")
data = [o[1]["data"] for o in outs if o[0] == "execute_result"]
check("1000x1000 image: PNG with a one-line text/plain", len(data) == 1 and data[0].get("image/png", "").startswith("iVBOR")
      and len(data[0]["text/plain"]) < 200, [str(o)[:300] for o in outs])
reply, outs = run(kc, "fmt.Println(len(fmt.Sprint(big)))")
check("full data when asked (fmt)", stream(outs) == "%d\n" % (2 * 1000000 + 1), stream(outs))

# One-line error handling: a failed must is the cell's error, at its line.
reply, outs = run(kc, 'v := must(strconv.Atoi("x"))\nfmt.Println("not reached", v)')
errs = [o[1] for o in outs if o[0] == "error"]
check("must: the cell fails with the error", reply["status"] == "error" and len(errs) == 1 and errs[0]["ename"] == "*strconv.NumError"
      and 'parsing "x": invalid syntax' in errs[0]["evalue"] and "not reached" not in stream(outs), outs)

kc.stop_channels()
km.shutdown_kernel(now=True)


# History: the same inputs in ours and in ipykernel, then the same requests to both.
cells = ["1+1", "2+2", "1+1", "10+1", "3*3", "1+1"]
queries = [
    dict(hist_access_type="search", pattern="1*"),
    dict(hist_access_type="search", pattern="1*", unique=True),
    dict(hist_access_type="search", pattern="1*", n=2),
    dict(hist_access_type="search", pattern="*+1", unique=True, n=1),
    dict(hist_access_type="search", pattern="?+?"),
    dict(hist_access_type="search", pattern="[23]*"),
    dict(hist_access_type="range", session=0, start=2, stop=5),
    dict(hist_access_type="range", session=0, start=4),
    dict(hist_access_type="tail", n=2),
]
# What IPython 8's HistoryManager answers (checked against ipykernel below when it is installed).
expected = [
    [(1, "1+1"), (3, "1+1"), (4, "10+1"), (6, "1+1")],
    [(4, "10+1"), (6, "1+1")],
    [(4, "10+1"), (6, "1+1")],
    [(6, "1+1")],
    [(1, "1+1"), (2, "2+2"), (3, "1+1"), (6, "1+1")],
    [(2, "2+2"), (5, "3*3")],
    [(2, "2+2"), (3, "1+1"), (4, "10+1")],
    [(4, "10+1"), (5, "3*3"), (6, "1+1")],
    [(5, "3*3"), (6, "1+1")],
]


def history_of(name):
    env = dict(os.environ, IPYTHONDIR=tempfile.mkdtemp())
    km, kc = start(name, env)
    for code in cells:
        run(kc, code)
    answers = []
    for q in queries:
        q = dict(q)
        kind = q.pop("hist_access_type")
        kc.history(raw=True, output=False, hist_access_type=kind, **q)
        r = kc.get_shell_msg(timeout=10)["content"]
        answers.append([(line, src) for _, line, src in r["history"]])
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return answers


ours = history_of("ordermerge")
for q, got, want in zip(queries, ours, expected):
    check("history %s" % json.dumps(q, sort_keys=True), got == want, (got, want))
try:
    import ipykernel  # noqa: F401
    have_ipykernel = True
except ImportError:
    have_ipykernel = False
if have_ipykernel:
    ref = history_of("python3")
    for q, got, want in zip(queries, ours, ref):
        check("history as ipykernel: %s" % json.dumps(q, sort_keys=True), got == want, (got, want))
else:
    print("ipykernel not installed: history not compared with it", flush=True)

passed = sum(results)
print("%d passed, %d failed" % (passed, len(results) - passed), flush=True)
sys.exit(0 if passed == len(results) else 1)
