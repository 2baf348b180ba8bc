"""PyTorch peer of bench/train: trains the same Llama architecture on the same batch shape.

Forward (transformers' eager Llama computation: RMSNorm, rotate_half RoPE, causal softmax
attention with repeat_kv, SwiGLU MLP, LM head), per-sample masked mean cross-entropy, backward,
global-norm gradient clipping at 1 and a torch.optim.AdamW step -- what a user fine-tuning a
Llama would run, and what ordermerge's trainer does per step. On a GPU (--device cuda) the
attention is torch's scaled_dot_product_attention (flash attention where available) and
--precision bf16 runs the forward under torch.autocast(bfloat16), PyTorch's mixed precision.

usage: torch_train.py --dim 256 --layers 4 --heads 8 --kv-heads 8 --ffn 704 --vocab 512
                      --ctx 128 --batch 16 --steps 5 --warmup 1 --threads 2
Prints one JSON line: tokens_per_s, step_s (each timed step), peak_rss_mb, threads.
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn.functional as F


class Llama(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        D, H, KV, FF, V = a.dim, a.heads, a.kv_heads, a.ffn, a.vocab
        hd = D // H
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.embed = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList()
        for _ in range(a.layers):
            l = torch.nn.Module()
            l.ln1 = torch.nn.Parameter(torch.ones(D))
            l.q, l.k, l.v, l.o = lin(D, H * hd), lin(D, KV * hd), lin(D, KV * hd), lin(H * hd, D)
            l.ln2 = torch.nn.Parameter(torch.ones(D))
            l.gate, l.up, l.down = lin(D, FF), lin(D, FF), lin(FF, D)
            self.layers.append(l)
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.head = lin(D, V)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, 0, 0.02)
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        fr = torch.outer(torch.arange(a.ctx).float(), inv)
        emb = torch.cat((fr, fr), -1)
        self.register_buffer("cos", emb.cos()[None, None])
        self.register_buffer("sin", emb.sin()[None, None])
        self.register_buffer("mask", torch.full((a.ctx, a.ctx), float("-inf")).triu(1))

    @staticmethod
    def rms(x, w, eps=1e-6):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    @staticmethod
    def rot(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), -1)

    def forward(self, idx):
        a = self.a
        B, T = idx.shape
        H, KV, hd = a.heads, a.kv_heads, a.dim // a.heads
        cos, sin = self.cos[:, :, :T], self.sin[:, :, :T]
        x = self.embed(idx)
        for l in self.layers:
            h = self.rms(x, l.ln1)
            q = l.q(h).view(B, T, H, hd).transpose(1, 2)
            k = l.k(h).view(B, T, KV, hd).transpose(1, 2)
            v = l.v(h).view(B, T, KV, hd).transpose(1, 2)
            q = q * cos + self.rot(q) * sin
            k = k * cos + self.rot(k) * sin
            if KV != H:
                k = k.repeat_interleave(H // KV, 1)
                v = v.repeat_interleave(H // KV, 1)
            if a.sdpa:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(hd) + self.mask[:T, :T], -1)
                y = att @ v
            x = x + l.o(y.transpose(1, 2).reshape(B, T, a.dim))
            h = self.rms(x, l.ln2)
            x = x + l.down(F.silu(l.gate(h)) * l.up(h))
        return self.head(self.rms(x, self.norm))


def main():
    p = argparse.ArgumentParser()
    for k, v in dict(dim=256, layers=4, heads=8, kv_heads=8, ffn=704, vocab=512, ctx=128, batch=16, steps=5, warmup=1, threads=2, seed=1).items():
        p.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="f32", choices=["f32", "tf32", "bf16"])
    a = p.parse_args()
    dev = torch.device(a.device)
    a.sdpa = dev.type == "cuda"
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
        torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
    model = Llama(a).to(dev)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    g = torch.Generator().manual_seed(a.seed)
    idx = torch.randint(0, a.vocab, (a.batch, a.ctx + 1), generator=g).to(dev)
    x, y = idx[:, :-1], idx[:, 1:]
    w = torch.full((a.batch,), 1.0 / a.batch, device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, losses = [], []
    cpu0 = 0.0
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            cpu0 = time.process_time()
        sync()
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = model(x)
        ce = F.cross_entropy(logits.float().reshape(-1, a.vocab), y.reshape(-1), reduction="none").view(a.batch, a.ctx)
        loss = (ce.mean(1) * w).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync()
        dt = time.perf_counter() - t0
        losses.append(loss.item())
        if step >= a.warmup:
            times.append(dt)
    tokens = a.batch * a.ctx
    print(json.dumps({
        "tokens_per_s": tokens * len(times) / sum(times),
        "cpu_s_per_step": (time.process_time() - cpu0) / len(times),
        "step_s": times,
        "loss_first": losses[0], "loss_last": losses[-1],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "peak_device_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
