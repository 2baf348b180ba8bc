"""Reference Llama-family forward/backward in plain PyTorch, for model/llama's tests.

It follows transformers' modeling files operation by operation -- LlamaForCausalLM
(modeling_llama.py) and the families that differ from it in small ways: MistralForCausalLM
(sliding-window attention), Qwen2ForCausalLM (q/k/v biases), Qwen3ForCausalLM (per-head RMSNorm
of q and k before RoPE, head_dim from the config) -- with RMSNorm in float32, rotate_half RoPE
with the inverse frequencies of ROPE_INIT_FUNCTIONS (default, linear, dynamic, llama3),
repeat_kv for grouped KV heads, causal softmax attention, SwiGLU MLP, tied or untied head, and
the attention_bias of Llama -- without importing transformers (not installed here).

usage: llama_reference.py CHECKPOINT_DIR BATCH_JSON OUT_SAFETENSORS

BATCH_JSON: {"B": .., "T": .., "inputs": [...], "targets": [...], "weights": [...]}; a negative
target masks its position. Output tensors: "logits" [B, T, V], "losses" [B] (each sample's mean
loss over its unmasked targets), and "grad.NAME" for every parameter: the gradient of
sum_b weights[b] * losses[b].
"""
import json
import math
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[lo:hi]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).to(torch.float32)
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def inv_freq_of(cfg, hd):
    """transformers' ROPE_INIT_FUNCTIONS (modeling_rope_utils.py) for the supported types."""
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "linear":
        inv = inv / rs["factor"]
    elif kind == "llama3":  # _compute_llama3_parameters
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        inv_llama = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_llama / factor + smooth * inv_llama
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        inv = torch.where(medium, smoothed, inv_llama)
    # "dynamic" (NTK) equals the default up to max_position_embeddings.
    return inv


def forward(cfg, p, inputs):
    B, T = inputs.shape
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    hd, eps = cfg.get("head_dim") or D // H, cfg["rms_norm_eps"]
    inv_freq = inv_freq_of(cfg, hd)
    freqs = torch.outer(torch.arange(T).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    mask = torch.full((T, T), float("-inf")).triu(1)
    window = cfg.get("sliding_window") if cfg.get("model_type") == "mistral" else None
    if window:  # Mistral: key j is seen from query i only when i - j < sliding_window
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        mask = mask.masked_fill(i - j >= window, float("-inf"))
    x = p["model.embed_tokens.weight"][inputs]

    def proj(h, name):
        y = h @ p[name + ".weight"].T
        if name + ".bias" in p:
            y = y + p[name + ".bias"]
        return y

    for l in range(cfg["num_hidden_layers"]):
        pre = "model.layers.%d." % l
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = proj(h, pre + "self_attn.q_proj").view(B, T, H, hd)
        k = proj(h, pre + "self_attn.k_proj").view(B, T, KV, hd)
        v = proj(h, pre + "self_attn.v_proj").view(B, T, KV, hd).transpose(1, 2)
        if pre + "self_attn.q_norm.weight" in p:  # Qwen3: per-head norms before RoPE
            q = rms_norm(q, p[pre + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, p[pre + "self_attn.k_norm.weight"], eps)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)  # repeat_kv
        v = v.repeat_interleave(H // KV, dim=1)
        att = (q @ k.transpose(2, 3)) / math.sqrt(hd) + mask
        att = torch.softmax(att, dim=-1, dtype=torch.float32)
        o = (att @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + proj(o, pre + "self_attn.o_proj")
        h = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        g = h @ p[pre + "mlp.gate_proj.weight"].T
        u = h @ p[pre + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ p[pre + "mlp.down_proj.weight"].T
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else p["lm_head.weight"]
    return x @ head.T


def main():
    ck, batch_path, out_path = sys.argv[1:4]
    cfg = json.load(open(ck + "/config.json"))
    p = read_safetensors(ck + "/model.safetensors")
    for t in p.values():
        t.requires_grad_(True)
    b = json.load(open(batch_path))
    B, T = b["B"], b["T"]
    inputs = torch.tensor(b["inputs"]).view(B, T)
    targets = torch.tensor(b["targets"]).view(B, T)
    weights = torch.tensor(b["weights"], dtype=torch.float32)
    logits = forward(cfg, p, inputs)
    keep = targets >= 0
    ce = torch.nn.functional.cross_entropy(logits.reshape(B * T, -1), targets.clamp(min=0).reshape(-1), reduction="none").view(B, T)
    ce = ce * keep
    losses = ce.sum(1) / keep.sum(1).clamp(min=1)
    (losses * weights).sum().backward()
    out = {"logits": logits, "losses": losses}
    for name, t in p.items():
        out["grad." + name] = t.grad
    write_safetensors(out_path, out)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
