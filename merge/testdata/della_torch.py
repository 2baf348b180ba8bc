"""DELLA and DELLA-linear as mergekit 0.1.4 computes them (sparsify.della_magprune inside
generalized_task_arithmetic.py), in PyTorch, in float32 or bfloat16: the reference for
TestDellaMatchesTorch. mergekit draws its keep mask with torch.bernoulli(probs); here the
uniform draws come from the caller (ordermerge's counter-based streams), and an element is kept
when draw / 2^32 < its probability, which is what a Bernoulli draw with that probability is.

Reads cases until end of input. Each case: one JSON line {"shape", "weights", "densities",
"epsilons", "lambda", "normalize", "rescale", "consensus", "dtype": "bf16" | "f32"}, then the
base and the models as little-endian float32 and one little-endian uint32 draw per element
per model. Writes each merged tensor as little-endian float32.
"""
import json
import math
import sys

import torch


def read(n, dtype):
    raw = sys.stdin.buffer.read(n * 4)
    return torch.frombuffer(bytearray(raw), dtype=dtype)


def magprune(delta, density, epsilon, draws, rescale):
    if density >= 1:
        return delta
    if density <= 0:
        return torch.zeros_like(delta)
    shape = delta.shape
    work = delta if delta.dim() >= 2 else delta.unsqueeze(0)
    # rank along dimension 1, ascending magnitude, in torch's (unstable) sort order
    order = torch.argsort(work.abs(), dim=1, descending=False)
    ranks = order.argsort(dim=1).to(work.dtype) + 1
    lo = ranks.min(dim=1, keepdim=True).values
    hi = ranks.max(dim=1, keepdim=True).values
    norm = ((ranks - lo) / (hi - lo)).clamp(0, 1)
    probs = (density - epsilon) + norm * 2 * epsilon
    u = draws.to(torch.float64).reshape(work.shape) / 2.0**32
    mask = (u < probs.to(torch.float64)).to(work.dtype)
    out = work * mask
    if rescale:
        before = work.abs().sum()
        after = out.abs().sum()
        if not (before < 1e-7 or after < 1e-7):
            out = out * (before / after)
    return out.reshape(shape)


def merge(spec, base, models, draws):
    """Merges one tensor: base and models are float32 tensors of spec["shape"], draws one
    int64 tensor (values below 2^32) of the same number of elements per model."""
    shape = spec["shape"]
    dt = torch.bfloat16 if spec["dtype"] == "bf16" else torch.float32
    base = base.reshape(shape).to(dt)
    deltas = []
    for i, x in enumerate(models):
        d = magprune(x.reshape(shape).to(dt) - base, spec["densities"][i], spec["epsilons"][i],
                     draws[i], spec["rescale"])
        deltas.append(d)
    deltas = torch.stack(deltas, dim=0)
    weights = torch.tensor(spec["weights"], dtype=dt)
    while weights.dim() < deltas.dim():
        weights = weights.unsqueeze(-1)
    wd = deltas * weights
    if spec["consensus"]:
        sign = wd.sign().to(dt)
        majority = (wd.sum(dim=0) >= 0).to(dt) * 2 - 1
        mask = sign == majority
        mixed = (wd * mask).sum(dim=0)
        div = (weights * mask).sum(dim=0)
        div[div == 0] = 1
    else:
        mixed = wd.sum(dim=0)
        div = weights.sum(dim=0)
        div[div.abs() < 1e-8] = 1
    if spec["normalize"]:
        mixed = mixed / div
    if spec["lambda"] != 1:
        mixed = mixed * spec["lambda"]
    return (base + mixed).to(dt).float()


def main():
    while True:
        line = sys.stdin.buffer.readline()
        if not line.strip():
            break
        spec = json.loads(line)
        n = math.prod(spec["shape"])
        k = len(spec["weights"])
        vals = read((k + 1) * n, torch.float32)
        draws = read(k * n, torch.int32).to(torch.int64) & 0xFFFFFFFF
        models = [vals[(i + 1) * n:(i + 2) * n] for i in range(k)]
        out = merge(spec, vals[:n], models, [draws[i * n:(i + 1) * n] for i in range(k)])
        sys.stdout.buffer.write(out.numpy().tobytes())


if __name__ == "__main__":
    main()
