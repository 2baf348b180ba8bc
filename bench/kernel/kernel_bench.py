"""Start-up and round-trip benchmark of the ordermerge kernel against ipykernel.

Both kernels are driven by the same jupyter_client code in the same run:
  start: KernelManager.start_kernel() until the reply to a kernel_info_request sent at once
  round trip: execute_request "1+1" until its execute_reply and the iopub idle status
Reports the median (and p10/p90) over N runs of each.

Usage (Debian's Python, which has jupyter_client and ipykernel):
  go build -o /tmp/ordermerge ./cmd/ordermerge
  /tmp/ordermerge install-kernel --prefix /tmp/om-bench
  JUPYTER_PATH=/tmp/om-bench/share/jupyter /usr/bin/python3 bench/kernel/kernel_bench.py --starts 10 --execs 100
"""
import argparse
import statistics
import time

from jupyter_client.manager import KernelManager


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def start_time(name):
    km = KernelManager(kernel_name=name)
    t0 = time.perf_counter()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    # One kernel_info_request, sent at once: ZeroMQ queues it until the kernel binds, so the
    # reply marks the moment the kernel can serve (wait_for_ready would add its own polling
    # interval to both kernels).
    msg_id = kc.kernel_info()
    while True:
        r = kc.get_shell_msg(timeout=60)
        if r["parent_header"].get("msg_id") == msg_id:
            break
    dt = time.perf_counter() - t0
    kc.wait_for_ready(timeout=60)  # iopub subscription settled before timing round trips
    return dt, km, kc


def round_trip(kc, code):
    t0 = time.perf_counter()
    msg_id = kc.execute(code)
    reply = None
    idle = False
    while reply is None or not idle:
        if reply is None:
            r = kc.get_shell_msg(timeout=10)
            if r["parent_header"].get("msg_id") == msg_id:
                reply = r
        if not idle:
            m = kc.get_iopub_msg(timeout=10)
            if (m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status"
                    and m["content"]["execution_state"] == "idle"):
                idle = True
    dt = time.perf_counter() - t0
    assert reply["content"]["status"] == "ok", reply["content"]
    return dt


def bench(name, starts, execs):
    st = []
    for i in range(starts):
        dt, km, kc = start_time(name)
        st.append(dt)
        if i < starts - 1:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    for _ in range(5):  # warm-up
        round_trip(kc, "1+1")
    rt = [round_trip(kc, "1+1") for _ in range(execs)]
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return st, rt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--execs", type=int, default=100)
    ap.add_argument("--kernels", default="ordermerge,python3")
    a = ap.parse_args()
    res = {}
    for name in a.kernels.split(","):
        st, rt = bench(name, a.starts, a.execs)
        res[name] = (st, rt)
        print("%-11s start median %7.1f ms (p10 %6.1f, p90 %6.1f, n=%d)   1+1 round trip median %6.2f ms (p10 %5.2f, p90 %5.2f, n=%d)" % (
            name, 1e3 * statistics.median(st), 1e3 * pct(st, .1), 1e3 * pct(st, .9), len(st),
            1e3 * statistics.median(rt), 1e3 * pct(rt, .1), 1e3 * pct(rt, .9), len(rt)), flush=True)
    names = list(res)
    if len(names) == 2:
        a0, b0 = res[names[0]], res[names[1]]
        print("ratio %s/%s: start %.2f, round trip %.2f" % (names[0], names[1],
              statistics.median(a0[0]) / statistics.median(b0[0]), statistics.median(a0[1]) / statistics.median(b0[1])))


if __name__ == "__main__":
    main()
