"""The expected output of a della / della_linear merge, computed without ordermerge's code: the
uniform draws from the derivation merge/doc.go documents (SplitMix64 streams keyed by the seed
and the FNV-1a hash of the tensor name), in NumPy, and mergekit's DELLA rule in PyTorch
(merge/testdata/della_torch.py). The reference for TestMergeCLIDella.

Reads one JSON object on stdin: {"seed", "base": folder, "models": [folders], "tensors":
[names], and della_torch's keys "weights", "densities", "epsilons", "lambda", "normalize",
"rescale", "consensus", "dtype"}. Each folder holds one float32 model.safetensors. Writes each
named tensor's merged values as little-endian float32, in order.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "merge", "testdata"))
import della_torch  # noqa: E402

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def mix(z):
    """SplitMix64's output function on a Python int or a NumPy uint64 array."""
    if isinstance(z, int):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def fnv1a(name):
    h = 14695981039346656037
    for c in name.encode():
        h = ((h ^ c) * 1099511628211) & M64
    return h


def draws(seed, name, stream, n):
    """u_s(0..n-1) as doc.go defines them."""
    tensor_key = mix(mix(seed) ^ fnv1a(name))
    key = mix((tensor_key + (stream + 1) * GAMMA) & M64)
    c = np.arange((n + 1) // 2, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = mix(np.uint64(key) + (c + np.uint64(1)) * np.uint64(GAMMA))
    u = np.empty(2 * len(c), dtype=np.int64)
    u[0::2] = (x >> np.uint64(32)).astype(np.int64)
    u[1::2] = (x & np.uint64(0xFFFFFFFF)).astype(np.int64)
    return torch.from_numpy(u[:n])


def load(folder):
    with open(os.path.join(folder, "model.safetensors"), "rb") as f:
        raw = f.read()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    data = raw[8 + size:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (folder, name, e["dtype"])
        a, b = e["data_offsets"]
        out[name] = (e["shape"], torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32))
    return out


def main():
    spec = json.load(sys.stdin)
    base = load(spec["base"])
    models = [load(m) for m in spec["models"]]
    for name in spec["tensors"]:
        shape, b = base[name]
        n = b.numel()
        us = [draws(spec["seed"], name, m, n) for m in range(len(models))]
        out = della_torch.merge(dict(spec, shape=shape), b, [m[name][1] for m in models], us)
        sys.stdout.buffer.write(out.numpy().tobytes())


main()
