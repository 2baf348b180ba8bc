# Peer for BenchmarkAdamWStep (sft/optim_test.go): the same 4M float32 parameters in 8 tensors,
# global-norm clipping + one AdamW update, PyTorch on 2 threads.
# Run: OMP_NUM_THREADS=2 /usr/bin/python3 bench/trainer/adamw_peer.py
import time, torch
torch.set_num_threads(2)
ps = [torch.zeros(512, 1024, requires_grad=True) for _ in range(8)]
for p in ps:
    p.grad = (torch.arange(512*1024, dtype=torch.float32) % 17 * 1e-3).reshape(512, 1024)
for name, kw in [("for-loop", dict(foreach=False)), ("foreach", dict(foreach=True))]:
    opt = torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.0, **kw)
    for _ in range(3):
        torch.nn.utils.clip_grad_norm_(ps, 1.0); opt.step()
    t = time.perf_counter(); n = 20
    for _ in range(n):
        torch.nn.utils.clip_grad_norm_(ps, 1.0); opt.step()
    print(f"torch AdamW {name} + clip_grad_norm_: {(time.perf_counter()-t)/n*1e3:.1f} ms/step (4M params)")
