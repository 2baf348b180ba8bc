#!/usr/bin/python3
"""A minimal safetensors reader using only Python's standard library. Prints, as JSON, each
tensor's dtype, shape and the SHA-256 of its bytes, plus the metadata, so tests can check that
files the Go writer produced read back in an independent implementation.

Usage: /usr/bin/python3 read_safetensors.py FILE...
"""
import hashlib
import json
import struct
import sys

SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4,
         "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    out = {}
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        numel = 1
        for d in info["shape"]:
            numel *= d
        if e - b != numel * SIZES[info["dtype"]]:
            raise SystemExit("%s: tensor %s has the wrong size" % (path, name))
        if b != end:
            raise SystemExit("%s: tensor %s is not contiguous" % (path, name))
        end = e
        out[name] = {"dtype": info["dtype"], "shape": info["shape"],
                     "sha256": hashlib.sha256(data[b:e]).hexdigest()}
    if end != len(data):
        raise SystemExit("%s: %d trailing bytes" % (path, len(data) - end))
    return {"metadata": meta, "tensors": out, "header_len": n}


if __name__ == "__main__":
    print(json.dumps({p: read(p) for p in sys.argv[1:]}, indent=1, sort_keys=True))
