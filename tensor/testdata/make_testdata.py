#!/usr/bin/python3
"""Writes safetensors files laid out as Hugging Face's safetensors library writes them, using
only Python's standard library, so the Go reader is checked against an independent writer.

Layout rules followed (from the format's specification and reference implementation): an
8-byte little-endian header length; a compact JSON header with "__metadata__" first and the
tensors in data order; tensors sorted by dtype (larger element types first, in the reference
enum order) and then by name; the header padded with spaces to a multiple of 8 bytes.

Run: /usr/bin/python3 tensor/testdata/make_testdata.py tensor/testdata
"""
import array
import json
import math
import os
import struct
import sys

# The reference implementation's dtype enum order (sorting key, larger first).
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
               "I32", "U32", "F32", "F64", "I64", "U64"]


def f32_to_bf16_bits(x):
    """Round a float to bfloat16 (nearest, ties to even) and return the 16-bit pattern."""
    b = struct.unpack("<I", struct.pack("<f", x))[0]
    if (b & 0x7FFFFFFF) > 0x7F800000:
        return (b >> 16) | 0x40
    b += 0x7FFF + ((b >> 16) & 1)
    return (b >> 16) & 0xFFFF


def encode(dtype, values):
    if dtype == "F32":
        return struct.pack("<%df" % len(values), *values)
    if dtype == "F16":
        return struct.pack("<%de" % len(values), *values)  # IEEE half, round to nearest even
    if dtype == "BF16":
        return struct.pack("<%dH" % len(values), *[f32_to_bf16_bits(v) for v in values])
    if dtype == "F64":
        return struct.pack("<%dd" % len(values), *values)
    if dtype == "I64":
        return struct.pack("<%dq" % len(values), *values)
    if dtype == "I32":
        a = array.array("i", values)
        if sys.byteorder != "little":
            a.byteswap()
        return a.tobytes()
    if dtype == "U8":
        return bytes(values)
    if dtype == "BOOL":
        return bytes(1 if v else 0 for v in values)
    raise ValueError(dtype)


def save(path, tensors, metadata=None):
    """tensors: dict name -> (dtype, shape, values)."""
    items = sorted(tensors.items(), key=lambda kv: (-DTYPE_ORDER.index(kv[1][0]), kv[0]))
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name, (dtype, shape, values) in items:
        data = encode(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def seq(n, scale=1.0, shift=0.0):
    return [scale * math.sin(0.37 * i + shift) for i in range(n)]


def main(out):
    # A tiny Llama-shaped model in bf16, as a Hugging Face training run would save it.
    hidden, inter, vocab = 8, 16, 32
    llama = {
        "model.embed_tokens.weight": ("BF16", [vocab, hidden], seq(vocab * hidden, 0.02)),
        "model.norm.weight": ("BF16", [hidden], [1.0] * hidden),
        "lm_head.weight": ("BF16", [vocab, hidden], seq(vocab * hidden, 0.02, 1.0)),
    }
    for layer in range(2):
        p = "model.layers.%d." % layer
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            llama[p + "self_attn." + proj + ".weight"] = ("BF16", [hidden, hidden], seq(hidden * hidden, 0.1, layer + len(proj)))
        llama[p + "mlp.gate_proj.weight"] = ("BF16", [inter, hidden], seq(inter * hidden, 0.1, 2))
        llama[p + "mlp.up_proj.weight"] = ("BF16", [inter, hidden], seq(inter * hidden, 0.1, 3))
        llama[p + "mlp.down_proj.weight"] = ("BF16", [hidden, inter], seq(inter * hidden, 0.1, 4))
        llama[p + "input_layernorm.weight"] = ("BF16", [hidden], [1.0] * hidden)
        llama[p + "post_attention_layernorm.weight"] = ("BF16", [hidden], [1.0] * hidden)
    save(os.path.join(out, "hf_llama_bf16.safetensors"), llama, {"format": "pt"})

    # Every dtype the project reads, with edge values (subnormals, Inf, NaN, ties).
    edge = [0.0, -0.0, 1.0, -2.5, 65504.0, 1e-7, 6.1e-05, float("inf"), float("-inf"), 1.00048828125, 1.01171875, 3.0e38]
    mixed = {
        "f32": ("F32", [3, 4], edge),
        "f16": ("F16", [2, 3], [0.0, 1.0, -2.5, 65504.0, 5.960464477539063e-08, float("-inf")]),
        "bf16": ("BF16", [12], edge),
        "f64": ("F64", [2], [math.pi, -1e300]),
        "i64": ("I64", [3], [-(2 ** 62), 0, 7]),
        "i32": ("I32", [2, 2], [1, -2, 3, -4]),
        "u8": ("U8", [4], [0, 1, 128, 255]),
        "mask": ("BOOL", [3], [True, False, True]),
        "scalar": ("F32", [], [42.0]),
        "empty": ("F32", [0, 4], []),
    }
    save(os.path.join(out, "mixed_dtypes.safetensors"), mixed, {"format": "pt", "note": "edge values"})

    # No metadata and no padding needed by chance: readers must accept either.
    save(os.path.join(out, "no_metadata.safetensors"), {"x": ("F32", [2], [1.5, -1.5])})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
