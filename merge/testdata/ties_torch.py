"""TIES as mergekit 0.1.4 computes it (generalized_task_arithmetic.py with sparsify.magnitude),
in PyTorch, in float32 or bfloat16: the reference for TestTIESMatchesTorch.

Reads one JSON line {"n", "k", "weights", "densities", "dtype": "bf16" | "f32"}, then the base
and the k models as little-endian float32; writes the merged tensor as little-endian float32.
"""
import json
import sys

import torch

spec = json.loads(sys.stdin.buffer.readline())
n, k = spec["n"], spec["k"]
vals = torch.frombuffer(bytearray(sys.stdin.buffer.read()), dtype=torch.float32)
dt = torch.bfloat16 if spec["dtype"] == "bf16" else torch.float32
base = vals[:n].to(dt)
deltas = []
for i, d in enumerate(spec["densities"]):
    delta = vals[(i + 1) * n:(i + 2) * n].to(dt) - base
    if d < 1:
        keep = int(d * delta.numel())
        mask = torch.zeros_like(delta)
        mag = delta.abs().view(-1).float()
        mask.view(-1)[torch.argsort(mag, descending=True)[:keep]] = 1
        delta = delta * mask
    deltas.append(delta)
deltas = torch.stack(deltas, dim=0)
weights = torch.tensor(spec["weights"], dtype=deltas.dtype).unsqueeze(-1)
wd = deltas * weights
sign = wd.sign().to(base.dtype)
majority = (wd.sum(dim=0) >= 0).to(base.dtype) * 2 - 1
mask = sign == majority
mixed = (wd * mask).sum(dim=0)
div = (weights * mask).sum(dim=0)
div[div == 0] = 1
mixed /= div
sys.stdout.buffer.write((base + mixed).to(base.dtype).float().numpy().tobytes())
