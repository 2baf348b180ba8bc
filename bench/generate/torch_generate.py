"""PyTorch peer of bench/generate: greedy decoding with a KV cache on the same Llama.

The model is bench/train/torch_train.py's transcription of transformers' Llama (RMSNorm,
rotate_half RoPE, grouped KV heads, SwiGLU). Prompts are prefilled in one pass; then each step
feeds one token per sequence, appends its keys and values to a preallocated cache, attends
over the cache (scaled_dot_product_attention), and takes the argmax on the device -- the loop a
user writes (or transformers' generate with its static cache). --precision bf16 runs under
torch.autocast(bfloat16). Prints one JSON line.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

# torch_train.py sits beside this script in the GPU check's folder, in bench/train in the tree.
here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.join(here, "..", "train")]
from torch_train import Llama as TrainLlama  # noqa: E402

rms, rot = TrainLlama.rms, TrainLlama.rot


class Llama(torch.nn.Module):
    def __init__(self, a, max_len):
        super().__init__()
        D, H, KV, FF, V = a.dim, a.heads, a.kv_heads, a.ffn, a.vocab
        self.H, self.KV, self.hd = H, KV, D // H
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.embed = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList()
        for _ in range(a.layers):
            l = torch.nn.Module()
            l.ln1, l.ln2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
            l.q, l.k, l.v, l.o = lin(D, H * self.hd), lin(D, KV * self.hd), lin(D, KV * self.hd), lin(H * self.hd, D)
            l.gate, l.up, l.down = lin(D, FF), lin(D, FF), lin(FF, D)
            self.layers.append(l)
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.head = lin(D, V)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, 0, 0.02)
        inv = 1.0 / (10000.0 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        fr = torch.outer(torch.arange(max_len).float(), inv)
        emb = torch.cat((fr, fr), -1)
        self.register_buffer("cos", emb.cos())
        self.register_buffer("sin", emb.sin())

    def forward(self, idx, pos, kc, vc):
        """idx [B, T] at positions pos..pos+T-1; kc/vc: per layer [B, KV, L, hd] caches."""
        B, T = idx.shape
        cos, sin = self.cos[pos:pos + T][None, None], self.sin[pos:pos + T][None, None]
        x = self.embed(idx)
        for i, l in enumerate(self.layers):
            h = rms(x, l.ln1)
            q = l.q(h).view(B, T, self.H, self.hd).transpose(1, 2)
            k = l.k(h).view(B, T, self.KV, self.hd).transpose(1, 2)
            v = l.v(h).view(B, T, self.KV, self.hd).transpose(1, 2)
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            kc[i][:, :, pos:pos + T] = k
            vc[i][:, :, pos:pos + T] = v
            K, V = kc[i][:, :, :pos + T], vc[i][:, :, :pos + T]
            if self.KV != self.H:
                K, V = K.repeat_interleave(self.H // self.KV, 1), V.repeat_interleave(self.H // self.KV, 1)
            if hasattr(F, "scaled_dot_product_attention"):
                y = F.scaled_dot_product_attention(q, K, V, is_causal=T > 1)
            else:  # torch < 2.0
                att = (q @ K.transpose(2, 3)) / math.sqrt(self.hd)
                if T > 1:
                    att = att + torch.full((T, T), float("-inf"), device=q.device).triu(1)
                y = torch.softmax(att.float(), -1).to(V.dtype) @ V
            x = x + l.o(y.transpose(1, 2).reshape(B, T, -1))
            h = rms(x, l.ln2)
            x = x + l.down(F.silu(l.gate(h)) * l.up(h))
        return self.head(rms(x[:, -1:], self.norm))[:, -1]


def main():
    p = argparse.ArgumentParser()
    for k, v in dict(dim=256, layers=4, heads=8, kv_heads=8, ffn=704, vocab=512, batch=8, prompt=128, new=128, seed=1).items():
        p.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="f32", choices=["f32", "tf32", "bf16"])
    a = p.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(a.seed)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
    L = a.prompt + a.new
    with torch.device(dev):  # initialised where it runs: a 1B model's init on the host takes most of a minute
        model = Llama(a, L).eval()
    kvh = a.dim // a.heads
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    idx = torch.randint(0, a.vocab, (a.batch, a.prompt), device=dev)

    def run():
        kc = [torch.zeros(a.batch, a.kv_heads, L, kvh, device=dev) for _ in model.layers]
        vc = [torch.zeros(a.batch, a.kv_heads, L, kvh, device=dev) for _ in model.layers]
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            sync()
            t0 = time.perf_counter()
            nxt = model(idx, 0, kc, vc).argmax(-1)
            sync()
            t1 = time.perf_counter()
            for s in range(a.new - 1):
                nxt = model(nxt[:, None], a.prompt + s, kc, vc).argmax(-1)
            sync()
            t2 = time.perf_counter()
        return t1 - t0, t2 - t1

    run()  # warm-up: kernels, allocator
    prefill, decode = run()
    print(json.dumps({"prefill_s": prefill, "decode_s": decode, "decode_tokens_per_s": a.batch * (a.new - 1) / decode,
                      "peak_device_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0}))


if __name__ == "__main__":
    main()
